//! One thread-group's share of a window: a ring of tagged buckets plus lifetime totals.
//!
//! A bucket's tag packs the breaker episode (low 16 bits of the state word's generation) and the
//! epoch (clock reading / bucket width) it counts for. Folding counts only buckets of the
//! current episode, so a new episode starts with an empty window without anyone clearing it,
//! and an outcome that raced a transition lands in its own (old) episode's bucket, where it
//! cannot influence the new state.

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
    /// Indexed by `crate::error::RejectReason`.
    pub(crate) rejections: [u64; 4],
}

const EPOCH_BITS: u32 = 40;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;
const EPISODE_MASK: u64 = (1 << (64 - EPOCH_BITS)) - 1;
/// How far ahead of a recorder's episode a bucket's can be and still be *newer*: the recorder
/// checked moments ago that its episode is current, so only the transitions since then can
/// separate them. Anything further is a bucket left over from long ago.
const NEWER_WINDOW: u64 = 1024;

/// `episode:24 | epoch:40`. Epochs are at least a millisecond wide (validated), so 40 bits
/// last 34 years of a registry's uptime (more with wider buckets); a bucket's tag could only
/// be mistaken for a current one after 16.7 million transitions within one bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag(u64);

impl Tag {
    pub(crate) fn new(generation: u64, epoch: u64) -> Self {
        Self(((generation & EPISODE_MASK) << EPOCH_BITS) | (epoch & EPOCH_MASK))
    }

    fn episode(self) -> u64 {
        self.0 >> EPOCH_BITS
    }

    fn epoch(self) -> u64 {
        self.0 & EPOCH_MASK
    }

    /// Whether `self` belongs to an episode that began after `other`'s (see
    /// [`NEWER_WINDOW`]).
    fn later_episode_than(self, other: Tag) -> bool {
        let ahead = self.episode().wrapping_sub(other.episode()) & EPISODE_MASK;
        ahead != 0 && ahead <= NEWER_WINDOW
    }
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
    tag: AtomicU64,
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

    fn bucket(&self, epoch: u64) -> &Bucket {
        // `buckets` is never empty; the ring length is the configured bucket count.
        &self.buckets[(epoch % self.buckets.len() as u64) as usize]
    }

    /// Counts `kind` under `tag`. Returns `false` if another thread raced on the same counter
    /// (the count still landed; the caller may spread out).
    #[inline]
    pub(crate) fn add(&self, tag: Tag, kind: Kind) -> bool {
        let bucket = self.bucket(tag.epoch());
        loop {
            let seen = Tag(bucket.tag.load(Ordering::Acquire));
            if seen == tag {
                return bump(bucket.counts.get(kind));
            }
            let older_reading = seen.episode() == tag.episode() && seen.epoch() > tag.epoch();
            if older_reading || seen.later_episode_than(tag) {
                // Outside the window already (a reading older than the bucket's), or from a
                // finished episode: it counts in the totals only.
                self.retired.get(kind).fetch_add(1, Ordering::Relaxed);
                return true;
            }
            if bucket
                .tag
                .compare_exchange(seen.0, tag.0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // We claimed the bucket: move its old counts to the totals. A racer that
                // already counted under the new tag lands in `retired` too, so the totals stay
                // exact and the window is off by at most that racer.
                self.retire_bucket(bucket);
                return bump(bucket.counts.get(kind));
            }
        }
    }

    pub(crate) fn add_retired(&self, kind: Kind) {
        self.retired.get(kind).fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a rejection; `false` on a collision, like [`add`](Self::add).
    #[inline]
    pub(crate) fn reject(&self, reason: usize) -> bool {
        bump(&self.rejections[reason % 4])
    }

    fn retire_bucket(&self, bucket: &Bucket) {
        for i in 0..4 {
            let old = bucket.counts.0[i].swap(0, Ordering::AcqRel);
            if old != 0 {
                self.retired.0[i].fetch_add(old, Ordering::Relaxed);
            }
        }
    }

    /// Empties every bucket and re-tags it `tag`, for a bucket width change (epochs change
    /// scale, so old tags would compare wrongly).
    pub(crate) fn restart(&self, tag: Tag) {
        for bucket in self.buckets.iter() {
            bucket.tag.store(tag.0, Ordering::Release);
            self.retire_bucket(bucket);
        }
    }

    /// Hands each bucket of `now`'s episode inside the window, with its counts
    /// (`[successes, failures, ignored, slow]`), to `visit` with its age in buckets
    /// (0 = current).
    pub(crate) fn fold_into(&self, now: Tag, visit: &mut dyn FnMut(u64, [u64; 4])) {
        let ring = self.buckets.len() as u64;
        for bucket in self.buckets.iter() {
            let seen = Tag(bucket.tag.load(Ordering::Acquire));
            if seen.episode() != now.episode() {
                continue;
            }
            match now.epoch().checked_sub(seen.epoch()) {
                Some(age) if age < ring => visit(age, bucket.counts.load()),
                _ => {}
            }
        }
    }

    pub(crate) fn total_into(&self, t: &mut Tally) {
        let mut sum = self.retired.load();
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
