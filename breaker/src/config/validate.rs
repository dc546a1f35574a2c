//! The rules a [`CircuitConfig`] must satisfy, written once as a `const fn` so the runtime
//! (`validate`) and the compile-time manifest check (`check` in a `const` item) cannot drift.

use std::fmt;
use std::time::Duration;

use super::CircuitConfig;

/// The longest duration any field accepts. Longer ones are refused rather than allowed to
/// overflow the nanosecond arithmetic of the window and the cooldown.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The narrowest bucket: keeps epoch numbers small enough to pack beside an episode tag
/// (40 bits of 1 ms epochs: 34 years of uptime).
pub(crate) const MIN_BUCKET: Duration = Duration::from_millis(1);

/// The most buckets a window may have; memory per component grows with it.
pub(crate) const MAX_BUCKETS: u32 = 1000;

/// The most half-open probes, successes or failures; the half-open word packs them in 10 and
/// 11 bits.
pub(crate) const MAX_HALF_OPEN: u32 = 1000;

/// The offending value, kept typed so it can be built in `const` context.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfigValue {
    /// A duration field.
    Duration(Duration),
    /// A ratio or multiplier.
    Ratio(f32),
    /// A count.
    Count(u64),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duration(d) if d.is_zero() => f.write_str("0s"),
            Self::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
            Self::Ratio(r) => write!(f, "{r}"),
            Self::Count(n) => write!(f, "{n}"),
        }
    }
}

/// A broken rule, as found by the `const` checker: which field, its value, and the rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Violation {
    /// The field's name as written in config files, e.g. `error_rate_threshold` or
    /// `global_trip_conditions.min_components`.
    pub field: &'static str,
    /// The value that was refused.
    pub value: ConfigValue,
    /// The rule, e.g. `must be in (0, 1]`.
    pub rule: &'static str,
    /// `field: rule` as one string, for `const` panics, which cannot format.
    pub message: &'static str,
}

/// An invalid [`CircuitConfig`]: names the field, the value and the rule.
///
/// ```
/// use breaker::CircuitConfig;
///
/// let err = CircuitConfig { error_rate_threshold: 1.5, ..CircuitConfig::DEFAULT }
///     .validate()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "error_rate_threshold = 1.5: must be in (0, 1]");
/// assert_eq!(err.field(), "error_rate_threshold");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} = {value}: {rule}")]
pub struct ConfigError {
    field: &'static str,
    value: ConfigValue,
    rule: &'static str,
}

impl ConfigError {
    /// The field's name as written in config files.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The refused value.
    pub fn value(&self) -> ConfigValue {
        self.value
    }

    /// The rule it broke.
    pub fn rule(&self) -> &'static str {
        self.rule
    }

    /// An error for a rule that only the runtime can check (e.g. changing a fixed field on
    /// reload).
    pub(crate) fn runtime(field: &'static str, value: ConfigValue, rule: &'static str) -> Self {
        Self { field, value, rule }
    }
}

impl From<Violation> for ConfigError {
    fn from(v: Violation) -> Self {
        Self {
            field: v.field,
            value: v.value,
            rule: v.rule,
        }
    }
}

macro_rules! refuse {
    ($field:literal, $value:expr, $rule:literal) => {
        return Err(Violation {
            field: $field,
            value: $value,
            rule: $rule,
            message: concat!($field, ": ", $rule),
        })
    };
}

/// `(0, 1]`, written so NaN fails (every comparison with NaN is false).
const fn is_unit_ratio(r: f32) -> bool {
    r > 0.0 && r <= 1.0
}

const fn is_positive_duration(d: Duration) -> bool {
    !d.is_zero() && d.as_nanos() <= MAX_DURATION.as_nanos()
}

