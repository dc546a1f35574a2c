//! The rolling window: rings of time buckets per stripe, written without locks, whose
//! geometry (`rolling_window`, `window_buckets`) can change live without losing a count.
//!
//! # Writing
//!
//! Every thread writes to its own stripe (LongAdder-style: one stripe to start with, more only
//! when two threads collide on a counter), so many threads hammering one breaker do not all
//! write the same cache line. Each bucket is tagged with the *era* it counts for (the breaker's
//! generation plus the number of geometry changes) and the epoch (clock reading / bucket
//! width) of its time slot; the first writer to see a newer tag claims the bucket with a CAS
//! and moves its old counts into the stripe's `retired` totals, so lifetime totals never lose a
//! count even though the window forgets. See `stripe.rs` for the tag and why it never wraps.
//!
//! A writer reads one word, the [`Geometry`] (layout number, bucket count, ring level, stripe
//! count), and the bucket width of its ring level, which carries the layout's low bits so a
//! writer that read the two across a reload can tell: its outcome then counts in the totals
//! only. That is the two loads a fixed geometry needed (the width and the stripe count, which
//! the geometry word now holds), plus one pointer per ring level above the first.
//!
//! # Reading
//!
//! Lifetime totals are `retired + buckets`, read in that order. Counts only move from a
//! bucket to `retired` (emptied first, added with `Release` after), so a read can miss a
//! count being moved but never see it twice: it is never above what was recorded. Each
//! window keeps a high-water mark of what it reported (`fetch_max` at read time, nothing on
//! the call path), so a read is never below an earlier one either: every counter a snapshot
//! or `/metrics` shows only ever goes up. (Rejections are never moved, so each of their
//! counters only grows by itself.)
//!
//! # Changing the geometry
//!
//! A reload that changes the bucket width or count ([`Window::relayout`], under the breaker's
//! transition lock; writers never take it) starts a new layout:
//!
//! - Each bucket of the old window (current era, inside the window, not older than the
//!   episode) is re-bucketed by age: an old bucket covering `[x·w, (x+1)·w)` on the breaker's
//!   timeline puts its counts in the new bucket that contains its midpoint `x·w + w/2`, or in
//!   the current new bucket if that midpoint is still ahead, and never in one before the
//!   bucket the episode began in. Counts whose new bucket is outside the new window leave the
//!   window (they stay in the totals). The re-bucketed counts are a *copy*, kept beside the
//!   ring in a "carried" set per ring level and read by the fold with the buckets: the old
//!   buckets keep their counts until a writer reclaims them, so the totals never see a move.
//!   Only reloads write a carried set, each entry as a seqlock, so a fold that meets an entry
//!   being rewritten skips it rather than read half of it.
//! - The new layout may need a bigger ring. Rings grow by levels of at least twice the
//!   capacity of the largest so far (at least 16 buckets, at most 1024), allocated on the
//!   reload, never by a call; a smaller layout reuses the smallest level that fits. Old levels
//!   stay until the breaker is dropped, so all levels together hold less than twice the
//!   largest (their carried sets, allocated with a level's first geometry change, as much
//!   again). Levels form a chain from level 0, which sits inside the window: a window that
//!   never grew reads its ring as before, one that grew once reads one pointer more.
//! - Writers that raced the reload (they read the old geometry, or a mismatched width) count
//!   in the totals and perhaps the old layout's buckets, so the window may miss at most the
//!   calls recorded while the reload ran; the totals stay exact. Buckets of earlier layouts
//!   are emptied, so no bucket is left that refuses counts.
//!
//! # Memory
//!
//! A stripe is a 128 B header plus `capacity × 40 B` of buckets (the high-water mark lives in
//! the first stripe's header padding); a ring level also holds `max_stripes × 8 B` of slot
//! pointers. A window is 72 B inside the breaker plus its level-0 slots; a component only ever
//! touched by one thread at a time keeps one stripe. A geometry change adds, on the level it
//! moves to, a carried set of `capacity × 40 B` (once), and a new level if the ring grows.

mod cache;
mod count;
mod divide;
mod slots;
mod stripe;
mod weighting;

