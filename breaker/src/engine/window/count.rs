//! The count window ([`SampleWeighting::Count`](crate::SampleWeighting::Count)): the outcomes
//! of the last `window_calls` calls, in striped rings written without locks and without a
//! clock.
//!
//! # Writing
//!
//! Each stripe (one to start with, more when two threads collide on a cursor, as in the time
//! window) is a ring of one byte per outcome (`0` empty, `1` success, `2` failure, `|4` slow)
//! with a cursor and running counts of what the ring holds (calls, failures, slow calls). A
//! writer takes the next index from its stripe's cursor (an uncontended CAS on the stripe's
//! own line), loads the byte it lands on and, only if the byte changes, swaps it and adjusts
//! the running counts by the difference. A success over a success (the common case once the
//! ring is full) is therefore one CAS and one load; no write is shared between stripes.
//!
//! # What "the last `window_calls`" means
//!
//! Each stripe keeps the last `window_calls` outcomes recorded *on it*, and the window is the
//! union of the stripes. With one stripe (any breaker used by one thread at a time) that is
//! exactly the last `window_calls` outcomes. With `s` stripes the window holds at least the
//! last `window_calls` outcomes overall (each of them is among the last `window_calls` of
//! its stripe) and at most `s × window_calls`; the rates are those of the whole union, and
//! `calls` (what `min_calls` compares) counts the union. A stripe that stopped being written
//! keeps its outcomes until the episode ends, as a count window keeps old outcomes however
//! old they are.
//!
//! # Episodes and reloads
//!
//! The geometry word carries the episode (the low 32 bits of the generation, as the failure
//! run does). A transition, under the breaker's transition lock and before the new state is
//! published, writes the new episode into the word and then empties every ring: an outcome
//! of the finished episode is refused by the word (it counts in the totals only), and a writer
//! that read the old word just before is caught by its re-check (below). A reload that
//! changes `window_calls` does the same with the new length (on a bigger ring if needed,
//! allocated by the reload): the window starts empty, the totals and the failure run are
//! kept. A reload that keeps `window_calls` keeps the window.
//!
//! A writer whose byte changed reads the geometry word again after its swap, with a
//! read-modify-write that changes nothing (`fetch_add(0)`, `AcqRel`); the reset writes the word
//! with a compare-and-swap before it looks at the bytes. Both are read-modify-writes of one
//! word, so one comes first in its modification order: if the writer's, the reset reads from it
//! and so sees the writer's byte, which it empties; if the reset's, the writer sees the new word
//! and takes its byte back out. Either way no outcome of a finished episode or layout stays in
//! the window (bar one racing writer of the new layout that landed on the same byte with the
//! same outcome, which then counts once less). This holds without a single total order of
//! `SeqCst` operations, which loom does not model (the loom model
//! `count_window_reset_races_a_record` found a plain `SeqCst` re-load insufficient there). Only
//! an outcome that changes its byte pays the read-modify-write: a success over a success does
//! not.
//!
//! # Totals
//!
//! The cursor counts every outcome a stripe put in a ring, and `failures`/`slow` count those
//! kinds; a failure is counted before its cursor moves (`Release`, read with `Acquire`), so
//! `successes = cursor − failures` is never above what was recorded. Ignored calls and
//! outcomes of finished episodes go to the time window's totals (no clock read either).
//!
//! # Memory
//!
//! Only a breaker configured with `sample_weighting = count` has one: a 40 B window plus
//! per live stripe 128 B and `capacity` bytes of ring (rounded up by the allocator). Rings
//! grow by levels of at least twice the largest so far, allocated on a reload, never by a call.

use crate::engine::loom_shim::{AtomicU64, AtomicU8, OnceBox, Ordering};
use crate::engine::state::episode_tag;

use super::divide::{div_rem, reciprocal};
use super::slots::{Slot, Slots};
use super::stripe::Tally;
use super::{probe, rehash, WindowStats, MAX_STRIPES};

