//! What one breaker says about itself: its [`Transition`]s and why they happened.

use std::fmt;
use std::time::Instant;

use crate::names::ComponentName;

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
