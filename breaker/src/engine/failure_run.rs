//! The failure run: failures in a row, in one `AtomicU64` tagged with the episode they were
//! counted in, so a new episode needs no reset.

use super::state::episode_tag;

/// `episode:32 | count:32`: failures in a row, and the episode (the low 32 bits of the
/// generation, [`episode_tag`]) they belong to. A run of another episode reads as 0, so a new
/// episode starts with no run without anyone clearing it, and a failure that raced a
/// transition cannot lengthen the new episode's run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FailureRun(pub(super) u64);

impl FailureRun {
    /// No failure yet, in the first episode.
    pub(super) const NONE: Self = Self(0);

    /// An empty run of `generation`'s episode.
    pub(super) const fn empty(generation: u64) -> Self {
        Self((episode_tag(generation) as u64) << 32)
    }

    const fn episode(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Failures in a row, in whichever episode this run belongs to.
    pub(super) const fn count(self) -> u32 {
        self.0 as u32
    }

    /// Failures in a row in `generation`'s episode: 0 if this run is another episode's.
    pub(super) const fn in_episode(self, generation: u64) -> u32 {
        if self.episode() == episode_tag(generation) {
            self.count()
        } else {
            0
        }
    }

    /// Whether this is a run of at least one failure in `generation`'s episode: what a success
    /// has to end. The count is looked at first: it is 0 on the success path, almost always.
    #[inline]
    pub(super) const fn is_running_in(self, generation: u64) -> bool {
        self.count() != 0 && self.episode() == episode_tag(generation)
    }

    /// The run after one more failure in `generation`'s episode: one longer if it is that
    /// episode's run (saturating), else a new run of one.
    pub(super) const fn extended(self, generation: u64) -> Self {
        let count = self.in_episode(generation).saturating_add(1);
        Self(Self::empty(generation).0 | count as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_counts_in_its_own_episode_only() {
        let generation = 0x1234_5678_9abc;
        let run = FailureRun::NONE.extended(generation).extended(generation);
        assert_eq!(run.in_episode(generation), 2);
        assert_eq!(run.in_episode(generation + 1), 0);
        // The tag is the low 32 bits: a generation 2^32 later shares it.
        assert_eq!(run.in_episode(generation + (1 << 32)), 2);
        // A failure of the next episode starts a new run of one.
        assert_eq!(run.extended(generation + 1).in_episode(generation + 1), 1);
        assert_eq!(FailureRun::empty(generation).in_episode(generation), 0);
        assert!(run.is_running_in(generation));
        assert!(!run.is_running_in(generation + 1));
        assert!(!FailureRun::empty(generation).is_running_in(generation));
        assert_eq!(FailureRun::NONE.in_episode(0), 0);
    }

    #[test]
    fn the_count_saturates_without_touching_the_episode() {
        let generation = 7;
        let full = FailureRun(FailureRun::empty(generation).0 | u64::from(u32::MAX));
        let next = full.extended(generation);
        assert_eq!(next.count(), u32::MAX);
        assert_eq!(next.in_episode(generation), u32::MAX);
        assert_eq!(next, full);
    }
}
