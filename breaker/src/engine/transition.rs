//! State transitions: the automatic ones the hot path triggers, and manual control.
//!
//! Every transition takes the breaker's transition lock, checks that the state word is still
//! the one the caller decided on, writes the new state's bookkeeping (cooldown end, probe word,
//! window reset) and only then publishes the new word with a release store. A reader that sees
//! the new word therefore sees its bookkeeping, and of several threads that decide on the same
//! transition exactly one performs it (and exactly one event is emitted). The hot path never
//! takes the lock.

use std::time::Duration;

use crate::engine::clock::nanos;
use crate::engine::events::{Transition, TransitionReason};
use crate::engine::loom_shim::{lock, Ordering};
use crate::engine::probe::ProbeWord;
use crate::engine::state::StateWord;
use crate::engine::ComponentBreaker;
use crate::registry::events::Event;
use crate::CircuitState;

impl ComponentBreaker {
    /// Moves from `expected` to `to` if the state is still `expected`; emits the event and
    /// re-derives the global fuse. Returns whether this call made the transition.
    pub(crate) fn transition(
        &self,
        expected: StateWord,
        to: CircuitState,
        reason: TransitionReason,
        now: u64,
    ) -> bool {
        let Some(transition) = self.transition_quiet(expected, to, reason, now) else {
            return false;
        };
        let health_changed = transition.from.is_unhealthy() != transition.to.is_unhealthy();
        // The component's own event first, so logs read cause before effect.
        self.hooks.emit(&Event::StateChanged(transition));
        if let Some(fuse) = &self.fuse {
            if health_changed {
                fuse.derive(now);
            }
        }
        true
    }

    /// The transition itself, without telling anyone (the fuse emits after its own lock).
    pub(crate) fn transition_quiet(
        &self,
        expected: StateWord,
        to: CircuitState,
        reason: TransitionReason,
        now: u64,
    ) -> Option<Transition> {
        let _guard = lock(&self.transition_lock);
        let current = self.word();
        if current != expected {
            return None;
        }
        let from = current.state();
        let next = current.next(to);
        match to {
            CircuitState::Open => {
                let reopens = if from == CircuitState::HalfOpen {
                    // Saturating: a wrapped exponent would shrink the cooldown back to
                    // `open_cooldown` after 2^32 re-opens. Only transitions write it, under
                    // this lock.
                    let reopens = self.reopens.load(Ordering::Relaxed).saturating_add(1);
                    self.reopens.store(reopens, Ordering::Relaxed);
                    reopens
                } else {
                    self.reopens.load(Ordering::Relaxed)
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
                self.reopens.store(0, Ordering::Relaxed);
            }
            CircuitState::ForcedOpen | CircuitState::Disabled => {}
        }
        self.since.store(now, Ordering::Relaxed);
        if let Some(fuse) = &self.fuse {
            // Counted under this lock so the fuse's tally can never see a close before the
            // open it undoes.
            fuse.count_unhealthy(from.is_unhealthy(), to.is_unhealthy());
        }
        self.state.store(next.0, Ordering::Release);
        self.transitions[from as usize * 5 + to as usize].fetch_add(1, Ordering::Relaxed);
        Some(Transition {
            component: self.name.clone(),
            from,
            to,
            reason,
            at: self.timeline.instant_at(now),
            generation: next.generation(),
        })
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
        // The fuse has no timer: it closes when enough components recover.
        (word.state() == CircuitState::Open && !self.derived).then(|| {
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
    pub(crate) fn cooldown_left(&self, now: u64) -> Option<Duration> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == OPEN_FOREVER {
            let since = self.since.load(Ordering::Acquire);
            let cooldown = nanos(
                self.config
                    .load()
                    .cooldown_after(self.reopens.load(Ordering::Relaxed)),
            );
            let left = cooldown.saturating_sub(now.saturating_sub(since)).max(1);
            Some(Duration::from_nanos(left))
        } else {
            (now < until).then(|| Duration::from_nanos(until - now))
        }
    }
}

/// `open_until` for a cooldown that ends at or past the end of the clock's range.
pub(crate) const OPEN_FOREVER: u64 = u64::MAX;