use std::cell::Cell;
// Hints checked by `div_rem`: see `divide`'s module docs for why they are std atomics.
use std::sync::atomic::AtomicU64 as Hint;

use crate::engine::loom_shim::{AtomicU64, OnceBox, Ordering};
pub(crate) use cache::FoldCache;
pub(crate) use count::{outcome, Added, CountWindow};
use divide::{div_rem, reciprocal};
use slots::{Slot, Slots, MAX_STRIPES};
use stripe::{era, Bucket, Stripe, Tag};
pub(crate) use stripe::{Kind, Tally};
use weighting::Fold;
pub use weighting::{Exponential, Sliding, WindowStats, WindowStrategy};

/// The largest ring a level gets (the config allows 1,000 buckets).
const MAX_RING: u32 = 1024;
/// The smallest grown ring: below it, doubling would take many levels for little memory.
const MIN_GROWN_RING: u32 = 16;
/// Levels beyond level 0: each at least doubles the largest before it, from at least 16 up
/// to 1024 buckets, so seven always suffice (16 × 2^6 = 1024).
const GROWN_LEVELS: usize = 7;
/// How often a fold looks again for a geometry and a width of the same layout.
const FOLD_ATTEMPTS: usize = 4;

thread_local! {
    /// This thread's stripe hint: 0 (the first stripe) until the thread first collides with
    /// another on a counter, then seeded from a global counter so threads spread out, and
    /// moved (xorshift) on every collision after. A constant initializer, so reading it is
    /// one load with no "initialized yet?" test on the call path.
    static PROBE: Cell<u32> = const { Cell::new(0) };
}

fn seed() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    // A Weyl sequence spreads consecutive threads over the stripe space.
    nonzero(NEXT.fetch_add(0x9E37_79B9, std::sync::atomic::Ordering::Relaxed))
}

/// xorshift must never hold 0 (it would stay 0).
fn nonzero(x: u32) -> u32 {
    if x == 0 {
        0x2545_F491
    } else {
        x
    }
}

#[inline(always)]
fn probe() -> u32 {
    PROBE.with(Cell::get)
}

