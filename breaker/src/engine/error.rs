//! [`CircuitError`]: why a call was not let through.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::config::ConfigError;
use crate::names::ComponentName;

/// Why a call was refused, or cut off ([`Timeout`](Self::Timeout)). Every variant names the
/// component; the open kinds also say when calls are expected to be let through again.
///
/// Making one is cheap: the name of a `breakers!` component is copied without touching shared
/// memory, and that of a breaker registered at run time costs one reference-count increment
/// (see [`ComponentName`]). Only [`ComponentMissing`](Self::ComponentMissing), which names a
/// component no breaker holds, allocates its name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CircuitError {
    /// The component's breaker is open.
    #[error("circuit breaker `{component}` is open; calls resume in {}", Secs(*retry_after))]
    Open {
        /// The component.
        component: ComponentName,
        /// Time until the cooldown ends and probes are let through.
        retry_after: Duration,
    },
    /// The breaker is half-open and every probe slot is taken.
    #[error("circuit breaker `{component}` is half-open and all its probe slots are in use")]
    HalfOpenExhausted {
        /// The component.
        component: ComponentName,
    },
    /// The derived global fuse is open, so this (healthy) component is not called either.
    #[error("the global fuse is open; call to `{component}` refused, retry in {}", Secs(*retry_after))]
    GlobalOpen {
        /// The component that was called.
        component: ComponentName,
        /// A hint: the component's `open_cooldown`. The fuse closes as soon as enough
        /// components recover, which no timer predicts.
        retry_after: Duration,
    },
    /// An operator isolated the component ([`ComponentBreaker::force_open`]).
    ///
    /// [`ComponentBreaker::force_open`]: crate::ComponentBreaker::force_open
    #[error("circuit breaker `{component}` is forced open")]
    ForcedOpen {
        /// The component.
        component: ComponentName,
    },
    /// A quorum of the fleet's live replicas reports the component open (feature `fleet`),
    /// so this replica, whose own breaker is `Closed`, does not call it either. Replicas
    /// whose own breaker is `Open` or `HalfOpen` are not refused by it: their probes find the
    /// recovery that lifts the verdict.
    #[error(
        "the fleet sees `{component}` open ({open_replicas} of {live_replicas} live replicas); retry in {}",
        Secs(*retry_after)
    )]
    FleetOpen {
        /// The component that was called.
        component: ComponentName,
        /// Live replicas reporting it open (this one's own report included).
        open_replicas: u32,
        /// Live replicas, this one included.
        live_replicas: u32,
        /// A hint: the shortest cooldown left among the open replicas' reports (at least
        /// the fleet's `sync_interval`). The verdict lifts when enough of them recover.
        retry_after: Duration,
    },
    /// No breaker is registered under that name.
    #[error("no circuit breaker is registered for component `{component}`")]
    ComponentMissing {
        /// The name that was asked for.
        component: ComponentName,
    },
    /// A keyed family refused the key (longer than the documented limit): the call is not
    /// made, since no breaker can judge it.
    #[error("keyed family `{component}` refused a key: {reason}")]
    InvalidKey {
        /// The family.
        component: ComponentName,
        /// Why.
        reason: &'static str,
    },
    /// The call was let through but ran past its `timeout` (the attribute's, the tower
    /// layer's): it was cut off (its future dropped) and recorded as a failure.
    #[error("call to `{component}` timed out after {}", Secs(*after))]
    Timeout {
        /// The component that was called.
        component: ComponentName,
        /// The timeout it ran past.
        after: Duration,
    },
}

impl CircuitError {
    /// The component the refused call was for (the variant's `component` field holds it as a
    /// [`ComponentName`], to keep).
    pub fn component(&self) -> &str {
        match self {
            Self::Open { component, .. }
            | Self::HalfOpenExhausted { component }
            | Self::GlobalOpen { component, .. }
            | Self::FleetOpen { component, .. }
            | Self::ForcedOpen { component }
            | Self::ComponentMissing { component }
            | Self::InvalidKey { component, .. }
            | Self::Timeout { component, .. } => component,
        }
    }

    /// When to try again, for the kinds that know (HTTP `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Open { retry_after, .. }
            | Self::GlobalOpen { retry_after, .. }
            | Self::FleetOpen { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The label used for rejection metrics: `open`, `half_open_exhausted`, `global_open`,
    /// `fleet_open`, `forced_open`, `component_missing` or `invalid_key`; `timeout` for a call
    /// cut off (a failure, counted with the calls, not a rejection).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::HalfOpenExhausted { .. } => "half_open_exhausted",
            Self::GlobalOpen { .. } => "global_open",
            Self::FleetOpen { .. } => "fleet_open",
            Self::ForcedOpen { .. } => "forced_open",
            Self::ComponentMissing { .. } => "component_missing",
            Self::InvalidKey { .. } => "invalid_key",
            Self::Timeout { .. } => "timeout",
        }
    }
}

