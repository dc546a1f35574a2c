//! [`CircuitConfig`]: every threshold and timer the state machine uses, with its defaults.
//!
//! All of it is serde-loadable with human durations (`"250ms"`, `"30s"`), validated before it
//! is used, and swappable at run time (see [`GlobalCircuitBreaker::reload`]).
//!
//! [`GlobalCircuitBreaker::reload`]: crate::GlobalCircuitBreaker::reload

mod family;
mod fields;
mod file;
mod fleet;
mod layering;
mod optional_count;
mod optional_duration;
mod validate;
#[cfg(feature = "watch")]
pub(crate) mod watch;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use family::FamilyFields;
pub use family::{FamilyConfig, MAX_FAMILY_KEYS};
pub(crate) use fields::Fields;
pub(crate) use file::FileLayer;
pub use file::{FileError, FileReport};
#[cfg(feature = "fleet")]
pub(crate) use fleet::mask_password;
pub use fleet::{FleetConfig, FleetConfigError};
pub(crate) use layering::{CodeLayer, Defaults, Layered, Resolved};
pub(crate) use validate::{check_exact, describe_violation, source_name, MAX_WINDOW_CALLS};
pub use validate::{ConfigError, ConfigLayer, ConfigValue, Message, Violation, MAX_DURATION};
#[cfg(feature = "watch")]
pub use watch::{ConfigWatcher, WatchOptions};
// `CircuitConfig::validate` and `check` are written beside the rules, in `validate.rs`.

/// How outcomes in the rolling window are weighted when the error and slow-call rates are
/// computed. Both strategies share the same lock-free bucket ring; they differ only in how the
/// buckets are folded (see [`WindowStrategy`](crate::WindowStrategy)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleWeighting {
    /// Every bucket in the window counts fully; buckets older than the window count nothing.
    #[default]
    Sliding,
    /// Each bucket counts `0.5^(age / exponential_half_life)`, so recent outcomes dominate the
    /// rates. `min_calls` still compares against the unweighted count.
    Exponential,
    /// The window is the outcomes of the last `window_calls` calls, whatever their age
    /// (resilience4j's `COUNT_BASED`); `rolling_window` and `window_buckets` are not used.
    /// Recording a success reads no clock while slow-call detection is off. A window holds at
    /// most `window_calls` calls, so the `min_calls` gate asks for `min(min_calls,
    /// window_calls)` of them. See the README ("The count window") for what "last" means
    /// when many threads record at once.
    Count,
}

/// When the derived global fuse opens. It is evaluated each time a component changes state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalTripConditions {
    /// The fuse opens when at least this fraction of registered components is unhealthy
    /// (`Open` or `HalfOpen`). In `(0, 1]`; inclusive.
    pub component_open_ratio: f32,
    /// ... and at least this many components are registered, so that one broken component
    /// out of two cannot take the whole process down. At least 1.
    pub min_components: u32,
    /// ... and the components' rolling windows hold at least this many calls in total
    /// (0 disables this check).
    pub min_calls: u32,
}

impl GlobalTripConditions {
    /// The defaults: half of at least three components, no call minimum.
    pub const DEFAULT: Self = Self {
        component_open_ratio: 0.5,
        min_components: 3,
        min_calls: 0,
    };
}

impl Default for GlobalTripConditions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Every threshold and timer of one breaker. See the crate docs for the state machine that
/// uses each field; [`CircuitConfig::DEFAULT`] lists the defaults.
///
/// ```
/// use std::time::Duration;
/// use breaker::CircuitConfig;
///
/// let config = CircuitConfig {
///     error_rate_threshold: 0.3,
///     open_cooldown: Duration::from_secs(10),
///     ..CircuitConfig::DEFAULT
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitConfig {
    /// How far back the error and slow-call rates look.
    #[serde(with = "humantime_serde")]
    pub rolling_window: Duration,
    /// How many equal buckets the window is cut into; old buckets drop out one at a time.
    pub window_buckets: u32,
    /// The rates are not evaluated until the window holds at least this many calls.
    pub min_calls: u32,
    /// Trip when `failures / calls >= error_rate_threshold` (inclusive).
    pub error_rate_threshold: f32,
    /// Also trip after this many failures in a row, whatever the rate (`None`, `"off"` in
    /// config files: off).
    #[serde(with = "optional_count")]
    pub consecutive_failures_threshold: Option<u32>,
    /// A call that takes at least this long is slow (`None`: slow-call detection off, and the
    /// call path reads the clock once instead of twice). `"off"` in config files.
    #[serde(
        serialize_with = "optional_duration::serialize",
        deserialize_with = "optional_duration::slow_call_threshold"
    )]
    pub slow_call_threshold: Option<Duration>,
    /// Trip when `slow calls / calls >= slow_call_rate_threshold` (inclusive).
    pub slow_call_rate_threshold: f32,
    /// How long the breaker stays `Open` before it lets probes through.
    #[serde(with = "humantime_serde")]
    pub open_cooldown: Duration,
    /// Each re-open straight from `HalfOpen` multiplies the cooldown by this (1 disables the
    /// backoff); closing resets it.
    pub open_backoff_multiplier: f32,
    /// The backoff never grows the cooldown past this (nor past `open_cooldown` when that is
    /// longer: the cap only limits the growth, so a cooldown longer than the cap is valid and
    /// simply does not grow).
    #[serde(with = "humantime_serde")]
    pub open_cooldown_max: Duration,
    /// How many probes may be in flight at once while `HalfOpen`.
    pub half_open_max_concurrent: u32,
    /// Successful probes needed to close.
    pub half_open_required_successes: u32,
    /// Failed probes tolerated; one more re-opens.
    pub half_open_allowed_failures: u32,
    /// A `HalfOpen` episode that has not decided within this long re-opens, so probes that
    /// never report cannot wedge the breaker (`None`, `"off"` in config files: wait forever).
    #[serde(
        serialize_with = "optional_duration::serialize",
        deserialize_with = "optional_duration::half_open_max_wait"
    )]
    pub half_open_max_wait: Option<Duration>,
    /// How outcomes in the window are weighted.
    pub sample_weighting: SampleWeighting,
    /// The half-life of [`SampleWeighting::Exponential`].
    #[serde(with = "humantime_serde")]
    pub exponential_half_life: Duration,
    /// How many of the latest outcomes [`SampleWeighting::Count`] judges: between 1 and
    /// 10,000. Ignored by the time-based weightings. A `u16`, so that the field fits in the
    /// config's padding and a component's config stays 152 bytes.
    pub window_calls: u16,
    /// When the derived global fuse opens. Read from the registry's default config only.
    pub global_trip_conditions: GlobalTripConditions,
}