fn rehash() {
    PROBE.with(|p| {
        let mut x = p.get();
        if x == 0 {
            // The first collision: every thread starts on stripe 0, so seed it apart.
            p.set(seed());
            return;
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p.set(nonzero(x));
    });
}

/// An outcome that raced a reload: in the totals only (rare, so out of line).
#[cold]
#[inline(never)]
fn retire(stripe: &Stripe, kind: Kind) {
    stripe.add_retired(kind);
}

/// Everything a writer needs to find its bucket, in one atomic word:
/// `carried:1 | stripes_log2:3 | level:3 | buckets-1:10 | layout:32` (low to high: layout
/// first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry(u64);

impl Geometry {
    const LAYOUT_MASK: u64 = (1 << 32) - 1;

    fn new(layout: u64, buckets: u32, level: usize, stripes_log2: u32, carried: bool) -> Self {
        let buckets = u64::from(buckets.clamp(1, MAX_RING) - 1);
        Self(
            (layout & Self::LAYOUT_MASK)
                | (buckets << 32)
                | ((level as u64 & 7) << 42)
                | ((u64::from(stripes_log2) & 7) << 45)
                | (u64::from(carried) << 48),
        )
    }

    /// How many geometry changes this window has seen (wrapping at 2^32).
    #[inline]
    fn layout(self) -> u64 {
        self.0 & Self::LAYOUT_MASK
    }

    /// `window_buckets`, at least 1.
    #[inline]
    fn buckets(self) -> u64 {
        ((self.0 >> 32) & 0x3ff) + 1
    }

    /// The ring level in use: 0 is the ring the window was created with.
    #[inline]
    fn level(self) -> usize {
        ((self.0 >> 42) & 7) as usize
    }

    #[inline]
    fn stripes_log2(self) -> u32 {
        ((self.0 >> 45) & 7) as u32
    }

    /// How many stripes are in use (a power of two); grows on contention, never shrinks.
    #[inline]
    fn stripes(self) -> usize {
        1 << self.stripes_log2()
    }

    /// Whether this layout has re-bucketed counts in its level's carried set.
    #[inline]
    fn carried(self) -> bool {
        self.0 >> 48 & 1 == 1
    }

    fn with_stripes_log2(self, log2: u32) -> Self {
        Self((self.0 & !(7 << 45)) | ((u64::from(log2) & 7) << 45))
    }
}

/// A level's bucket width with the low bits of the layout it was set for: `width:55 |
/// layout:9`. 55 bits hold the widest valid bucket (365 days); a writer compares the 9 bits
/// with the geometry word it read, so a width and a geometry read across a reload (the only
/// way they can disagree) are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Width(u64);

impl Width {
    const CHECK_BITS: u32 = 9;
    const CHECK_MASK: u64 = (1 << Self::CHECK_BITS) - 1;
    const MAX: u64 = (1 << (64 - Self::CHECK_BITS)) - 1;

    fn new(nanos: u64, layout: u64) -> Self {
        Self((nanos.clamp(1, Self::MAX) << Self::CHECK_BITS) | (layout & Self::CHECK_MASK))
    }

    /// The width in nanoseconds, whatever its layout.
    fn nanos(self) -> u64 {
        (self.0 >> Self::CHECK_BITS).max(1)
    }

    /// The width in nanoseconds, if it belongs to `geometry`'s layout.
    #[inline(always)]
    fn for_layout(self, geometry: Geometry) -> Option<u64> {
        (self.0 & Self::CHECK_MASK == geometry.layout() & Self::CHECK_MASK)
            .then(|| (self.0 >> Self::CHECK_BITS).max(1))
    }
}

/// One ring size: its stripes, its bucket width while in use, its carried set, and the next
/// (bigger) level if the window ever grew past this one. Level 0 sits inside the window; the
/// others hang off it as a chain, so a window that never grew pays nothing for them.
struct Level {
    width: AtomicU64,
    stripes: Slots<Stripe>,
    carried: OnceBox<Carried>,
    next: OnceBox<Level>,
}

/// The re-bucketed counts of the last layout that moved to a level, one entry per age,
/// tagged like buckets. Only reloads write them, each entry as a small seqlock (see
/// [`Bucket::publish`]), so a fold reading one that the next reload is rewriting skips it.
struct Carried(Box<[Bucket]>);

impl Carried {
    fn new(capacity: u32) -> Self {
        Self((0..capacity).map(|_| Bucket::empty()).collect())
    }
}

impl Level {
    fn new(capacity: u32, width: Width) -> Self {
        Self {
            width: AtomicU64::new(width.0),
            stripes: Slots::new(capacity),
            carried: OnceBox::new(),
            next: OnceBox::new(),
        }
    }
}

impl Slot for Stripe {
    fn with_capacity(capacity: u32) -> Self {
        Stripe::new(capacity)
    }
}

/// Which buckets a fold (or a re-bucketing) counts: those of `era`, at most `buckets - 1`
/// epochs old, and not older than the bucket the episode began in.
#[derive(Debug, Clone, Copy)]
struct Span {
    era: u64,
    width: u64,
    buckets: u64,
    now: u64,
    first: u64,
}

impl Span {
    /// The span of `geometry`'s layout, `width` nanoseconds a bucket, in `generation`.
    fn of(
        geometry: Geometry,
        width: u64,
        generation: u64,
        now_nanos: u64,
        since_nanos: u64,
    ) -> Self {
        let era = era(generation, geometry.layout());
        Self::new(width, geometry.buckets(), era, now_nanos, since_nanos)
    }

    fn new(width: u64, buckets: u64, era: u64, now_nanos: u64, since_nanos: u64) -> Self {
        let now = now_nanos / width;
        Self {
            era,
            width,
            buckets,
            now,
            first: (since_nanos / width).min(now),
        }
    }

    /// The bucket's age in epochs, if it is in the window.
    #[inline]
    fn age(&self, tag: Tag) -> Option<u64> {
        let epoch = tag.epoch();
        (tag.era() == self.era && epoch <= self.now && epoch >= self.first)
            .then(|| self.now - epoch)
            .filter(|age| *age < self.buckets)
    }

    /// Where the counts of the old bucket `epoch` of width `width` go in this span: the bucket
    /// holding its midpoint, no later than now and no earlier than the episode's first.
    fn place(&self, epoch: u64, width: u64) -> Option<u64> {
        let midpoint = u128::from(epoch) * u128::from(width) + u128::from(width / 2);
        let slot = u64::try_from(midpoint / u128::from(self.width)).unwrap_or(u64::MAX);
        let slot = slot.clamp(self.first, self.now);
        let age = self.now - slot;
        (age < self.buckets).then_some(age)
    }
}

pub(crate) struct Window {
    geometry: AtomicU64,
    /// The reciprocals of the current layout's bucket width and bucket count, so that
    /// placing an outcome multiplies instead of dividing (see `divide`).
    reciprocals: [Hint; 2],
    base: Level,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = Geometry(self.geometry.load(Ordering::Relaxed));
        f.debug_struct("Window")
            .field("layout", &g.layout())
            .field("buckets", &g.buckets())
            .field("level", &g.level())
            .field("stripes", &g.stripes())
            .finish_non_exhaustive()
    }
}