const SUCCESS: u8 = 1;
const FAILURE: u8 = 2;
const SLOW: u8 = 4;

/// Ring levels: level 0 plus grown ones, each at least twice the one before.
const LEVELS: usize = 16;
/// The most a ring holds (the config's maximum of `window_calls`).
const MAX_CAPACITY: u32 = crate::config::MAX_WINDOW_CALLS as u32;

/// How one outcome is kept in a ring byte.
#[inline]
pub(crate) const fn outcome(failure: bool, slow: bool) -> u8 {
    (if failure { FAILURE } else { SUCCESS }) | if slow { SLOW } else { 0 }
}

/// `episode:32 | calls-1:14 | level:4 | stripes_log2:3 | active:1` (low to high).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry(u64);

impl Geometry {
    const STRIPES_SHIFT: u32 = 50;
    const STRIPES_MASK: u64 = 7 << Self::STRIPES_SHIFT;

    fn new(episode: u32, calls: u32, level: usize, stripes_log2: u32, active: bool) -> Self {
        let calls = u64::from(calls.clamp(1, MAX_CAPACITY) - 1);
        Self(
            u64::from(episode)
                | (calls << 32)
                | ((level as u64 & 15) << 46)
                | ((u64::from(stripes_log2) & 7) << Self::STRIPES_SHIFT)
                | (u64::from(active) << 53),
        )
    }

    #[inline]
    fn episode(self) -> u32 {
        self.0 as u32
    }

    #[inline]
    fn calls(self) -> u64 {
        ((self.0 >> 32) & 0x3fff) + 1
    }

    #[inline]
    fn level(self) -> usize {
        ((self.0 >> 46) & 15) as usize
    }

    #[inline]
    fn stripes_log2(self) -> u32 {
        ((self.0 >> Self::STRIPES_SHIFT) & 7) as u32
    }

    #[inline]
    fn active(self) -> bool {
        self.0 >> 53 & 1 == 1
    }

    /// The word without its stripe count, which grows on contention and changes nothing a
    /// writer has done.
    #[inline]
    fn layout(self) -> u64 {
        self.0 & !Self::STRIPES_MASK
    }

    fn with_stripes_log2(self, log2: u32) -> Self {
        Self((self.0 & !Self::STRIPES_MASK) | ((u64::from(log2) & 7) << Self::STRIPES_SHIFT))
    }
}

/// One stripe's ring and counts.
#[derive(Debug)]
struct Ring {
    /// Outcomes this stripe ever put in a ring (the next index).
    cursor: AtomicU64,
    /// Lifetime failures and slow calls put in a ring.
    failures: AtomicU64,
    slow: AtomicU64,
    /// What the ring holds now: `[calls, failures, slow]`. Adjusted after each byte swap, so a
    /// count may lag (or wrap below zero) while a racing writer adjusts: read as `i64`,
    /// clamped at 0.
    held: [AtomicU64; 3],
    bytes: Box<[AtomicU8]>,
}

