//! One thread-group's share of one ring of the window: tagged buckets plus lifetime totals.
//!
//! A bucket's tag packs the *era* it counts for and the epoch (clock reading / bucket width)
//! of its time slot: `era:19 | epoch:45`.
//!
//! - The era is the breaker's generation plus the number of geometry changes so far (the low
//!   19 bits of the sum). Folding counts only buckets of the current era, so a new episode,
//!   and a new bucket width or count, starts from buckets nobody has to clear; an outcome that
//!   raced a transition or a reload lands under its own (old) era, where it cannot influence
//!   the new state. A generation and a layout count only ever grow, so a writer's era is the
//!   current one exactly when both of its halves are.
//! - The epoch is stored in full: with buckets of at least 1 ms, `u64::MAX` nanoseconds are
//!   about 1.8 × 10^13 epochs, under 2^45, so epochs never wrap, whatever the clock reads.

use crate::engine::loom_shim::{fence, AtomicU64, Ordering};

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
    /// Indexed by `crate::engine::error::RejectReason`.
    pub(crate) rejections: [u64; 4],
}

const EPOCH_BITS: u32 = 45;
const EPOCH_MASK: u64 = (1 << EPOCH_BITS) - 1;
const ERA_MASK: u64 = (1 << (64 - EPOCH_BITS)) - 1;
/// How far ahead of a writer's era a bucket's can be and still be *newer*: the writer checked
/// moments ago that its generation is current and read the layout, so only the transitions
/// and reloads since then can separate them. Anything further is a bucket left over from long
/// ago. Tags of older eras are never counted, so an era can only be mistaken for the current
/// one after 2^19 = 524,288 transitions and geometry changes, and then only for a bucket
/// written in the bucket width in which the current episode began (the fold skips buckets
/// older than the episode's start). A leftover whose era wrapped round to look *later* is
/// told apart by its older epoch ([`Tag::is_late_for`]), so it never refuses counts.
const NEWER_WINDOW: u64 = 1024;

/// `era:19 | epoch:45`; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag(u64);

impl Tag {
    /// The tag of a bucket that holds nothing: every writer claims it and no fold counts it
    /// (its epoch is past any the clock can reach). New rings and emptied buckets carry it, so
    /// no leftover tag can ever look newer than a writer's.
    pub(crate) const EMPTY: Self = Self(u64::MAX);

    pub(crate) const fn new(era: u64, epoch: u64) -> Self {
        Self(((era & ERA_MASK) << EPOCH_BITS) | (epoch & EPOCH_MASK))
    }

    pub(crate) const fn era(self) -> u64 {
        self.0 >> EPOCH_BITS
    }

    pub(crate) const fn epoch(self) -> u64 {
        self.0 & EPOCH_MASK
    }

    /// The tag as one word (the trip check's cache key).
    pub(crate) const fn bits(self) -> u64 {
        self.0
    }

    /// Whether `self` belongs to an era that began after `other`'s (see [`NEWER_WINDOW`]).
    fn later_era_than(self, other: Tag) -> bool {
        let ahead = self.era().wrapping_sub(other.era()) & ERA_MASK;
        ahead != 0 && ahead <= NEWER_WINDOW
    }

    /// Whether a writer holding `self` comes too late for a bucket tagged `seen`: the bucket
    /// has moved on to a later slot of the same era, or to a later era.
    ///
    /// A later era's bucket was written after this writer read the clock, so under the same
    /// geometry its epoch is at least this writer's. One with an earlier epoch is a leftover
    /// whose era bits merely wrapped round to look ahead (2^19 transitions without a write):
    /// claim it, unless `relaid()` says the geometry changed since this writer read it (the
    /// bucket's epoch may then be of another width, and only the era can be trusted).
    fn is_late_for(self, seen: Tag, relaid: impl FnOnce() -> bool) -> bool {
        if seen == Self::EMPTY {
            false
        } else if seen.era() == self.era() {
            seen.epoch() > self.epoch()
        } else {
            seen.later_era_than(self) && (seen.epoch() >= self.epoch() || relaid())
        }
    }
}

/// The era of `generation` under the `layout`-th geometry.
pub(crate) const fn era(generation: u64, layout: u64) -> u64 {
    generation.wrapping_add(layout) & ERA_MASK
}

#[derive(Debug, Default)]
struct Counts([AtomicU64; 4]);

impl Counts {
    #[inline]
    fn get(&self, kind: Kind) -> &AtomicU64 {
        &self.0[kind as usize]
    }
}

