//! The rolling window: a ring of time buckets per stripe, written without locks.
//!
//! Every thread writes to its own stripe (LongAdder-style: one stripe to start with, more only
//! when two threads collide on a counter), so many threads hammering one breaker do not all
//! write the same cache line. Each bucket is tagged with the breaker episode and the epoch
//! (clock reading / bucket width) it counts for; the first writer to see a newer tag claims the
//! bucket with a CAS and moves its old counts into the stripe's `retired` totals, so lifetime
//! totals never lose a count even though the window forgets.
//!
//! Memory: a stripe is a 128 B header plus `window_buckets × 40 B` of buckets; a window also
//! holds `max_stripes × 8 B` of slot pointers. A component only ever touched by one thread at
//! a time keeps one stripe.

mod stripe;
mod weighting;

use std::cell::Cell;

use crossbeam_utils::CachePadded;
use once_cell::sync::Lazy;

use crate::sync::{AtomicU32, AtomicU64, OnceBox, Ordering};
pub(crate) use stripe::{Kind, Stripe, Tag, Tally};
use weighting::Fold;
pub use weighting::{Exponential, Sliding, WindowStats, WindowStrategy};

/// The most stripes any window grows to: the machine's parallelism rounded up to a power of
/// two, at most 64.
static MAX_STRIPES: Lazy<usize> = Lazy::new(|| {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .next_power_of_two()
        .min(64)
});

thread_local! {
    /// This thread's stripe hint. Seeded from a global counter so threads start spread out;
    /// moved (xorshift) whenever the thread collides with another on a counter.
    static PROBE: Cell<u32> = Cell::new(seed());
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

#[inline]
fn probe() -> u32 {
    PROBE.with(Cell::get)
}

fn rehash() {
    PROBE.with(|p| {
        let mut x = p.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p.set(nonzero(x));
    });
}

pub(crate) struct Window {
    buckets: u32,
    bucket_nanos: AtomicU64,
    /// How many stripes are in use (a power of two); grows on contention, never shrinks.
    width: AtomicU32,
    stripes: Box<[OnceBox<CachePadded<Stripe>>]>,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window")
            .field("buckets", &self.buckets)
            .field("bucket_nanos", &self.bucket_nanos.load(Ordering::Relaxed))
            .field("stripes", &self.width.load(Ordering::Relaxed))
            .finish()
    }
}

impl Window {
    pub(crate) fn new(buckets: u32, bucket_nanos: u64) -> Self {
        let stripes = (0..*MAX_STRIPES).map(|_| OnceBox::new()).collect();
        Self {
            buckets,
            bucket_nanos: AtomicU64::new(bucket_nanos.max(1)),
            width: AtomicU32::new(1),
            stripes,
        }
    }

    #[inline]
    pub(crate) fn epoch(&self, now_nanos: u64) -> u64 {
        now_nanos / self.bucket_nanos.load(Ordering::Relaxed)
    }

    /// A new bucket width (after a reload changed `rolling_window`): epochs change scale, so
    /// the window restarts (tagged for `generation`); lifetime totals keep every count.
    pub(crate) fn set_bucket_nanos(&self, nanos: u64, generation: u64) {
        if self.bucket_nanos.swap(nanos.max(1), Ordering::AcqRel) != nanos.max(1) {
            let tag = Tag::new(generation, 0);
            for stripe in self.live_stripes() {
                stripe.restart(tag);
            }
        }
    }

    fn stripe_at(&self, index: usize) -> &Stripe {
        // The slice has MAX_STRIPES >= 1 slots and `index` is masked to `width <= MAX_STRIPES`.
        let slot = &self.stripes[index % self.stripes.len()];
        slot.get_or_init(|| Box::new(CachePadded::new(Stripe::new(self.buckets))))
    }

    /// This thread's stripe.
    #[inline]
    fn my_stripe(&self) -> &Stripe {
        let width = self.width.load(Ordering::Relaxed) as usize;
        self.stripe_at(probe() as usize & (width - 1))
    }

    /// Counts one outcome of episode `generation` in the bucket for `now_nanos`. Lock-free;
    /// the common case is a load of the bucket's tag and one CAS on this thread's stripe.
    #[inline]
    pub(crate) fn add(&self, now_nanos: u64, generation: u64, kind: Kind) {
        let tag = Tag::new(generation, self.epoch(now_nanos));
        if !self.my_stripe().add(tag, kind) {
            self.on_contention();
        }
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
        let width = self.width.load(Ordering::Relaxed);
        if (width as usize) < self.stripes.len() {
            let _ =
                self.width
                    .compare_exchange(width, width * 2, Ordering::Relaxed, Ordering::Relaxed);
        }
        rehash();
    }

    fn live_stripes(&self) -> impl Iterator<Item = &Stripe> {
        self.stripes.iter().filter_map(|s| s.get().map(|s| &**s))
    }

    /// The window of episode `generation` at `now_nanos`, folded by `strategy`.
    /// O(stripes × buckets); only the trip check and snapshots call it, and it allocates nothing.
    pub(crate) fn stats(
        &self,
        now_nanos: u64,
        generation: u64,
        strategy: &dyn WindowStrategy,
        half_life_buckets: f64,
    ) -> WindowStats {
        let now = Tag::new(generation, self.epoch(now_nanos));
        let mut fold = Fold::default();
        for stripe in self.live_stripes() {
            stripe.fold_into(now, &mut |age, [successes, failures, _, slow]| {
                fold.add(
                    strategy.weight(age, half_life_buckets),
                    successes,
                    failures,
                    slow,
                );
            });
        }
        fold.finish()
    }

    /// Lifetime totals over every stripe.
    pub(crate) fn totals(&self) -> Tally {
        let mut t = Tally::default();
        for stripe in self.live_stripes() {
            stripe.total_into(&mut t);
        }
        t
    }

    /// How many stripes this window has allocated (for memory reporting).
    pub(crate) fn stripes_in_use(&self) -> usize {
        self.live_stripes().count()
    }
}