impl Ring {
    fn new(capacity: u32) -> Self {
        Self {
            cursor: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            held: Default::default(),
            bytes: (0..capacity.max(1)).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    /// Moves the running counts from what `old` held to what `new` holds.
    #[inline]
    fn adjust(&self, old: u8, new: u8) {
        let delta = |bit: fn(u8) -> bool| i64::from(bit(new)) - i64::from(bit(old));
        for (held, d) in self.held.iter().zip([
            delta(|b| b != 0),
            delta(|b| b & FAILURE != 0),
            delta(|b| b & SLOW != 0),
        ]) {
            if d != 0 {
                held.fetch_add(d as u64, Ordering::Relaxed);
            }
        }
    }

    /// Empties every byte (after the geometry word's compare-and-swap; see the module docs).
    fn clear(&self) {
        for byte in self.bytes.iter() {
            if byte.load(Ordering::Acquire) != 0 {
                let old = byte.swap(0, Ordering::AcqRel);
                self.adjust(old, 0);
            }
        }
    }

    fn held(&self) -> [u64; 3] {
        self.held
            .each_ref()
            .map(|h| (h.load(Ordering::Relaxed) as i64).max(0) as u64)
    }
}

/// One ring size with its stripes.
struct Level {
    rings: Slots<Ring>,
    next: OnceBox<Level>,
}

impl Level {
    fn new(capacity: u32) -> Self {
        Self {
            rings: Slots::new(capacity),
            next: OnceBox::new(),
        }
    }
}

impl Slot for Ring {
    fn with_capacity(capacity: u32) -> Self {
        Ring::new(capacity)
    }
}

/// What became of an outcome handed to [`CountWindow::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// In the window (and the totals).
    Counted,
    /// The outcome's episode is over: the caller counts it in the totals only.
    Stale,
    /// The breaker is not using a count window (a reload switched it off).
    Inactive,
}

/// The count window; see the module docs.
pub(crate) struct CountWindow {
    geometry: AtomicU64,
    /// The reciprocal of the window's length, so that a cursor finds its ring slot by a
    /// multiplication (a hint `div_rem` checks: see `divide`).
    per_call: std::sync::atomic::AtomicU64,
    base: Level,
}

impl std::fmt::Debug for CountWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = Geometry(self.geometry.load(Ordering::Relaxed));
        f.debug_struct("CountWindow")
            .field("calls", &g.calls())
            .field("stripes", &(1u32 << g.stripes_log2()))
            .field("active", &g.active())
            .finish_non_exhaustive()
    }
}

impl CountWindow {
    /// An active count window of `calls` outcomes for episode `generation`.
    pub(crate) fn new(calls: u32, generation: u64) -> Self {
        let calls = calls.clamp(1, MAX_CAPACITY);
        Self {
            geometry: AtomicU64::new(Geometry::new(episode_tag(generation), calls, 0, 0, true).0),
            per_call: std::sync::atomic::AtomicU64::new(reciprocal(u64::from(calls))),
            base: Level::new(calls),
        }
    }

    #[inline(always)]
    fn level(&self, index: usize) -> &Level {
        let mut level = &self.base;
        for _ in 0..index {
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

    /// Whether the breaker judges by this window now.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        Geometry(self.geometry.load(Ordering::Relaxed)).active()
    }

    /// Puts one outcome (see [`outcome`]) of episode `generation` in this thread's ring.
    #[inline(always)]
    pub(crate) fn add(&self, generation: u64, value: u8) -> Added {
        let geometry = Geometry(self.geometry.load(Ordering::Acquire));
        if !geometry.active() {
            return Added::Inactive;
        }
        if geometry.episode() != episode_tag(generation) {
            return Added::Stale;
        }
        let level = self.level(geometry.level());
        let ring = level
            .rings
            .get(probe() as usize & ((1 << geometry.stripes_log2()) - 1));
        if value & FAILURE != 0 {
            ring.failures.fetch_add(1, Ordering::Relaxed);
        }
        if value & SLOW != 0 {
            ring.slow.fetch_add(1, Ordering::Relaxed);
        }
        // The cursor is only this stripe's: a failed CAS means another thread shares it.
        let index = ring.cursor.load(Ordering::Relaxed);
        let (index, collided) = match ring.cursor.compare_exchange(
            index,
            index.wrapping_add(1),
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => (index, false),
            Err(_) => (ring.cursor.fetch_add(1, Ordering::Release), true),
        };
        // `calls` never exceeds the level's capacity, so the index is in the ring.
        let (_, at) = div_rem(
            index,
            geometry.calls(),
            self.per_call.load(Ordering::Relaxed),
        );
        let at = at as usize;
        if let Some(byte) = ring.bytes.get(at) {
            if byte.load(Ordering::Relaxed) != value {
                self.replace(ring, byte, value, geometry);
            }
        }
        if collided {
            self.on_contention();
        }
        Added::Counted
    }

    /// The byte changes: swap it in, then make sure no reset or reload ran meanwhile.
    #[inline]
    fn replace(&self, ring: &Ring, byte: &AtomicU8, value: u8, seen: Geometry) {
        let old = byte.swap(value, Ordering::AcqRel);
        ring.adjust(old, value);
        if Geometry(self.geometry.fetch_add(0, Ordering::AcqRel)).layout() != seen.layout() {
            self.take_back(ring, byte, value);
        }
    }

    /// A reset or reload raced this write: take the byte back out, unless the reset did.
    #[cold]
    fn take_back(&self, ring: &Ring, byte: &AtomicU8, value: u8) {
        if byte
            .compare_exchange(value, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            ring.adjust(value, 0);
        }
    }

    #[cold]
    fn on_contention(&self) {
        let max = MAX_STRIPES.trailing_zeros();
        let _ = self
            .geometry
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |g| {
                let g = Geometry(g);
                (g.stripes_log2() < max).then(|| g.with_stripes_log2(g.stripes_log2() + 1).0)
            });
        rehash();
    }