impl Window {
    pub(crate) fn new(buckets: u32, bucket_nanos: u64) -> Self {
        let buckets = buckets.clamp(1, MAX_RING);
        let width = Width::new(bucket_nanos, 0);
        Self {
            geometry: AtomicU64::new(Geometry::new(0, buckets, 0, 0, false).0),
            reciprocals: [
                Hint::new(reciprocal(width.nanos())),
                Hint::new(reciprocal(u64::from(buckets))),
            ],
            base: Level::new(buckets, width),
        }
    }

    /// Level `index` of the chain: level 0 costs nothing, each further level one pointer.
    #[inline(always)]
    fn level(&self, index: usize) -> &Level {
        let mut level = &self.base;
        for _ in 0..index {
            // A geometry word only names a level after the level is set, so `get` finds it;
            // stopping short is a safe answer if it ever did not (the width check then fails).
            match level.next.get() {
                Some(next) => level = next,
                None => break,
            }
        }
        level
    }

    fn levels(&self) -> impl Iterator<Item = &Level> {
        std::iter::successors(Some(&self.base), |l| l.next.get())
    }

    /// Counts one outcome of episode `generation` in the bucket for `now_nanos`. Lock-free;
    /// the common case is a load of the geometry, of the width, of the bucket's tag and one
    /// CAS on this thread's stripe.
    #[inline(always)]
    pub(crate) fn add(&self, now_nanos: u64, generation: u64, kind: Kind) {
        let geometry = Geometry(self.geometry.load(Ordering::Acquire));
        let level = self.level(geometry.level());
        let stripe = level
            .stripes
            .get(probe() as usize & (geometry.stripes() - 1));
        let Some(width) = Width(level.width.load(Ordering::Relaxed)).for_layout(geometry) else {
            // A reload is changing the geometry under us: totals only.
            return retire(stripe, kind);
        };
        let (epoch, index) = self.place(now_nanos, width, geometry);
        let tag = Tag::new(era(generation, geometry.layout()), epoch);
        let relaid =
            || Geometry(self.geometry.load(Ordering::Acquire)).layout() != geometry.layout();
        if !stripe.add(tag, index, kind, relaid) {
            self.on_contention();
        }
    }

    /// The epoch of `now_nanos` in buckets of `width`, and its bucket in `geometry`'s ring.
    #[inline(always)]
    fn place(&self, now_nanos: u64, width: u64, geometry: Geometry) -> (u64, usize) {
        let [per_width, per_bucket] = &self.reciprocals;
        let (epoch, _) = div_rem(now_nanos, width, per_width.load(Ordering::Relaxed));
        let (_, index) = div_rem(
            epoch,
            geometry.buckets(),
            per_bucket.load(Ordering::Relaxed),
        );
        (epoch, index as usize)
    }

