//! One thread-group's share of a window: a ring of epoch-tagged buckets plus lifetime totals.

use crate::sync::{AtomicU64, Ordering};

/// Which counter an outcome increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Success,
    Failure,
    Ignored,
    Slow,
}

/// Lifetime totals, folded over stripes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) ignored: u64,
    pub(crate) slow: u64,
    /// Indexed by [`crate::error::RejectReason`].
    pub(crate) rejections: [u64; 4],
}

#[derive(Debug, Default)]
struct Counts([AtomicU64; 4]);

impl Counts {
    #[inline]
    fn get(&self, kind: Kind) -> &AtomicU64 {
        &self.0[kind as usize]
    }

    fn load(&self) -> [u64; 4] {
        [0, 1, 2, 3].map(|i| self.0[i].load(Ordering::Relaxed))
    }
}

#[derive(Debug, Default)]
struct Bucket {
    epoch: AtomicU64,
    counts: Counts,
}

#[derive(Debug)]
pub(crate) struct Stripe {
    buckets: Box<[Bucket]>,
    retired: Counts,
    rejections: [AtomicU64; 4],
}

impl Stripe {
    pub(crate) fn new(buckets: u32) -> Self {
        Self {
            buckets: (0..buckets.max(1)).map(|_| Bucket::default()).collect(),
            retired: Counts::default(),
            rejections: Default::default(),
        }
    }

    fn bucket(&self, epoch: u64, ring: u32) -> &Bucket {
        &self.buckets[(epoch % u64::from(ring.max(1))) as usize % self.buckets.len()]
    }

    /// Counts `kind` for `epoch`. Returns `false` if another thread raced on the same counter
    /// (the count still landed; the caller may spread out).
    #[inline]
    pub(crate) fn add(&self, epoch: u64, ring: u32, kind: Kind) -> bool {
        let bucket = self.bucket(epoch, ring);
        loop {
            let seen = bucket.epoch.load(Ordering::Acquire);
            if seen == epoch {
                return bump(bucket.counts.get(kind));
            }
            if seen > epoch {
                // This reading is older than the bucket's: it is outside the window already.
                self.retired.get(kind).fetch_add(1, Ordering::Relaxed);
                return true;
            }
            if bucket
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // We claimed the bucket for the new epoch: move its old counts to the totals.
                // A racer that already counted for the new epoch lands in `retired` too, so
                // the totals stay exact and the window is off by at most that racer.
                self.retire_bucket(bucket);
                return bump(bucket.counts.get(kind));
            }
        }
    }

    pub(crate) fn add_retired(&self, kind: Kind) {
        self.retired.get(kind).fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn reject(&self, reason: usize) {
        self.rejections[reason % 4].fetch_add(1, Ordering::Relaxed);
    }

    fn retire_bucket(&self, bucket: &Bucket) {
        for i in 0..4 {
            let old = bucket.counts.0[i].swap(0, Ordering::AcqRel);
            if old != 0 {
                self.retired.0[i].fetch_add(old, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn retire_all(&self) {
        for bucket in self.buckets.iter() {
            self.retire_bucket(bucket);
        }
    }

    /// Hands each in-window bucket's counts (`[successes, failures, ignored, slow]`) to
    /// `visit` with its age in buckets (0 = current).
    pub(crate) fn fold_into(&self, epoch: u64, ring: u32, visit: &mut dyn FnMut(u64, [u64; 4])) {
        for bucket in self.buckets.iter() {
            let seen = bucket.epoch.load(Ordering::Acquire);
            let Some(age) = epoch.checked_sub(seen) else {
                continue;
            };
            if age >= u64::from(ring) {
                continue;
            }
            visit(age, bucket.counts.load());
        }
    }

    pub(crate) fn total_into(&self, t: &mut Tally) {
        let retired = self.retired.load();
        let mut sum = retired;
        for bucket in self.buckets.iter() {
            for (s, v) in sum.iter_mut().zip(bucket.counts.load()) {
                *s += v;
            }
        }
        t.successes += sum[Kind::Success as usize];
        t.failures += sum[Kind::Failure as usize];
        t.ignored += sum[Kind::Ignored as usize];
        t.slow += sum[Kind::Slow as usize];
        for (r, a) in t.rejections.iter_mut().zip(&self.rejections) {
            *r += a.load(Ordering::Relaxed);
        }
    }
}

/// Increments with a load + CAS instead of `fetch_add`, so that a collision with another
/// thread is *seen* (the CAS fails) and the window can add stripes. The count always lands.
#[inline]
fn bump(counter: &AtomicU64) -> bool {
    let v = counter.load(Ordering::Relaxed);
    if counter
        .compare_exchange(v, v.wrapping_add(1), Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        true
    } else {
        counter.fetch_add(1, Ordering::Relaxed);
        false
    }
}