    /// Starts episode `generation` with an empty window (under the transition lock, before
    /// the new state is published).
    pub(crate) fn reset(&self, generation: u64) {
        let old = self.publish(|g| {
            Geometry::new(
                episode_tag(generation),
                g.calls() as u32,
                g.level(),
                g.stripes_log2(),
                g.active(),
            )
        });
        if old.active() {
            self.clear(old.level());
        }
    }

    /// Judges by the last `calls` outcomes from now on (`calls` of `None`: switched off),
    /// for episode `generation`. Keeps the window when `calls` is what it was; otherwise the
    /// window starts empty (see the module docs). Under the transition lock.
    pub(crate) fn relayout(&self, calls: Option<u32>, generation: u64) {
        let current = Geometry(self.geometry.load(Ordering::Acquire));
        let Some(calls) = calls.map(|c| c.clamp(1, MAX_CAPACITY)) else {
            if current.active() {
                self.publish(|g| {
                    Geometry::new(
                        g.episode(),
                        g.calls() as u32,
                        g.level(),
                        g.stripes_log2(),
                        false,
                    )
                });
            }
            return;
        };
        if current.active() && current.calls() == u64::from(calls) {
            return;
        }
        let (index, level) = self.level_for(calls);
        self.per_call
            .store(reciprocal(u64::from(calls)), Ordering::Relaxed);
        self.publish(|g| {
            Geometry::new(
                episode_tag(generation),
                calls,
                index,
                g.stripes_log2(),
                true,
            )
        });
        self.clear_level(level);
    }

    /// Stores `next(current)` with a compare-and-swap (a read-modify-write: see the module
    /// docs) and returns what it replaced.
    fn publish(&self, next: impl Fn(Geometry) -> Geometry) -> Geometry {
        let mut current = Geometry(self.geometry.load(Ordering::SeqCst));
        loop {
            match self.geometry.compare_exchange_weak(
                current.0,
                next(current).0,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return current,
                Err(actual) => current = Geometry(actual),
            }
        }
    }

    fn clear(&self, level: usize) {
        self.clear_level(self.level(level));
    }

    fn clear_level(&self, level: &Level) {
        for ring in level.rings.live() {
            ring.clear();
        }
    }

    /// The smallest level holding `calls`, allocating a bigger one at the end of the chain
    /// if none does (at least twice the largest so far, at most [`MAX_CAPACITY`]).
    fn level_for(&self, calls: u32) -> (usize, &Level) {
        let mut level = &self.base;
        let mut index = 0;
        loop {
            if level.rings.capacity() >= calls || index + 1 == LEVELS {
                return (index, level);
            }
            if level.next.get().is_none() {
                let capacity = calls
                    .max(level.rings.capacity().saturating_mul(2))
                    .min(MAX_CAPACITY);
                level = level.next.get_or_init(|| Box::new(Level::new(capacity)));
            } else if let Some(next) = level.next.get() {
                level = next;
            }
            index += 1;
        }
    }