/// A time slot's counts (`[successes, failures, ignored, slow]`) under its tag.
#[derive(Debug)]
pub(crate) struct Bucket {
    tag: AtomicU64,
    counts: Counts,
}

impl Bucket {
    pub(crate) fn empty() -> Self {
        Self {
            tag: AtomicU64::new(Tag::EMPTY.0),
            counts: Counts::default(),
        }
    }

    /// The tag and the counts as they are now (for folds; not a consistent pair while a
    /// writer claims the bucket, which the window tolerates).
    pub(crate) fn read(&self) -> (Tag, [u64; 4]) {
        let tag = Tag(self.tag.load(Ordering::Acquire));
        (
            tag,
            [0, 1, 2, 3].map(|i| self.counts.0[i].load(Ordering::Relaxed)),
        )
    }

    /// Overwrites a carried entry (only reloads write them, one at a time): a seqlock
    /// writer, with [`Tag::EMPTY`] for "being written".
    pub(crate) fn publish(&self, tag: Tag, counts: [u64; 4]) {
        self.tag.store(Tag::EMPTY.0, Ordering::Relaxed);
        fence(Ordering::Release);
        for (c, v) in self.counts.0.iter().zip(counts) {
            c.store(v, Ordering::Relaxed);
        }
        self.tag.store(tag.0, Ordering::Release);
    }

    /// A carried entry's tag and counts, if no reload rewrote it while it was read: the
    /// counts are those published with the tag. An entry's tag never comes back once
    /// replaced (eras only advance), so equal tags mean an untouched entry.
    pub(crate) fn read_published(&self) -> Option<(Tag, [u64; 4])> {
        let (tag, counts) = self.read();
        fence(Ordering::Acquire);
        let again = Tag(self.tag.load(Ordering::Relaxed));
        (tag == again && tag != Tag::EMPTY).then_some((tag, counts))
    }
}

/// One thread-group's share of a ring: `capacity` buckets (the window uses the first
/// `window_buckets`), the counts that left them, and the rejections.
#[derive(Debug)]
pub(crate) struct Stripe {
    buckets: Box<[Bucket]>,
    /// Counts that left the buckets, and outcomes that never entered one (late writers,
    /// finished episodes). Only ever added to, with `Release`: see
    /// [`total_into`](Self::total_into).
    retired: Counts,
    rejections: [AtomicU64; 4],
    /// The highest `[successes, failures, ignored, slow]` totals the window reported, kept
    /// by its first stripe only: it fits in the stripe's cache-line padding, so it costs no
    /// memory, and snapshots write it only when a total grew.
    reported: [AtomicU64; 4],
}

impl Stripe {
    pub(crate) fn new(capacity: u32) -> Self {
        Self {
            buckets: (0..capacity.max(1)).map(|_| Bucket::empty()).collect(),
            retired: Counts::default(),
            rejections: Default::default(),
            reported: Default::default(),
        }
    }

    /// Raises each of `totals` to the highest value reported before, and records it: reads
    /// that miss a count being moved then never report less than an earlier one.
    pub(crate) fn keep_highest(&self, totals: [&mut u64; 4]) {
        for (value, mark) in totals.into_iter().zip(&self.reported) {
            let highest = mark.load(Ordering::Relaxed);
            if *value > highest {
                *value = mark.fetch_max(*value, Ordering::Relaxed).max(*value);
            } else {
                *value = highest;
            }
        }
    }

    pub(crate) fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Counts `kind` under `tag` in bucket `index`. Returns `false` if another thread raced on
    /// the same counter (the count still landed; the caller may spread out). `relaid` says
    /// whether the geometry changed since `tag` was made; it is asked only about a bucket of a
    /// later era with an earlier epoch, which is rare.
    #[inline(always)]
    pub(crate) fn add(
        &self,
        tag: Tag,
        index: usize,
        kind: Kind,
        relaid: impl Fn() -> bool,
    ) -> bool {
        let Some(bucket) = self.buckets.get(index) else {
            // The window never asks for a bucket past the ring; if it did, keep the count.
            self.add_retired(kind);
            return true;
        };
        // The common case, inlined: the bucket is already this slot's.
        if Tag(bucket.tag.load(Ordering::Acquire)) == tag {
            return bump(bucket.counts.get(kind));
        }
        self.claim(bucket, tag, kind, relaid)
    }