/// Every rule, in field order; the first broken one is reported.
pub(super) const fn check(c: &CircuitConfig) -> Result<(), Violation> {
    use ConfigValue::{Count, Duration as Dur, Ratio};

    if !is_positive_duration(c.rolling_window) {
        refuse!(
            "rolling_window",
            Dur(c.rolling_window),
            "must be greater than 0 and at most 365 days"
        );
    }
    if c.window_buckets == 0 || c.window_buckets > MAX_BUCKETS {
        refuse!(
            "window_buckets",
            Count(c.window_buckets as u64),
            "must be between 1 and 1000"
        );
    }
    if !c
        .rolling_window
        .as_nanos()
        .is_multiple_of(c.window_buckets as u128)
    {
        refuse!(
            "window_buckets",
            Count(c.window_buckets as u64),
            "must divide rolling_window into equal whole-nanosecond buckets"
        );
    }
    if c.rolling_window.as_nanos() / (c.window_buckets as u128) < MIN_BUCKET.as_nanos() {
        refuse!(
            "window_buckets",
            Count(c.window_buckets as u64),
            "must leave buckets of at least 1ms (rolling_window / window_buckets)"
        );
    }
    if c.min_calls == 0 {
        refuse!("min_calls", Count(0), "must be at least 1");
    }
    if !is_unit_ratio(c.error_rate_threshold) {
        refuse!(
            "error_rate_threshold",
            Ratio(c.error_rate_threshold),
            "must be in (0, 1]"
        );
    }
    if let Some(0) = c.consecutive_failures_threshold {
        refuse!(
            "consecutive_failures_threshold",
            Count(0),
            "must be at least 1 when set"
        );
    }
    if let Some(d) = c.slow_call_threshold {
        if !is_positive_duration(d) {
            refuse!(
                "slow_call_threshold",
                Dur(d),
                "must be greater than 0 and at most 365 days when set"
            );
        }
    }
    if !is_unit_ratio(c.slow_call_rate_threshold) {
        refuse!(
            "slow_call_rate_threshold",
            Ratio(c.slow_call_rate_threshold),
            "must be in (0, 1]"
        );
    }
    if !is_positive_duration(c.open_cooldown) {
        refuse!(
            "open_cooldown",
            Dur(c.open_cooldown),
            "must be greater than 0 and at most 365 days"
        );
    }
    if !(c.open_backoff_multiplier >= 1.0 && c.open_backoff_multiplier <= 1000.0) {
        refuse!(
            "open_backoff_multiplier",
            Ratio(c.open_backoff_multiplier),
            "must be in [1, 1000]"
        );
    }
    if c.open_cooldown_max.as_nanos() < c.open_cooldown.as_nanos()
        || c.open_cooldown_max.as_nanos() > MAX_DURATION.as_nanos()
    {
        refuse!(
            "open_cooldown_max",
            Dur(c.open_cooldown_max),
            "must be at least open_cooldown and at most 365 days"
        );
    }
    if c.half_open_max_concurrent == 0 || c.half_open_max_concurrent > MAX_HALF_OPEN {
        refuse!(
            "half_open_max_concurrent",
            Count(c.half_open_max_concurrent as u64),
            "must be between 1 and 1000"
        );
    }
    if c.half_open_required_successes == 0
        || c.half_open_required_successes > c.half_open_max_concurrent
    {
        refuse!(
            "half_open_required_successes",
            Count(c.half_open_required_successes as u64),
            "must be between 1 and half_open_max_concurrent"
        );
    }
    if c.half_open_allowed_failures > MAX_HALF_OPEN {
        refuse!(
            "half_open_allowed_failures",
            Count(c.half_open_allowed_failures as u64),
            "must be at most 1000"
        );
    }
    if let Some(d) = c.half_open_max_wait {
        if !is_positive_duration(d) {
            refuse!(
                "half_open_max_wait",
                Dur(d),
                "must be greater than 0 and at most 365 days when set"
            );
        }
    }
    if !is_positive_duration(c.exponential_half_life) {
        refuse!(
            "exponential_half_life",
            Dur(c.exponential_half_life),
            "must be greater than 0 and at most 365 days"
        );
    }
    let g = &c.global_trip_conditions;
    if !is_unit_ratio(g.component_open_ratio) {
        refuse!(
            "global_trip_conditions.component_open_ratio",
            Ratio(g.component_open_ratio),
            "must be in (0, 1]"
        );
    }
    if g.min_components == 0 {
        refuse!(
            "global_trip_conditions.min_components",
            Count(0),
            "must be at least 1"
        );
    }
    Ok(())
}
