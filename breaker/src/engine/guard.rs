//! Call gating: [`Permit`], the RAII [`CallGuard`] (whose docs hold the rules it follows) and
//! the [`Outcome`] it records.

use std::sync::Arc;

use super::error::CircuitError;
use super::ComponentBreaker;

/// The answer to [`acquire`](crate::ComponentBreaker::acquire) (and to a registry's
/// [`acquire`](crate::GlobalCircuitBreaker::acquire) by name): run the call and record its outcome on the guard, or
/// don't run it.
#[derive(Debug)]
#[must_use = "a permit decides whether the call may run; dropping an Allowed one counts as a cancelled call"]
pub enum Permit<'a> {
    /// The call may run. Record its outcome on the guard (or let it drop).
    Allowed(CallGuard<'a>),
    /// The call must not run.
    Rejected(CircuitError),
}

impl<'a> Permit<'a> {
    /// `Ok(guard)` or `Err(rejection)`, for `?`.
    #[inline(always)]
    pub fn into_result(self) -> Result<CallGuard<'a>, CircuitError> {
        match self {
            Self::Allowed(guard) => Ok(guard),
            Self::Rejected(e) => Err(e),
        }
    }

    /// Whether the call may run.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed(_))
    }
}

/// How a protected call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It worked.
    Success,
    /// It failed in a way that says the dependency is unhealthy.
    Failure,
    /// Count it as neither (a 404, a validation error): only the `ignored` total grows. A
    /// half-open probe that is ignored still gives its slot back.
    Ignored,
}

/// What became of a recorded outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recorded {
    /// It counts toward the breaker's current episode.
    Counted,
    /// The breaker changed state while the call ran; the outcome is in the lifetime totals
    /// but cannot influence the new state.
    Stale,
}

/// The breaker a guard reports to: borrowed from a handle or the caller, or shared when the
/// guard came from a registry lookup by name.
#[derive(Debug)]
pub(super) enum BreakerRef<'a> {
    Borrowed(&'a ComponentBreaker),
    Shared(Arc<ComponentBreaker>),
}

impl BreakerRef<'_> {
    #[inline(always)]
    fn get(&self) -> &ComponentBreaker {
        match self {
            Self::Borrowed(b) => b,
            Self::Shared(b) => b,
        }
    }
}

/// Proof that a call was let through. Record its outcome with [`record`](Self::record); if the
/// guard is dropped instead it still gives back its half-open slot. `Send`, so it can be held
/// across `.await`.
///
/// The rules a guard follows, whatever happens to the call:
///
/// | how the call ends | what is recorded | half-open slot |
/// |---|---|---|
/// | `record(Success)` | a success (slow if it took `slow_call_threshold` or longer) | returned |
/// | `record(Failure)` | a failure | returned |
/// | `record(Ignored)` | an ignored call: counts toward nothing but the `ignored` total | returned |
/// | dropped while the thread panics | a failure | returned |
/// | dropped otherwise (a cancelled future, an early exit) | ignored, or a failure if it had already run `slow_call_threshold` | returned |
/// | recorded after the breaker changed state | counted in the totals only ([`Recorded::Stale`]) | belongs to a finished episode |
#[derive(Debug)]
#[must_use = "a dropped CallGuard records the call as cancelled (ignored, or a failure if the thread is panicking or the call had already been slow); record its outcome with `record`"]
pub struct CallGuard<'a> {
    breaker: BreakerRef<'a>,
    /// What the admission said, and whether the guard still has to record on drop: 16 bytes,
    /// so the guard is 32 and an async call's future carries little.
    ticket: Ticket,
}

impl<'a> CallGuard<'a> {
    #[inline(always)]
    pub(super) fn new(breaker: BreakerRef<'a>, ticket: Ticket) -> Self {
        Self { breaker, ticket }
    }

    /// Records how the call went and releases the guard.
    #[inline(always)]
    pub fn record(mut self, outcome: Outcome) -> Recorded {
        self.ticket.disarm();
        let finish = match outcome {
            Outcome::Success => Finish::Success,
            Outcome::Failure => Finish::Failure,
            Outcome::Ignored => Finish::Ignored,
        };
        self.breaker.get().finish(&self.ticket, finish)
    }

