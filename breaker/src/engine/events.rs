//! What one breaker says about itself: its [`Transition`]s and why they happened, and the
//! [`Owner`] interface through which it tells (and asks) whoever owns it.

use std::fmt;
use std::time::Instant;

use crate::config::CircuitConfig;
use crate::names::ComponentName;

use super::error::CircuitError;
use super::gate::Held;
use super::state::CircuitState;

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum TransitionReason {
    /// `error_rate >= error_rate_threshold` with at least `min_calls` calls in the window.
    ErrorRate {
        /// The rate that tripped it.
        rate: f32,
        /// The configured threshold.
        threshold: f32,
        /// Calls in the window.
        calls: u64,
    },
    /// `slow_call_rate >= slow_call_rate_threshold` with at least `min_calls` calls.
    SlowCallRate {
        /// The rate that tripped it.
        rate: f32,
        /// The configured threshold.
        threshold: f32,
        /// Calls in the window.
        calls: u64,
    },
    /// `consecutive_failures_threshold` failures in a row.
    ConsecutiveFailures {
        /// Failures in a row.
        count: u32,
    },
    /// `open_cooldown` (with backoff) elapsed; probes are let through.
    CooldownElapsed,
    /// `half_open_required_successes` probes succeeded.
    ProbesSucceeded {
        /// Successful probes.
        successes: u32,
    },
    /// More than `half_open_allowed_failures` probes failed.
    ProbesFailed {
        /// Failed probes.
        failures: u32,
    },
    /// The half-open episode did not decide within `half_open_max_wait`.
    HalfOpenTimeout,
    /// [`force_open`](crate::ComponentBreaker::force_open) was called.
    ForcedOpen,
    /// [`disable`](crate::ComponentBreaker::disable) was called.
    Disabled,
    /// [`reset`](crate::ComponentBreaker::reset) was called.
    Reset,
    /// The global fuse re-derived its state from the components.
    GlobalRatio {
        /// Components `Open` or `HalfOpen`.
        unhealthy: u32,
        /// Components registered.
        components: u32,
    },
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ErrorRate {
                rate,
                threshold,
                calls,
            } => {
                write!(f, "error rate {rate} >= {threshold} over {calls} calls")
            }
            Self::SlowCallRate {
                rate,
                threshold,
                calls,
            } => {
                write!(f, "slow-call rate {rate} >= {threshold} over {calls} calls")
            }
            Self::ConsecutiveFailures { count } => write!(f, "{count} consecutive failures"),
            Self::CooldownElapsed => f.write_str("cooldown elapsed"),
            Self::ProbesSucceeded { successes } => write!(f, "{successes} probe(s) succeeded"),
            Self::ProbesFailed { failures } => write!(f, "{failures} probe(s) failed"),
            Self::HalfOpenTimeout => f.write_str("half-open episode timed out"),
            Self::ForcedOpen => f.write_str("forced open"),
            Self::Disabled => f.write_str("disabled"),
            Self::Reset => f.write_str("reset"),
            Self::GlobalRatio {
                unhealthy,
                components,
            } => {
                write!(f, "{unhealthy} of {components} components unhealthy")
            }
        }
    }
}

/// One state change of one breaker.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transition {
    /// The component (`"__global__"` for the fuse).
    pub component: ComponentName,
    /// The state left.
    pub from: CircuitState,
    /// The state entered.
    pub to: CircuitState,
    /// Why.
    pub reason: TransitionReason,
    /// When, on the breaker's clock.
    pub at: Instant,
    /// The breaker's generation after the change (it grows by one per transition).
    pub generation: u64,
}

/// What a breaker tells, and asks, whoever owns it: the registry, which keeps the global
/// fuse's tally, holds the fuse's gates and runs the hooks. The engine knows nothing of
/// registries, fuses or other breakers; this is all it sees of them. A standalone breaker has
/// [`Unowned`]. Nothing here runs for an admitted call: transitions and refusals only.
///
/// The order around a transition from `from` to `to`, which takes the breaker's transition
/// lock: `publishing` under the lock, then the new state word is published (release store),
/// then `published` still under the lock, then the lock is released and `transitioned` runs.
pub(crate) trait Owner: Send + Sync {
    /// Under the transition lock, before anyone can see `to`: what must already be true when
    /// they do (the fuse's tally of unhealthy components, a derived verdict's gates held).
    fn publishing(&self, from: CircuitState, to: CircuitState) {
        let _ = (from, to);
    }

    /// Under the transition lock, once `to` is published: what must not be seen before it
    /// (a derived verdict's gates released only once the verdict no longer shows).
    fn published(&self, from: CircuitState, to: CircuitState) {
        let _ = (from, to);
    }

    /// Under the transition lock, once the transition is certain to happen unless this says
    /// no: whether the owner lets `from -> to` happen. A keyed family caps how many of its keys
    /// may be unhealthy at once (it reserves the slot here, atomically, so two keys tripping
    /// together cannot both take the last one). A refused transition leaves the state as it
    /// is; [`vetoed`](Self::vetoed) then runs outside the lock. Cold: transitions only.
    fn permit(&self, from: CircuitState, to: CircuitState) -> bool {
        let _ = (from, to);
        true
    }

    /// After [`permit`](Self::permit) refused `from -> to`, outside every lock.
    fn vetoed(&self, component: &ComponentName, from: CircuitState, to: CircuitState, now: u64) {
        let _ = (component, from, to, now);
    }

    /// After the transition, outside every lock: tell the world (hooks, logs), derive what
    /// depends on it. `now` is when it happened, in the breaker's nanoseconds.
    fn transitioned(&self, transition: Transition, now: u64);

    /// The refusal of a call while gates are `held` (or, for a derived breaker, while it is
    /// `Open`): the owner's reason, retry hint and detail. Cold: only for refused calls.
    fn refusal(
        &self,
        held: Held,
        component: &ComponentName,
        config: &CircuitConfig,
    ) -> CircuitError;
}

/// The owner of a standalone breaker: nobody. Its transitions are logged, and nothing holds
/// its gates.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Unowned;

impl Owner for Unowned {
    fn transitioned(&self, transition: Transition, _now: u64) {
        trace(&transition);
    }

    /// Unreachable: nothing can hold a standalone breaker's gates, and it is never derived.
    /// Should it happen, the call is refused as if the breaker were open for its cooldown.
    fn refusal(
        &self,
        _held: Held,
        component: &ComponentName,
        config: &CircuitConfig,
    ) -> CircuitError {
        CircuitError::Open {
            component: component.clone(),
            retry_after: config.open_cooldown,
        }
    }
}

/// The transition's structured log: `warn` when the breaker opens, `info` when it recovers or
/// changes state otherwise.
pub(crate) fn trace(t: &Transition) {
    let (component, from, to, reason) = (
        t.component.as_str(),
        t.from.as_str(),
        t.to.as_str(),
        tracing::field::display(&t.reason),
    );
    match t.to {
        CircuitState::Open | CircuitState::ForcedOpen => {
            tracing::warn!(target: "breaker", component, state = to, from, %reason, "circuit opened")
        }
        CircuitState::Closed => {
            tracing::info!(target: "breaker", component, state = to, from, %reason, "circuit closed")
        }
        CircuitState::HalfOpen | CircuitState::Disabled => {
            tracing::info!(target: "breaker", component, state = to, from, %reason, "circuit state changed")
        }
    }
}