    /// The bucket holds another slot's tag: claim it (the first writer of a new slot), or
    /// count in the totals if this writer is late. Once per bucket width per stripe.
    #[cold]
    #[inline(never)]
    fn claim(&self, bucket: &Bucket, tag: Tag, kind: Kind, relaid: impl Fn() -> bool) -> bool {
        loop {
            let seen = Tag(bucket.tag.load(Ordering::Acquire));
            if seen == tag {
                return bump(bucket.counts.get(kind));
            }
            if tag.is_late_for(seen, &relaid) {
                // Outside the window already (a reading older than the bucket's), or from a
                // finished era: it counts in the totals only.
                self.add_retired(kind);
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

    /// Moves a claimed bucket's counts to `retired`: each counter is emptied first and added
    /// with `Release` after, so a reader that sees the addition (an `Acquire` load of
    /// `retired`) also sees the bucket emptied, and a count is never read in both places.
    fn retire_bucket(&self, bucket: &Bucket) {
        for (count, retired) in bucket.counts.0.iter().zip(&self.retired.0) {
            let old = count.swap(0, Ordering::Relaxed);
            if old != 0 {
                retired.fetch_add(old, Ordering::Release);
            }
        }
    }

    /// Empties every bucket that is not of `era` (after a geometry change; their counts are
    /// carried or out of the window), so none is left with a tag that a later era could
    /// mistake for its own. Racing writers of `era` may claim buckets meanwhile; those stay.
    pub(crate) fn empty_all_but(&self, era: u64) {
        for bucket in self.buckets.iter() {
            let mut seen = Tag(bucket.tag.load(Ordering::Acquire));
            while seen != Tag::EMPTY && seen.era() != era {
                match bucket.tag.compare_exchange(
                    seen.0,
                    Tag::EMPTY.0,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        self.retire_bucket(bucket);
                        break;
                    }
                    Err(actual) => seen = Tag(actual),
                }
            }
        }
    }

    /// Adds this stripe's lifetime counts to `t`. Reads `retired` (with `Acquire`) before the
    /// buckets: counts only move from a bucket to `retired`, so a count moved during the read
    /// is missed at worst, never read twice. The result never exceeds what was recorded; the
    /// window's high-water mark turns "missed at worst" into "never less than before".
    pub(crate) fn total_into(&self, t: &mut Tally) {
        let mut sum = [0, 1, 2, 3].map(|i| self.retired.0[i].load(Ordering::Acquire));
        for bucket in self.buckets.iter() {
            for (s, c) in sum.iter_mut().zip(&bucket.counts.0) {
                *s += c.load(Ordering::Relaxed);
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
#[inline(always)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_mark_fits_in_the_stripes_padding() {
        assert!(std::mem::size_of::<Stripe>() <= 128);
    }

    #[test]
    fn a_tag_holds_every_epoch_the_clock_can_produce() {
        // The narrowest bucket is 1 ms.
        let last = u64::MAX / 1_000_000;
        let tag = Tag::new(7, last);
        assert_eq!((tag.era(), tag.epoch()), (7, last));
        assert!(
            last < Tag::EMPTY.epoch(),
            "no epoch reaches the empty tag's"
        );
    }

    #[test]
    fn eras_compare_modulo_their_width() {
        let top = ERA_MASK;
        assert!(Tag::new(0, 0).later_era_than(Tag::new(top, 0)));
        assert!(!Tag::new(top, 0).later_era_than(Tag::new(0, 0)));
        assert!(!Tag::new(5 + NEWER_WINDOW + 1, 0).later_era_than(Tag::new(5, 0)));
        assert_eq!(era(u64::MAX, 1), 0);
    }

    #[test]
    fn every_writer_claims_an_empty_bucket() {
        for era in [0, 1, ERA_MASK] {
            assert!(!Tag::new(era, 0).is_late_for(Tag::EMPTY, || true));
            assert!(!Tag::new(era, EPOCH_MASK - 1).is_late_for(Tag::EMPTY, || true));
        }
    }

    #[test]
    fn a_later_era_is_trusted_only_with_a_later_epoch_or_a_new_geometry() {
        let writer = Tag::new(100, 50);
        // Written after the writer read the clock: later.
        assert!(writer.is_late_for(Tag::new(101, 50), || false));
        assert!(writer.is_late_for(Tag::new(101, 51), || false));
        // An older epoch under the same geometry: a leftover, claimed.
        assert!(!writer.is_late_for(Tag::new(101, 49), || false));
        // ...unless the geometry changed: epochs of two widths do not compare.
        assert!(writer.is_late_for(Tag::new(101, 49), || true));
        // Same era: a later slot only.
        assert!(writer.is_late_for(Tag::new(100, 51), || true));
        assert!(!writer.is_late_for(Tag::new(100, 49), || true));
        // Far-off eras are older.
        assert!(!writer.is_late_for(Tag::new(100 + NEWER_WINDOW + 1, 60), || true));
    }
}