    /// `record(Success)` for `Ok`, `record(Failure)` for `Err`.
    #[inline(always)]
    pub fn record_result<T, E>(self, result: &Result<T, E>) -> Recorded {
        self.record(if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        })
    }

    /// The breaker this guard reports to.
    pub fn breaker(&self) -> &ComponentBreaker {
        self.breaker.get()
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.is_probe()
    }
}

impl Drop for CallGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.ticket.is_armed() {
            self.unrecorded();
        }
    }
}

impl CallGuard<'_> {
    /// Dropped without an outcome: kept out of line, so that `record` (after which the drop
    /// has nothing to do) inlines into the caller with one copy of the recording path.
    #[cold]
    #[inline(never)]
    fn unrecorded(&self) {
        let how = if std::thread::panicking() {
            Finish::Panicked
        } else {
            Finish::Dropped
        };
        self.breaker.get().finish(&self.ticket, how);
    }
}

/// How a guard ended, including the two ways that are not an [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finish {
    Success,
    Failure,
    Ignored,
    Panicked,
    Dropped,
}

/// What a guard remembers about its admission, in two words: `generation:56 | armed:1 |
/// admission:2` (the generation is 56 bits, as in the state word) and the start time
/// ([`Ticket::UNTIMED`] when slow-call detection was off).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    bits: u64,
    started: u64,
}

impl Ticket {
    /// No start time: the call is not timed.
    const UNTIMED: u64 = u64::MAX;
    const ARMED: u64 = 1 << 2;

    /// The ticket of a call admitted in episode `generation`, started at `started` if timed.
    #[inline(always)]
    pub(super) fn new(generation: u64, admission: Admission, started: Option<u64>) -> Self {
        let admission = match admission {
            Admission::Counted => 0,
            Admission::Probe => 1,
            Admission::Unmetered => 2,
        };
        Self {
            bits: generation << 8 | Self::ARMED | admission,
            // A reading of u64::MAX nanoseconds is 584 years after the timeline began.
            started: started.map_or(Self::UNTIMED, |s| s.min(Self::UNTIMED - 1)),
        }
    }

    /// The episode the call was admitted in: an outcome of another one is stale.
    #[inline(always)]
    pub(super) fn generation(&self) -> u64 {
        self.bits >> 8
    }

    #[inline(always)]
    pub(super) fn admission(&self) -> Admission {
        match self.bits & 3 {
            0 => Admission::Counted,
            1 => Admission::Probe,
            _ => Admission::Unmetered,
        }
    }

    /// When the call started, if slow-call detection was on.
    #[inline(always)]
    pub(super) fn started(&self) -> Option<u64> {
        (self.started != Self::UNTIMED).then_some(self.started)
    }

    #[inline(always)]
    fn is_armed(&self) -> bool {
        self.bits & Self::ARMED != 0
    }

    #[inline(always)]
    fn disarm(&mut self) {
        self.bits &= !Self::ARMED;
    }

    fn is_probe(&self) -> bool {
        self.admission() == Admission::Probe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_is_four_words() {
        assert_eq!(std::mem::size_of::<CallGuard<'_>>(), 32);
    }

    #[test]
    fn a_ticket_round_trips() {
        let top = (1 << 56) - 1;
        for admission in [Admission::Counted, Admission::Probe, Admission::Unmetered] {
            for (generation, started) in [(0, None), (top, Some(0)), (7, Some(u64::MAX - 1))] {
                let mut t = Ticket::new(generation, admission, started);
                assert_eq!(
                    (t.generation(), t.admission(), t.started(), t.is_armed()),
                    (generation, admission, started, true)
                );
                t.disarm();
                assert!(!t.is_armed());
                assert_eq!((t.generation(), t.admission()), (generation, admission));
            }
        }
    }
}

/// How a call was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Closed: counted and evaluated.
    Counted,
    /// HalfOpen: holds a probe token.
    Probe,
    /// Disabled: counted, never evaluated.
    Unmetered,
}
