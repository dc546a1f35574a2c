//! State transitions: the automatic ones the hot path triggers, and manual control.
//!
//! Every transition takes the breaker's transition lock, checks that the state word is still
//! the one the caller decided on, writes the new state's bookkeeping (cooldown end, probe word,
//! window reset) and only then publishes the new word with a release store. A reader that sees
//! the new word therefore sees its bookkeeping, and of several threads that decide on the same
//! transition exactly one performs it (and exactly one event is emitted). The hot path never
//! takes the lock.

use std::time::Duration;

use super::clock::nanos;
use super::events::{Transition, TransitionReason};
use super::loom_shim::{lock, Ordering};
use super::probe::ProbeWord;
use super::state::{CircuitState, StateWord};
use super::{ComponentBreaker, Role};

impl ComponentBreaker {
    /// Moves from `expected` to `to` if the state is still `expected`, then tells the owner
    /// (outside every lock). Returns whether this call made the transition.
    pub(super) fn transition(
        &self,
        expected: StateWord,
        to: CircuitState,
        reason: TransitionReason,
        now: u64,
    ) -> bool {
        match self.transition_quiet(expected, to, reason, now) {
            Ok(transition) => {
                self.owner.transitioned(transition, now);
                true
            }
            Err(Skipped::Vetoed(from)) => {
                self.owner.vetoed(&self.name, from, to, now);
                false
            }
            Err(Skipped::Stale) => false,
        }
    }

    /// A derived breaker's transition, made by its owner (the registry's fuse derives it),
    /// who tells the world itself once its own lock is released.
    pub(crate) fn derive_to(
        &self,
        expected: StateWord,
        to: CircuitState,
        reason: TransitionReason,
        now: u64,
    ) -> Option<Transition> {
        if self.role != Role::Derived {
            return None;
        }
        self.transition_quiet(expected, to, reason, now).ok()
    }

    /// The transition itself: under the transition lock, with the owner's `publishing` and
    /// `published` around the store of the new state word; nobody is told afterwards.
    fn transition_quiet(
        &self,
        expected: StateWord,
        to: CircuitState,
        reason: TransitionReason,
        now: u64,
    ) -> Result<Transition, Skipped> {
        let _guard = lock(&self.transition_lock);
        let current = self.word();
        if current != expected {
            return Err(Skipped::Stale);
        }
        let from = current.state();
        // From here the transition happens unless the owner refuses it, so a slot the owner
        // reserves in `permit` is always used.
        if !self.owner.permit(from, to) {
            return Err(Skipped::Vetoed(from));
        }
        let next = current.next(to);
        match to {
            CircuitState::Open => {
                if from == CircuitState::Closed {
                    self.record_trip_rate(current, reason, now);
                }
                let reopens = if from == CircuitState::HalfOpen {
                    // Saturating: a wrapped exponent would shrink the cooldown back to
                    // `open_cooldown` after 2^32 re-opens. Only transitions write it, under
                    // this lock.
                    let reopens = self
                        .failure
                        .reopens
                        .load(Ordering::Relaxed)
                        .saturating_add(1);
                    self.failure.reopens.store(reopens, Ordering::Relaxed);
                    reopens
                } else {
                    self.failure.reopens.load(Ordering::Relaxed)
                };
                let cooldown = self.config.load().cooldown_after(reopens);
                // Saturates to `OPEN_FOREVER` when the end is past the clock's range (see
                // `cooldown_left`).
                self.open_until
                    .store(now.saturating_add(nanos(cooldown)), Ordering::Relaxed);
            }
            CircuitState::HalfOpen => {
                self.probe
                    .store(ProbeWord::fresh(next.generation()).0, Ordering::Relaxed);
            }
            CircuitState::Closed => {
                // The new generation starts an empty window and failure run by itself (both are
                // tagged with it), so the failures that opened the breaker cannot re-trip it.
                self.failure.reopens.store(0, Ordering::Relaxed);
            }
            CircuitState::ForcedOpen | CircuitState::Disabled => {}
        }
        self.since.store(now, Ordering::Relaxed);
        // The count window is tagged with the episode like the buckets are, but its rings
        // have no room for a tag per outcome: empty them before anyone sees the new state.
        if let Some(count) = self.failure.count.get() {
            count.reset(next.generation());
        }
        // Under this lock: the owner's tally can never see a close before the open it undoes,
        // and what it holds for the new state is in place before anyone sees that state.
        self.owner.publishing(from, to);
        self.words.state.store(next.bits(), Ordering::Release);
        self.owner.published(from, to);
        self.transitions[from as usize * 5 + to as usize].fetch_add(1, Ordering::Relaxed);
        Ok(Transition {
            component: self.name.clone(),
            from,
            to,
            reason,
            at: self.timeline.instant_at(now),
            generation: next.generation(),
        })
    }