    /// This thread's stripe in the ring in use (for counts that skip the window).
    fn my_stripe(&self) -> &Stripe {
        let geometry = Geometry(self.geometry.load(Ordering::Relaxed));
        self.level(geometry.level())
            .stripes
            .get(probe() as usize & (geometry.stripes() - 1))
    }

    /// Counts an outcome that belongs to a finished episode: in the totals, not the window.
    pub(crate) fn add_retired(&self, kind: Kind) {
        self.my_stripe().add_retired(kind);
    }

    /// Counts a rejection (never windowed).
    #[inline]
    pub(crate) fn reject(&self, reason: usize) {
        if !self.my_stripe().reject(reason) {
            self.on_contention();
        }
    }

    /// Two threads hit the same counter: widen the stripe set (up to the cap) and move this
    /// thread elsewhere, as `LongAdder` does.
    #[cold]
    fn on_contention(&self) {
        let max = MAX_STRIPES.trailing_zeros();
        let _ = self
            .geometry
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |g| {
                let g = Geometry(g);
                (g.stripes_log2() < max).then(|| g.with_stripes_log2(g.stripes_log2() + 1).0)
            });
        rehash();
    }

    /// The window of episode `generation` (which began at `since_nanos`) at `now_nanos`,
    /// folded by `strategy` with a half-life of `half_life_nanos`. O(stripes × buckets); only
    /// the trip check and snapshots call it, and it allocates nothing. A fold that overlaps a
    /// reload sees the old geometry or the new one (minus what the reload is moving).
    pub(crate) fn stats(
        &self,
        now_nanos: u64,
        generation: u64,
        since_nanos: u64,
        strategy: &dyn WindowStrategy,
        half_life_nanos: u64,
    ) -> WindowStats {
        let mut fold = Fold::default();
        for _ in 0..FOLD_ATTEMPTS {
            let geometry = Geometry(self.geometry.load(Ordering::Acquire));
            let level = self.level(geometry.level());
            let Some(width) = Width(level.width.load(Ordering::Relaxed)).for_layout(geometry)
            else {
                // A reload is between setting the new width and publishing its geometry: a
                // few instructions. Look again.
                std::hint::spin_loop();
                continue;
            };
            let span = Span::of(geometry, width, generation, now_nanos, since_nanos);
            let half_life = half_life_nanos as f64 / width as f64;
            self.fold_level(level, geometry, &span, &mut |age, [s, f, _, slow]| {
                fold.add(strategy.weight(age, half_life), s, f, slow);
            });
            break;
        }
        fold.finish()
    }

    /// [`stats`](Self::stats) with every weight 1, for the trip check: the buckets before the
    /// current one are folded once per bucket width (and per episode, geometry and stripe
    /// count) into `cache`, so a recorded failure reads only the current bucket of each
    /// stripe. Integer sums throughout, so the rates are those of the full fold to the bit. A
    /// writer that read the clock before the bucket turned and writes after the cache was
    /// filled is missed until the next turn: at most the calls in flight at that moment, for
    /// at most one bucket width.
    #[inline]
    pub(crate) fn sliding_stats(
        &self,
        now_nanos: u64,
        generation: u64,
        since_nanos: u64,
        cache: &FoldCache,
    ) -> WindowStats {
        let geometry = Geometry(self.geometry.load(Ordering::Acquire));
        let level = self.level(geometry.level());
        let Some(width) = Width(level.width.load(Ordering::Relaxed)).for_layout(geometry) else {
            return self.stats(now_nanos, generation, since_nanos, &Sliding, 0);
        };
        let (now, index) = self.place(now_nanos, width, geometry);
        // The current bucket is never older than the episode, so its tag alone says whether
        // it counts.
        let current = Tag::new(era(generation, geometry.layout()), now);
        let key = [current.bits(), geometry.0];
        let mut sums = match cache.get(key) {
            Some(older) => older,
            None => self.fill(
                level,
                geometry,
                width,
                now_nanos,
                generation,
                since_nanos,
                cache,
            ),
        };
        let mut add = |tag: Tag, [s, f, _, slow]: [u64; 4]| {
            if tag == current {
                sums[0] += s + f;
                sums[1] += f;
                sums[2] += slow;
            }
        };
        // Stripes exist only below the stripe count, which never shrinks.
        for stripe in level.stripes.live_below(geometry.stripes()) {
            if let Some(bucket) = stripe.buckets().get(index) {
                let (tag, counts) = bucket.read();
                add(tag, counts);
            }
        }
        // A reload's carried set holds a current bucket only in its first entry.
        if geometry.carried() {
            if let Some(entry) = level.carried.get().and_then(|c| c.0.first()) {
                if let Some((tag, counts)) = entry.read_published() {
                    add(tag, counts);
                }
            }
        }
        let [calls, failures, slow] = sums;
        WindowStats::unweighted(calls, failures, slow)
    }

    /// Sums the buckets before the current one and leaves them in `cache`.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &self,
        level: &Level,
        geometry: Geometry,
        width: u64,
        now_nanos: u64,
        generation: u64,
        since_nanos: u64,
        cache: &FoldCache,
    ) -> [u64; 3] {
        let span = Span::of(geometry, width, generation, now_nanos, since_nanos);
        let mut sums = [0u64; 3];
        self.fold_level(level, geometry, &span, &mut |age, [s, f, _, slow]| {
            if age > 0 {
                sums[0] += s + f;
                sums[1] += f;
                sums[2] += slow;
            }
        });
        cache.put([Tag::new(span.era, span.now).bits(), geometry.0], sums);
        sums
    }

    /// Hands every bucket of `level` (the first `geometry.buckets()` of each stripe and of the
    /// layout's carried set) that `span` counts to `visit`, with its age.
    fn fold_level(
        &self,
        level: &Level,
        geometry: Geometry,
        span: &Span,
        visit: &mut dyn FnMut(u64, [u64; 4]),
    ) {
        let n = usize::try_from(geometry.buckets()).unwrap_or(usize::MAX);
        for stripe in level.stripes.live() {
            for bucket in stripe.buckets().iter().take(n) {
                let (tag, counts) = bucket.read();
                if let Some(age) = span.age(tag) {
                    visit(age, counts);
                }
            }
        }
        if geometry.carried() {
            if let Some(carried) = level.carried.get() {
                for entry in carried.0.iter().take(n) {
                    if let Some((tag, counts)) = entry.read_published() {
                        if let Some(age) = span.age(tag) {
                            visit(age, counts);
                        }
                    }
                }
            }
        }
    }

    /// Lifetime totals over every stripe of every level, never below what an earlier call
    /// returned (see the module docs).
    #[cfg(test)]
    pub(crate) fn totals(&self) -> Tally {
        self.totals_with(|_| {})
    }

    /// [`totals`](Self::totals) with `more` (the count window's) added before the high-water
    /// mark is applied, so the sum never goes down either.
    pub(crate) fn totals_with(&self, more: impl FnOnce(&mut Tally)) -> Tally {
        let mut t = Tally::default();
        more(&mut t);
        if t != Tally::default() {
            // Counts from elsewhere need the high-water mark even if this window never
            // counted: allocate its home (a snapshot's cost, never a call's).
            let _ = self.base.stripes.get(0);
        }
        for level in self.levels() {
            for stripe in level.stripes.live() {
                stripe.total_into(&mut t);
            }
        }
        // The high-water mark lives in the first stripe of level 0, the first one any count
        // allocates (one stripe is in use until two threads collide): without it nothing was
        // counted yet, and there is nothing to keep from going down.
        if let Some(first) = self.base.stripes.first() {
            first.keep_highest([
                &mut t.successes,
                &mut t.failures,
                &mut t.ignored,
                &mut t.slow,
            ]);
        }
        t
    }

    /// How many stripes this window has allocated (for memory reporting).
    pub(crate) fn stripes_in_use(&self) -> usize {
        self.levels().map(|l| l.stripes.live().count()).sum()
    }

    /// Puts a new bucket width and count in force, keeping the window's counts (re-bucketed
    /// by age; see the module docs). `generation` is the current episode, which began at
    /// `since_nanos`. Runs under the breaker's transition lock, so no transition and no other
    /// reload runs meanwhile; writers may. Allocates on the reload only: the re-bucketing
    /// buffer, and the carried sets and a bigger ring the first time a level needs them.
    pub(crate) fn relayout(
        &self,
        bucket_nanos: u64,
        buckets: u32,
        now_nanos: u64,
        generation: u64,
        since_nanos: u64,
    ) {
        let width = bucket_nanos.clamp(1, Width::MAX);
        let buckets = buckets.clamp(1, MAX_RING);
        let old = Geometry(self.geometry.load(Ordering::Acquire));
        let old_level = self.level(old.level());
        // This reload is the only writer of widths: the word is the old layout's.
        let old_width =
            (Width(old_level.width.load(Ordering::Acquire)).0 >> Width::CHECK_BITS).max(1);
        if old_width == width && old.buckets() == u64::from(buckets) {
            return;
        }
        let layout = old.layout().wrapping_add(1) & Geometry::LAYOUT_MASK;
        let from = Span::of(old, old_width, generation, now_nanos, since_nanos);
        let to = Span::new(
            width,
            u64::from(buckets),
            era(generation, layout),
            now_nanos,
            since_nanos,
        );

        // The old window, by new age.
        let mut by_age = vec![[0u64; 4]; buckets as usize];
        self.fold_level(old_level, old, &from, &mut |age, counts| {
            if let Some(slot) = to.place(from.now - age, old_width) {
                if let Some(sum) = by_age.get_mut(slot as usize) {
                    for (s, c) in sum.iter_mut().zip(counts) {
                        *s += c;
                    }
                }
            }
        });

        // The high-water mark lives in level 0's first stripe, which the first count
        // allocates; a window that changes geometry before any call would count on another
        // level without it.
        let _ = self.base.stripes.get(0);
        let (index, level) = self.level_for(buckets);
        let carried = level
            .carried
            .get_or_init(|| Box::new(Carried::new(level.stripes.capacity())));
        for (age, entry) in carried.0.iter().enumerate() {
            match by_age.get(age) {
                Some(counts) if counts.iter().any(|c| *c != 0) => {
                    entry.publish(Tag::new(to.era, to.now - age as u64), *counts);
                }
                _ => entry.publish(Tag::EMPTY, [0; 4]),
            }
        }
        let new_width = Width::new(width, layout);
        level.width.store(new_width.0, Ordering::Release);
        let [per_width, per_bucket] = &self.reciprocals;
        per_width.store(reciprocal(new_width.nanos()), Ordering::Relaxed);
        per_bucket.store(reciprocal(u64::from(buckets)), Ordering::Relaxed);
        let _ = self
            .geometry
            .fetch_update(Ordering::Release, Ordering::Relaxed, |g| {
                let stripes = Geometry(g).stripes_log2();
                Some(Geometry::new(layout, buckets, index, stripes, true).0)
            });
        // Buckets of earlier layouts on this level hold counts that are carried or out of the
        // window: empty them, so no old tag is left for a later era to misread.
        for stripe in level.stripes.live() {
            stripe.empty_all_but(to.era);
        }
    }

    /// The smallest level whose ring holds `buckets`, allocating one at the end of the chain
    /// if none does (at least twice the largest so far, at least [`MIN_GROWN_RING`], at most
    /// [`MAX_RING`]; the last possible level holds [`MAX_RING`]).
    fn level_for(&self, buckets: u32) -> (usize, &Level) {
        let mut level = &self.base;
        let mut index = 0;
        loop {
            if level.stripes.capacity() >= buckets || index == GROWN_LEVELS {
                // The last possible level holds MAX_RING buckets, every valid count.
                return (index, level);
            }
            let capacity = if index + 1 == GROWN_LEVELS {
                MAX_RING
            } else {
                buckets
                    .max(level.stripes.capacity().saturating_mul(2))
                    .clamp(MIN_GROWN_RING, MAX_RING)
            };
            level = level
                .next
                .get_or_init(|| Box::new(Level::new(capacity, Width::new(1, 0))));
            index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_geometry_word_round_trips() {
        let g = Geometry::new(u64::from(u32::MAX), 1000, 7, 6, true);
        assert_eq!(
            (g.layout(), g.buckets(), g.level(), g.stripes(), g.carried()),
            (u64::from(u32::MAX), 1000, 7, 64, true)
        );
        let g = g.with_stripes_log2(2);
        assert_eq!((g.stripes(), g.buckets(), g.level()), (4, 1000, 7));
        assert_eq!(Geometry::new(3, 1, 0, 0, false).buckets(), 1);
    }

    #[test]
    fn a_width_from_another_layout_is_refused() {
        let year = 365 * 24 * 3600 * 1_000_000_000u64;
        let w = Width::new(year, 513);
        assert_eq!(w.for_layout(Geometry::new(513, 1, 0, 0, false)), Some(year));
        assert_eq!(w.for_layout(Geometry::new(514, 1, 0, 0, false)), None);
    }

    #[test]
    fn rings_grow_by_doubling_and_stay_under_twice_the_largest() {
        let w = Window::new(1, 1_000_000);
        for buckets in [2, 17, 40, 33, 1000, 700, 1, 1000] {
            let (index, level) = w.level_for(buckets);
            assert!(level.stripes.capacity() >= buckets);
            assert!(std::ptr::eq(w.level(index), level));
        }
        let capacities: Vec<u32> = w.levels().map(|l| l.stripes.capacity()).collect();
        assert_eq!(capacities, [1, 16, 32, 64, 1000]);
        let total: u32 = capacities.iter().sum();
        assert!(
            total < 2 * 1000,
            "{total} buckets of rings for a largest of 1000"
        );
    }

    #[test]
    fn the_chain_never_outgrows_its_levels() {
        let w = Window::new(1, 1_000_000);
        for buckets in 1..=MAX_RING {
            let (index, level) = w.level_for(buckets);
            assert!(index <= GROWN_LEVELS, "{buckets}");
            assert!(level.stripes.capacity() >= buckets, "{buckets}");
        }
        assert!(w.levels().count() <= GROWN_LEVELS + 1);
    }

    #[test]
    fn the_high_water_mark_exists_before_a_grown_window_counts() {
        let w = Window::new(2, 1_000_000);
        w.relayout(1_000_000, 100, 0, 0, 0);
        assert!(w.base.stripes.first().is_some());
        w.add(0, 0, Kind::Success);
        assert_eq!(w.totals().successes, 1);
        assert_eq!(
            w.stripes_in_use(),
            2,
            "level 0's first stripe and level 1's"
        );
    }

    /// The trip check's cached fold agrees with a full fold through bucket turns, episodes,
    /// stripe growth and geometry changes (one thread: no writer is late).
    #[test]
    fn the_cached_fold_equals_the_full_fold() {
        let w = Window::new(4, 1_000);
        let cache = FoldCache::default();
        let mut x = 0x2545_F491u64;
        let (mut now, mut generation, mut since) = (0u64, 0u64, 0u64);
        for step in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 100 {
                0..=59 => w.add(now, generation, Kind::Success),
                60..=84 => w.add(now, generation, Kind::Failure),
                85..=89 => w.add(now, generation, Kind::Slow),
                90..=96 => now += x % 1_500,
                97 => {
                    generation += 1;
                    since = now;
                }
                98 => w.on_contention(),
                _ => w.relayout(
                    500 + (x >> 8) % 2_000,
                    1 + (x >> 20) as u32 % 8,
                    now,
                    generation,
                    since,
                ),
            }
            let full = w.stats(now, generation, since, &Sliding, 0);
            let cached = w.sliding_stats(now, generation, since, &cache);
            assert_eq!(full, cached, "step {step}");
        }
    }

    /// The window's share of the breaker's four cache lines (see the engine's
    /// `the_breaker_fits_four_cache_lines`): its levels beyond the first, its carried sets and
    /// its high-water mark live outside it.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_window_keeps_the_breaker_in_four_cache_lines() {
        assert_eq!(std::mem::size_of::<Window>(), 72);
    }
}