    /// The window now, if active (O(stripes): the rings keep running counts).
    #[inline]
    pub(crate) fn stats(&self) -> Option<WindowStats> {
        self.trip().map(|(stats, _)| stats)
    }

    /// The window now and its length (`window_calls`), if active: what the trip check needs.
    #[inline]
    pub(crate) fn trip(&self) -> Option<(WindowStats, u64)> {
        let geometry = Geometry(self.geometry.load(Ordering::Acquire));
        if !geometry.active() {
            return None;
        }
        let mut held = [0u64; 3];
        // Rings exist only below the stripe count, which never shrinks.
        let level = self.level(geometry.level());
        let stripes = 1usize << geometry.stripes_log2();
        for ring in level.rings.live_below(stripes) {
            for (h, r) in held.iter_mut().zip(ring.held()) {
                *h += r;
            }
        }
        let [calls, failures, slow] = held;
        // Counts read while a writer adjusts them may disagree by one: keep them consistent.
        Some((
            WindowStats::unweighted(calls, failures.min(calls), slow.min(calls)),
            geometry.calls(),
        ))
    }

    /// Adds the lifetime counts of every ring to `t` (never above what was recorded: see the
    /// module docs).
    pub(crate) fn total_into(&self, t: &mut Tally) {
        for level in self.levels() {
            for ring in level.rings.live() {
                let cursor = ring.cursor.load(Ordering::Acquire);
                let failures = ring.failures.load(Ordering::Relaxed);
                t.successes += cursor.saturating_sub(failures);
                t.failures += failures;
                t.slow += ring.slow.load(Ordering::Relaxed);
            }
        }
    }

    /// How many stripes are allocated (for memory reporting).
    pub(crate) fn stripes_in_use(&self) -> usize {
        self.levels().map(|l| l.rings.live().count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_geometry_word_round_trips() {
        let g = Geometry::new(u32::MAX, MAX_CAPACITY, 15, 6, true);
        assert_eq!(
            (
                g.episode(),
                g.calls(),
                g.level(),
                g.stripes_log2(),
                g.active()
            ),
            (u32::MAX, u64::from(MAX_CAPACITY), 15, 6, true)
        );
        let h = g.with_stripes_log2(2);
        assert_eq!(h.layout(), g.layout());
        assert_eq!(Geometry::new(0, 1, 0, 0, false).calls(), 1);
    }

    #[test]
    fn one_stripe_judges_exactly_the_last_calls() {
        let w = CountWindow::new(4, 0);
        for v in [FAILURE, FAILURE, SUCCESS, SUCCESS, SUCCESS] {
            assert_eq!(w.add(0, v), Added::Counted);
        }
        let s = w.stats().unwrap_or_default();
        assert_eq!((s.calls, s.failures), (4, 1));
        assert_eq!(w.add(1, SUCCESS), Added::Stale);
        w.reset(1);
        assert_eq!(w.stats().unwrap_or_default().calls, 0);
        let mut t = Tally::default();
        w.total_into(&mut t);
        assert_eq!((t.successes, t.failures), (3, 2));
    }

    #[test]
    fn a_reload_to_a_longer_window_grows_the_ring() {
        let w = CountWindow::new(2, 0);
        w.add(0, FAILURE);
        w.relayout(Some(5), 0);
        assert_eq!(w.stats().unwrap_or_default().calls, 0);
        for _ in 0..7 {
            w.add(0, FAILURE | SLOW);
        }
        let s = w.stats().unwrap_or_default();
        assert_eq!((s.calls, s.failures, s.slow_calls), (5, 5, 5));
        w.relayout(None, 0);
        assert!(w.stats().is_none());
        assert_eq!(w.add(0, SUCCESS), Added::Inactive);
        let capacities: Vec<u32> = w.levels().map(|l| l.rings.capacity()).collect();
        assert_eq!(capacities, [2, 5]);
    }
}