    /// Keeps the failure rate that tripped the breaker (cold: transitions only). An error
    /// rate trip carries its rate; a consecutive-failure or slow-call trip reads the closing
    /// episode's window, which the new generation is about to leave behind.
    fn record_trip_rate(&self, current: StateWord, reason: TransitionReason, now: u64) {
        let rate = match reason {
            TransitionReason::ErrorRate { rate, .. } => rate,
            _ => {
                self.window_stats(&self.config.load(), now, current.generation())
                    .error_rate
            }
        };
        self.failure
            .trip_rate
            .store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The failure rate of the last `Closed -> Open` trip (0 before any).
    pub(crate) fn trip_failure_rate(&self) -> f32 {
        f32::from_bits(self.failure.trip_rate.load(Ordering::Relaxed))
    }

    /// Moves to `to` from whatever state the breaker is in (manual control).
    fn force(&self, to: CircuitState, reason: TransitionReason, always: bool) {
        loop {
            let word = self.word();
            if word.state() == to && !always {
                return;
            }
            let now = self.timeline.now_nanos();
            if self.transition(word, to, reason, now) {
                return;
            }
        }
    }

    /// Isolates the component: every call is rejected with
    /// [`CircuitError::ForcedOpen`](crate::CircuitError::ForcedOpen) until [`reset`](Self::reset).
    /// Automatic transitions never leave this state, and it does not count toward the global
    /// fuse (maintenance must not trip the whole process).
    pub fn force_open(&self) {
        self.force(
            CircuitState::ForcedOpen,
            TransitionReason::ForcedOpen,
            false,
        );
    }

    /// Turns the breaker off: every call is let through and counted, nothing trips, the global
    /// fuse is bypassed, until [`reset`](Self::reset).
    pub fn disable(&self) {
        self.force(CircuitState::Disabled, TransitionReason::Disabled, false);
    }

    /// Back to `Closed` with an empty window, no consecutive failures and no backoff, from any
    /// state (a `Closed -> Closed` transition when already closed). Outcomes of calls admitted
    /// before the reset are then [`Stale`](crate::Recorded::Stale).
    pub fn reset(&self) {
        self.force(CircuitState::Closed, TransitionReason::Reset, true);
    }

    /// Time until an `Open` breaker lets probes through (`None` in any other state). A
    /// cooldown that would end past the end of the clock's range (about 584 years of uptime,
    /// where time stands still) never ends; this then says how much of it is left.
    pub fn retry_after(&self) -> Option<Duration> {
        let word = self.word();
        // A derived breaker has no timer: its owner closes it (the fuse, when enough
        // components recover).
        (word.state() == CircuitState::Open && self.role == Role::Component).then(|| {
            self.cooldown_left(self.timeline.now_nanos())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// What is left of the current `Open` state's cooldown at `now`, or `None` once it has
    /// elapsed.
    ///
    /// A cooldown whose end is at or past the end of the nanosecond range (`u64::MAX` ns,
    /// about 584 years of uptime, where the clock saturates and time stands still) has its end
    /// stored as [`OPEN_FOREVER`] and never elapses: such an `Open` state lasts until a manual
    /// `reset`, never 0 ns. What is left is then computed from the state's start and the
    /// cooldown it was given, so it still counts down to where the clock stops.
    pub(super) fn cooldown_left(&self, now: u64) -> Option<Duration> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == OPEN_FOREVER {
            let since = self.since.load(Ordering::Acquire);
            let cooldown = nanos(
                self.config
                    .load()
                    .cooldown_after(self.failure.reopens.load(Ordering::Relaxed)),
            );
            let left = cooldown.saturating_sub(now.saturating_sub(since)).max(1);
            Some(Duration::from_nanos(left))
        } else {
            (now < until).then(|| Duration::from_nanos(until - now))
        }
    }
}

/// Why a transition did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Skipped {
    /// Someone else changed the state first.
    Stale,
    /// The owner refused it ([`Owner::permit`](super::events::Owner::permit)); the breaker
    /// stays in the state given.
    Vetoed(CircuitState),
}

/// `open_until` for a cooldown that ends at or past the end of the clock's range.
const OPEN_FOREVER: u64 = u64::MAX;