impl CircuitConfig {
    /// The defaults, usable in `const` context (`..CircuitConfig::DEFAULT`).
    ///
    /// | field | default |
    /// |---|---|
    /// | `rolling_window` | 10 s |
    /// | `window_buckets` | 10 (1 s each) |
    /// | `min_calls` | 20 |
    /// | `error_rate_threshold` | 0.5 |
    /// | `consecutive_failures_threshold` | off |
    /// | `slow_call_threshold` | off |
    /// | `slow_call_rate_threshold` | 1.0 |
    /// | `open_cooldown` | 30 s |
    /// | `open_backoff_multiplier` | 2.0 |
    /// | `open_cooldown_max` | 5 min |
    /// | `half_open_max_concurrent` | 3 |
    /// | `half_open_required_successes` | 3 |
    /// | `half_open_allowed_failures` | 0 |
    /// | `half_open_max_wait` | 60 s |
    /// | `sample_weighting` | `Sliding` |
    /// | `exponential_half_life` | 5 s |
    /// | `window_calls` | 100 |
    /// | `global_trip_conditions` | ratio 0.5, min 3 components, min 0 calls |
    pub const DEFAULT: Self = Self {
        rolling_window: Duration::from_secs(10),
        window_buckets: 10,
        min_calls: 20,
        error_rate_threshold: 0.5,
        consecutive_failures_threshold: None,
        slow_call_threshold: None,
        slow_call_rate_threshold: 1.0,
        open_cooldown: Duration::from_secs(30),
        open_backoff_multiplier: 2.0,
        open_cooldown_max: Duration::from_secs(300),
        half_open_max_concurrent: 3,
        half_open_required_successes: 3,
        half_open_allowed_failures: 0,
        half_open_max_wait: Some(Duration::from_secs(60)),
        sample_weighting: SampleWeighting::Sliding,
        exponential_half_life: Duration::from_secs(5),
        window_calls: 100,
        global_trip_conditions: GlobalTripConditions::DEFAULT,
    };

    /// The cooldown after `reopens` consecutive re-opens from `HalfOpen`.
    pub(crate) fn cooldown_after(&self, reopens: u32) -> Duration {
        let base = self.open_cooldown.as_secs_f64();
        let grown = base * f64::from(self.open_backoff_multiplier).powi(reopens.min(1024) as i32);
        let cap = self.open_cooldown_max.max(self.open_cooldown);
        if grown.is_finite() && grown < cap.as_secs_f64() {
            Duration::from_secs_f64(grown)
        } else {
            cap
        }
    }
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_to_its_cap_and_stays_there_past_overflow() {
        let config = CircuitConfig {
            open_cooldown: Duration::from_secs(10),
            open_backoff_multiplier: 2.0,
            open_cooldown_max: Duration::from_secs(300),
            ..CircuitConfig::DEFAULT
        };
        assert_eq!(config.cooldown_after(0), Duration::from_secs(10));
        assert_eq!(config.cooldown_after(3), Duration::from_secs(80));
        assert_eq!(config.cooldown_after(5), Duration::from_secs(300));
        // 2^1024 overflows an f64: still the cap, not a panic or a zero.
        assert_eq!(config.cooldown_after(u32::MAX), Duration::from_secs(300));
        // A maximum below the cooldown: the cooldown is the cap.
        let low = CircuitConfig {
            open_cooldown_max: Duration::from_secs(1),
            ..config
        };
        assert_eq!(low.cooldown_after(2), Duration::from_secs(10));
    }
}