/// Lets `?` turn a rejection into an `io::Error` (the orphan rule stops users writing this).
/// A missing component maps to `NotFound`, a timeout to `TimedOut`, every refusal to
/// `ConnectionRefused`.
impl From<CircuitError> for io::Error {
    fn from(e: CircuitError) -> Self {
        let kind = match e {
            CircuitError::ComponentMissing { .. } => io::ErrorKind::NotFound,
            CircuitError::InvalidKey { .. } => io::ErrorKind::InvalidInput,
            CircuitError::Timeout { .. } => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::ConnectionRefused,
        };
        io::Error::new(kind, e)
    }
}

/// The result of a protected call: refused by the breaker, or the call's own error.
///
/// It is what [`ComponentBreaker::call`](crate::ComponentBreaker::call) returns, and the
/// ready-made error type for a `#[circuit_breaker]` fn whose calls fail with an error you did
/// not write (`reqwest::Error`, `std::io::Error`, ..), which cannot get `From<CircuitError>`:
/// the attribute returns a refusal as `CallError::Rejected`, and records every
/// `Err(CallError::Inner(..))` as a failure. Inside the body, turn the call's error into the
/// wrapper with `.map_err(CallError::Inner)?`: a blanket `From<E> for CallError<E>` (for a bare
/// `?`) would overlap with `From<CircuitError>` at `CallError<CircuitError>`, so Rust allows
/// only one of them, and the attribute needs the latter.
///
/// ```
/// use std::num::ParseIntError;
/// use breaker::{circuit_breaker, CallError, CircuitError};
///
/// breaker::breakers! { quote_api }
///
/// #[circuit_breaker(component = "quote_api")]
/// fn quote(text: &str) -> Result<u32, CallError<ParseIntError>> {
///     let price: u32 = text.parse().map_err(CallError::Inner)?; // a failure if it fails
///     Ok(price)
/// }
///
/// # fn main() {
/// assert_eq!(quote("42"), Ok(42));
/// match quote("forty-two") {
///     Err(CallError::Inner(e)) => assert_eq!(e.to_string(), "invalid digit found in string"),
///     other => panic!("{other:?}"),
/// }
/// breakers::quote_api.force_open();
/// assert!(matches!(quote("42"), Err(CallError::Rejected(CircuitError::ForcedOpen { .. }))));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker refused the call, so it did not run; or, with [`CircuitError::Timeout`],
    /// it ran past its timeout and was cut off (a failure).
    #[error(transparent)]
    Rejected(CircuitError),
    /// The call ran and failed.
    #[error("{0}")]
    Inner(E),
}

impl<E> CallError<E> {
    /// The call's own error, if it ran.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            Self::Rejected(_) => None,
        }
    }

    /// The rejection, if the breaker refused.
    pub fn rejection(&self) -> Option<&CircuitError> {
        match self {
            Self::Rejected(e) => Some(e),
            Self::Inner(_) => None,
        }
    }
}

/// A refusal, for `?` on an [`acquire`](crate::ComponentBreaker::acquire) and for the
/// refusals `#[circuit_breaker]` returns.
impl<E> From<CircuitError> for CallError<E> {
    fn from(e: CircuitError) -> Self {
        Self::Rejected(e)
    }
}

/// Why [`ComponentBreaker::new`](crate::ComponentBreaker::new) refused to make a breaker.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The name is not usable.
    #[error("invalid component name `{name}`: {reason}")]
    InvalidName {
        /// The refused name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Rejection counters are indexed by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RejectReason {
    Open = 0,
    HalfOpenExhausted = 1,
    GlobalOpen = 2,
    ForcedOpen = 3,
}

impl RejectReason {
    /// The counter a refusal with `error` counts in (`None`: one the engine never makes, or
    /// one its owner counts: the fleet counts its own refusals, so the stripes keep four).
    pub(crate) const fn of(error: &CircuitError) -> Option<Self> {
        match error {
            CircuitError::Open { .. } => Some(Self::Open),
            CircuitError::HalfOpenExhausted { .. } => Some(Self::HalfOpenExhausted),
            CircuitError::GlobalOpen { .. } => Some(Self::GlobalOpen),
            CircuitError::ForcedOpen { .. } => Some(Self::ForcedOpen),
            CircuitError::ComponentMissing { .. }
            | CircuitError::FleetOpen { .. }
            | CircuitError::InvalidKey { .. }
            | CircuitError::Timeout { .. } => None,
        }
    }

    /// The same labels as [`CircuitError::reason`].
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::HalfOpenExhausted => "half_open_exhausted",
            Self::GlobalOpen => "global_open",
            Self::ForcedOpen => "forced_open",
        }
    }
}

/// Formats a duration to the millisecond, the precision a retry hint needs.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = Duration::from_millis(u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX));
        if rounded.is_zero() {
            f.write_str("0s")
        } else {
            write!(f, "{}", humantime::format_duration(rounded))
        }
    }
}
