//! Admission: [`ComponentBreaker::acquire`], one small function per state, in the order the
//! engine's module docs give (manual states, the breaker's own state, then the gates).

use std::sync::Arc;

use crate::config::CircuitConfig;

use super::clock::nanos;
use super::error::{CircuitError, RejectReason};
use super::events::TransitionReason;
use super::gate::Held;
use super::guard::{Admission, BreakerRef, CallGuard, Permit, Ticket};
use super::loom_shim::Ordering;
use super::probe::ProbeWord;
use super::state::{CircuitState, StateWord};
use super::{ComponentBreaker, Role};

/// Bounds the admission loop: Open -> HalfOpen -> (decided) Closed, then admit.
const ATTEMPTS: usize = 4;

/// The answer of the probe word to a would-be probe.
enum Probe {
    Admitted,
    Full,
    /// The episode's tally has already decided; the word as read.
    Decided(ProbeWord),
}

impl ComponentBreaker {
    /// Lets a call through or refuses it. Never blocks; see the engine's module docs for its
    /// cost and the order in which it looks at the manual states, the state and the gates.
    #[inline(always)]
    pub fn acquire(&self) -> Permit<'_> {
        match self.admit() {
            Ok(ticket) => Permit::Allowed(CallGuard::new(BreakerRef::Borrowed(self), ticket)),
            Err(e) => Permit::Rejected(e),
        }
    }

    /// [`acquire`](Self::acquire) for a shared breaker: the guard keeps the breaker alive, so
    /// it can outlive the borrow (spawned tasks).
    pub fn acquire_owned(self: &Arc<Self>) -> Permit<'static> {
        Arc::clone(self).into_permit()
    }

    /// [`acquire_owned`](Self::acquire_owned) for a breaker the caller already holds an
    /// `Arc` of (a registry's lookup by name).
    pub(crate) fn into_permit(self: Arc<Self>) -> Permit<'static> {
        match self.admit() {
            Ok(ticket) => Permit::Allowed(CallGuard::new(BreakerRef::Shared(self), ticket)),
            Err(e) => Permit::Rejected(e),
        }
    }

    #[inline(always)]
    fn admit(&self) -> Result<Ticket, CircuitError> {
        // The gates first, once, then the state word: one verdict per admission, whatever
        // transitions this admission makes on the way (a decided half-open episode closing,
        // say), as when admission read the fuse's state word first.
        let held = self.gate().held();
        let word = self.word();
        // The hot path, straight: `Closed` and no gate held.
        if word.state() == CircuitState::Closed && held.is_empty() {
            return Ok(self.ticket(word, Admission::Counted));
        }
        self.admit_by_state(word, held)
    }

    /// Every other case, one look at the state word at a time. Out of line, so that the
    /// `Closed` test above is all a caller inlines.
    #[cold]
    #[inline(never)]
    fn admit_by_state(&self, mut word: StateWord, held: Held) -> Result<Ticket, CircuitError> {
        // Each arm admits, refuses (`?` returns the refusal), or falls through to look again
        // because the state moved: this caller moved it, or an episode had decided.
        for _ in 0..ATTEMPTS {
            match word.state() {
                CircuitState::Closed => return self.admit_closed(word, held),
                CircuitState::Disabled => return Ok(self.ticket(word, Admission::Unmetered)),
                CircuitState::ForcedOpen => {
                    self.count_rejection(RejectReason::ForcedOpen);
                    return Err(CircuitError::ForcedOpen {
                        component: self.name.clone(),
                    });
                }
                CircuitState::Open => self.admit_open(word, held)?,
                CircuitState::HalfOpen => {
                    if let Some(probe) = self.admit_half_open(word)? {
                        return Ok(probe);
                    }
                }
            }
            word = self.word();
        }
        // Only reachable if the state changed under us on every attempt; refusing is safe.
        self.count_rejection(RejectReason::HalfOpenExhausted);
        Err(CircuitError::HalfOpenExhausted {
            component: self.name.clone(),
        })
    }

    /// `Closed`: admitted and counted, unless an owner holds a gate over the breaker.
    #[inline]
    fn admit_closed(&self, word: StateWord, held: Held) -> Result<Ticket, CircuitError> {
        if held.is_empty() {
            Ok(self.ticket(word, Admission::Counted))
        } else {
            Err(self.refuse_gated(held))
        }
    }

    /// `Open`: refused until the cooldown ends; the first caller after it moves the breaker
    /// to `HalfOpen` (`Ok`: look again). A derived breaker has no cooldown: it refuses with
    /// its owner's verdict until its owner closes it.
    #[inline]
    fn admit_open(&self, word: StateWord, held: Held) -> Result<(), CircuitError> {
        if self.role == Role::Derived {
            return Err(self.refuse_gated(held));
        }
        let now = self.timeline.now_nanos();
        if let Some(retry_after) = self.cooldown_left(now) {
            self.count_rejection(RejectReason::Open);
            return Err(CircuitError::Open {
                component: self.name.clone(),
                retry_after,
            });
        }
        self.transition(
            word,
            CircuitState::HalfOpen,
            TransitionReason::CooldownElapsed,
            now,
        );
        Ok(())
    }

    /// `HalfOpen`: a probe if a token is free (`Ok(None)`: the state moved, look again);
    /// re-opens once `half_open_max_wait` has passed without a decision. Gates are not
    /// consulted: probes heal what the gates derive from.
    fn admit_half_open(&self, word: StateWord) -> Result<Option<Ticket>, CircuitError> {
        let now = self.timeline.now_nanos();
        let config = self.config.load();
        if let Some(max_wait) = config.half_open_max_wait {
            let since = self.since.load(Ordering::Acquire);
            if now.saturating_sub(since) >= nanos(max_wait) {
                self.transition(
                    word,
                    CircuitState::Open,
                    TransitionReason::HalfOpenTimeout,
                    now,
                );
                return Ok(None);
            }
        }
        match self.take_probe(word.generation(), &config) {
            Probe::Admitted => Ok(Some(Ticket::new(
                word.generation(),
                Admission::Probe,
                (self.slow_nanos.load(Ordering::Relaxed) != 0).then_some(now),
            ))),
            Probe::Full => {
                self.count_rejection(RejectReason::HalfOpenExhausted);
                Err(CircuitError::HalfOpenExhausted {
                    component: self.name.clone(),
                })
            }
            // The episode has decided but nobody acted on it (a reload lowered the bar after
            // the deciding probe finished): act now, then look again.
            Probe::Decided(probes) => {
                self.decide(word, probes, &config, now);
                Ok(None)
            }
        }
    }

    /// A ticket for `word`'s episode, timed if slow-call detection is on. A branch rather than
    /// an `Option` of the start: merged into one, the untimed path computed the timed one's
    /// clamp too.
    #[inline(always)]
    fn ticket(&self, word: StateWord, admission: Admission) -> Ticket {
        if self.slow_nanos.load(Ordering::Relaxed) == 0 {
            Ticket::new(word.generation(), admission, None)
        } else {
            self.timed_ticket(word, admission)
        }
    }

    /// A ticket that reads the clock: slow-call detection is on.
    #[inline(never)]
    fn timed_ticket(&self, word: StateWord, admission: Admission) -> Ticket {
        Ticket::new(
            word.generation(),
            admission,
            Some(self.timeline.call_nanos()),
        )
    }

    /// The refusal while gates are `held` (or a derived breaker is `Open`): its owner's.
    #[cold]
    fn refuse_gated(&self, held: Held) -> CircuitError {
        let refusal = self.owner.refusal(held, &self.name, &self.config.load());
        if let Some(reason) = RejectReason::of(&refusal) {
            self.count_rejection(reason);
        }
        refusal
    }

    /// Counts a refusal (on this thread's stripe) and emits a `debug` event with the
    /// component and state, which costs one relaxed load when that level is off.
    #[inline]
    fn count_rejection(&self, reason: RejectReason) {
        self.window.reject(reason as usize);
        tracing::debug!(
            target: "breaker",
            component = self.name.as_str(),
            state = self.state().as_str(),
            reason = reason.as_str(),
            "call refused"
        );
    }

    /// Takes one of `half_open_max_concurrent` probe tokens of episode `generation`, unless
    /// the episode has already decided.
    fn take_probe(&self, generation: u64, config: &CircuitConfig) -> Probe {
        let mut current = ProbeWord(self.probe.load(Ordering::Acquire));
        loop {
            // The transition into HalfOpen writes the fresh word before it publishes the
            // state, so a word from another episode means this one has already ended.
            if !current.belongs_to(generation) {
                return Probe::Full;
            }
            if current.verdict(config).is_some() {
                return Probe::Decided(current);
            }
            let Some(next) = current.admit(config.half_open_max_concurrent) else {
                return Probe::Full;
            };
            match self.probe.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Probe::Admitted,
                Err(actual) => current = ProbeWord(actual),
            }
        }
    }
}

