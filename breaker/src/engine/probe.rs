//! The half-open probe word: one `AtomicU64` holding the episode's generation and its probes
//! in flight, successes and failures. Every change is a single CAS, so admission can never
//! hand out more than `half_open_max_concurrent` tokens, and a token returned by a guard from
//! an older episode (different generation) is simply ignored.

use crate::config::CircuitConfig;

use super::state::{episode_tag, CircuitState};

/// `episode:32 | in_flight:10 | successes:11 | failures:11`, the episode being the low 32 bits
/// of the generation ([`episode_tag`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProbeWord(pub(crate) u64);

const IN_FLIGHT_SHIFT: u32 = 22;
const SUCCESS_SHIFT: u32 = 11;
const FIELD_MASK: u64 = (1 << 11) - 1;
const IN_FLIGHT_MASK: u64 = (1 << 10) - 1;

/// What a finished probe reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeResult {
    Success,
    Failure,
    /// Ignored, or dropped without an outcome: only the token comes back.
    Neutral,
}

impl ProbeWord {
    pub(crate) const fn fresh(generation: u64) -> Self {
        Self((episode_tag(generation) as u64) << 32)
    }

    #[inline]
    pub(crate) const fn belongs_to(self, generation: u64) -> bool {
        (self.0 >> 32) as u32 == episode_tag(generation)
    }

    pub(crate) const fn in_flight(self) -> u32 {
        ((self.0 >> IN_FLIGHT_SHIFT) & IN_FLIGHT_MASK) as u32
    }

    pub(crate) const fn successes(self) -> u32 {
        ((self.0 >> SUCCESS_SHIFT) & FIELD_MASK) as u32
    }

    pub(crate) const fn failures(self) -> u32 {
        (self.0 & FIELD_MASK) as u32
    }

    /// Where this tally leads: `Open` once more than the allowed failures failed, `Closed`
    /// once the required successes succeeded, `None` while undecided.
    pub(crate) fn verdict(self, config: &CircuitConfig) -> Option<CircuitState> {
        if self.failures() > config.half_open_allowed_failures {
            Some(CircuitState::Open)
        } else if self.successes() >= config.half_open_required_successes {
            Some(CircuitState::Closed)
        } else {
            None
        }
    }

    /// One more probe in flight, if fewer than `limit` are.
    pub(crate) const fn admit(self, limit: u32) -> Option<Self> {
        if self.in_flight() >= limit || self.in_flight() as u64 >= IN_FLIGHT_MASK {
            None
        } else {
            Some(Self(self.0 + (1 << IN_FLIGHT_SHIFT)))
        }
    }

    /// The token back, and the result tallied (saturating: the word decides at
    /// `required`/`allowed + 1`, far below the field limits).
    pub(crate) const fn finish(self, result: ProbeResult) -> Self {
        let mut w = self.0;
        if self.in_flight() > 0 {
            w -= 1 << IN_FLIGHT_SHIFT;
        }
        match result {
            ProbeResult::Success if self.successes() < FIELD_MASK as u32 => w += 1 << SUCCESS_SHIFT,
            ProbeResult::Failure if self.failures() < FIELD_MASK as u32 => w += 1,
            _ => {}
        }
        Self(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_bleed_into_each_other() {
        let mut w = ProbeWord::fresh(0xdead_beef_1234);
        assert!(w.belongs_to(0x1234_dead_beef_1234 & 0xffff_ffff_ffff));
        for _ in 0..1000 {
            w = w.admit(1000).unwrap_or(w);
        }
        assert_eq!(w.in_flight(), 1000);
        assert_eq!(w.admit(1000), None);
        for _ in 0..1000 {
            w = w.finish(ProbeResult::Success);
        }
        assert_eq!((w.in_flight(), w.successes(), w.failures()), (0, 1000, 0));
        w = w.finish(ProbeResult::Failure);
        assert_eq!((w.in_flight(), w.successes(), w.failures()), (0, 1000, 1));
        assert!(w.belongs_to(0xbeef_1234));
    }
}