// A test fails by panicking; the workspace lints are for the library's own code.
#[allow(clippy::unwrap_used, clippy::panic)]
// Not in the loom build (`--cfg breaker_loom`), which runs only the models.
#[cfg(not(breaker_loom))]
#[cfg(test)]
mod tests {
    use super::super::clock::{Clock, FakeClock, Timeline};
    use super::super::events::Unowned;
    use super::*;
    use crate::names::ComponentName;

    fn forced_open(breaker: &ComponentBreaker) -> ComponentName {
        breaker.force_open();
        match breaker.acquire() {
            Permit::Rejected(CircuitError::ForcedOpen { component }) => component,
            other => panic!("{other:?}"),
        }
    }

    /// A refusal of a `breakers!` component copies its name; one of a run-time breaker
    /// shares the breaker's allocation (one reference-count increment, no new string).
    #[test]
    fn a_refusal_copies_a_name_from_code_and_shares_a_run_time_one() {
        let clock: Arc<dyn Clock> = Arc::new(FakeClock::new());
        let from_code = ComponentBreaker::build(
            ComponentName::from_static("code"),
            CircuitConfig::DEFAULT,
            Timeline::new(Arc::clone(&clock)),
            Arc::new(Unowned),
            Role::Component,
        );
        assert!(forced_open(&from_code).is_static());

        let run_time = ComponentBreaker::new("run_time", CircuitConfig::DEFAULT, clock).unwrap();
        // `force_open`'s transition event went to no hook, so nothing else holds the name.
        assert_eq!(run_time.name().holders(), Some(1));
        let refused = forced_open(&run_time);
        assert_eq!(refused, "run_time");
        assert_eq!(run_time.name().holders(), Some(2));
        drop(refused);
        assert_eq!(run_time.name().holders(), Some(1));
    }
}
