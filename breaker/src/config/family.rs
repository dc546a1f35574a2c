//! [`FamilyConfig`]: the settings of a keyed family as a whole (how many keys, when an idle
//! key is evicted, when the family counts as unhealthy, the ejection cap). Each key's breaker
//! takes an ordinary [`CircuitConfig`](super::CircuitConfig); these are the family's own.
//!
//! The rules are one `const fn`, as for `CircuitConfig`, so a `breakers!` family entry is
//! checked at compile time and a file or code reload at run time by the same code.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::validate::MAX_DURATION;
use super::{ConfigError, ConfigValue, Violation};

/// The most keys a family may hold (`max_keys`): memory per key is about 1.5 KiB.
pub const MAX_FAMILY_KEYS: u32 = 1_000_000;

/// The settings of a keyed family (a breaker per host, tenant or route).
///
/// ```
/// use std::time::Duration;
/// use breaker::FamilyConfig;
///
/// let config = FamilyConfig { max_keys: 500, idle_ttl: Duration::from_secs(60), ..FamilyConfig::DEFAULT };
/// assert!(config.validate().is_ok());
/// let err = FamilyConfig { max_open_ratio: 0.0, ..FamilyConfig::DEFAULT }.validate().unwrap_err();
/// assert_eq!(err.to_string(), "max_open_ratio = 0: must be in (0, 1]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FamilyConfig {
    /// Live keys at most; past it, idle keys are evicted, and when none can be, new keys share
    /// the family's one overflow breaker. 1..=1,000,000.
    pub max_keys: u32,
    /// A `Closed` key with no failure in its window and no call in flight is evicted once it
    /// has been idle this long. > 0, <= 1 year.
    #[serde(with = "humantime_serde")]
    pub idle_ttl: Duration,
    /// The family counts as unhealthy for the global fuse when at least this share of its
    /// live keys is `Open` or `HalfOpen` ... In (0, 1]; inclusive.
    pub unhealthy_key_ratio: f32,
    /// ... and at least this many keys are live. At least 1.
    pub min_keys: u32,
    /// At most this share of the live keys may be `Open` or `HalfOpen` at once (Envoy's
    /// `max_ejection_percent`); a key whose trip rule fires past it stays `Closed`. At least
    /// one key may always open. In (0, 1]; 1 = no cap.
    pub max_open_ratio: f32,
    /// Export one Prometheus series set per key (bounded by `max_keys`); `false` keeps the
    /// family's aggregates only.
    pub per_key_metrics: bool,
}

impl FamilyConfig {
    /// The defaults: 1,000 keys, evicted after 10 minutes idle, unhealthy at half of at
    /// least 3 keys, no ejection cap, per-key metrics on.
    pub const DEFAULT: Self = Self {
        max_keys: 1_000,
        idle_ttl: Duration::from_secs(600),
        unhealthy_key_ratio: 0.5,
        min_keys: 3,
        max_open_ratio: 1.0,
        per_key_metrics: true,
    };

    /// The family-level fields, as a manifest entry and a file section name them.
    pub const FIELDS: [&'static str; 6] = [
        "max_keys",
        "idle_ttl",
        "unhealthy_key_ratio",
        "min_keys",
        "max_open_ratio",
        "per_key_metrics",
    ];

    /// Checks every rule; the error names the field, the value and the rule it broke.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.check() {
            Ok(()) => Ok(()),
            Err(violation) => Err(ConfigError::from(violation)),
        }
    }

    /// The same rules as [`validate`](Self::validate), usable in `const` context so a
    /// manifest's family entry is refused at compile time (through
    /// `__private::family_manifest_error`, with the runtime's words).
    pub(crate) const fn check(&self) -> Result<(), Violation> {
        use ConfigValue::{Count, Duration as Dur, Ratio};
        macro_rules! refuse {
            ($field:literal, $value:expr, $rule:literal) => {
                return Err(Violation {
                    field: $field,
                    value: $value,
                    rule: $rule,
                    bound: None,
                })
            };
        }
        if self.max_keys == 0 || self.max_keys > MAX_FAMILY_KEYS {
            refuse!(
                "max_keys",
                Count(self.max_keys as u64),
                "must be between 1 and 1000000"
            );
        }
        if self.idle_ttl.is_zero() || self.idle_ttl.as_nanos() > MAX_DURATION.as_nanos() {
            refuse!(
                "idle_ttl",
                Dur(self.idle_ttl),
                "must be greater than 0 and at most 1 year"
            );
        }
        if !is_unit_ratio(self.unhealthy_key_ratio) {
            refuse!(
                "unhealthy_key_ratio",
                Ratio(self.unhealthy_key_ratio),
                "must be in (0, 1]"
            );
        }
        if self.min_keys == 0 {
            refuse!("min_keys", Count(0), "must be at least 1");
        }
        if !is_unit_ratio(self.max_open_ratio) {
            refuse!(
                "max_open_ratio",
                Ratio(self.max_open_ratio),
                "must be in (0, 1]"
            );
        }
        Ok(())
    }

    /// `values`' fields named in `fields` written over `self` (a layer that names only some
    /// fields changes only those).
    pub(crate) fn overlay(&self, values: &Self, fields: FamilyFields) -> Self {
        let mut out = *self;
        if fields.has(0) {
            out.max_keys = values.max_keys;
        }
        if fields.has(1) {
            out.idle_ttl = values.idle_ttl;
        }
        if fields.has(2) {
            out.unhealthy_key_ratio = values.unhealthy_key_ratio;
        }
        if fields.has(3) {
            out.min_keys = values.min_keys;
        }
        if fields.has(4) {
            out.max_open_ratio = values.max_open_ratio;
        }
        if fields.has(5) {
            out.per_key_metrics = values.per_key_metrics;
        }
        out
    }
}

impl Default for FamilyConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// `(0, 1]`, written so NaN fails.
const fn is_unit_ratio(r: f32) -> bool {
    r > 0.0 && r <= 1.0
}

/// Which of [`FamilyConfig::FIELDS`] a layer sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FamilyFields(u8);

impl FamilyFields {
    pub(crate) const NONE: Self = Self(0);
    pub(crate) const ALL: Self = Self(0b11_1111);

    fn has(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    /// The field called `name`, if it is one of the family's.
    pub(crate) fn named(name: &str) -> Option<Self> {
        FamilyConfig::FIELDS
            .iter()
            .position(|f| *f == name)
            .map(|i| Self(1 << i))
    }

    /// Every family field among `names` (other names are ignored: they are breaker fields).
    pub(crate) fn all_named(names: &[&str]) -> Self {
        names
            .iter()
            .filter_map(|n| Self::named(n))
            .fold(Self::NONE, |a, b| Self(a.0 | b.0))
    }

    pub(crate) fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

// A test fails by panicking; the workspace lints are for the library's own code.
#[allow(clippy::unwrap_used)]
// Not in the loom build (`--cfg breaker_loom`), which runs only the models.
#[cfg(not(breaker_loom))]
#[cfg(test)]
mod tests {
    use super::*;

    // Checked at compile time, as a manifest's family entry is.
    const _: () = assert!(FamilyConfig::DEFAULT.check().is_ok());

    #[test]
    fn each_rule_names_its_field_value_and_rule() {
        let cases: [(FamilyConfig, &str); 8] = [
            (
                FamilyConfig {
                    max_keys: 0,
                    ..FamilyConfig::DEFAULT
                },
                "max_keys = 0: must be between 1 and 1000000",
            ),
            (
                FamilyConfig {
                    max_keys: 1_000_001,
                    ..FamilyConfig::DEFAULT
                },
                "max_keys = 1000001: must be between 1 and 1000000",
            ),
            (
                FamilyConfig {
                    idle_ttl: Duration::ZERO,
                    ..FamilyConfig::DEFAULT
                },
                "idle_ttl = 0s: must be greater than 0 and at most 1 year",
            ),
            (
                FamilyConfig {
                    idle_ttl: MAX_DURATION + Duration::from_secs(1),
                    ..FamilyConfig::DEFAULT
                },
                "idle_ttl = 1year 1s: must be greater than 0 and at most 1 year",
            ),
            (
                FamilyConfig {
                    unhealthy_key_ratio: f32::NAN,
                    ..FamilyConfig::DEFAULT
                },
                "unhealthy_key_ratio = NaN: must be in (0, 1]",
            ),
            (
                FamilyConfig {
                    min_keys: 0,
                    ..FamilyConfig::DEFAULT
                },
                "min_keys = 0: must be at least 1",
            ),
            (
                FamilyConfig {
                    max_open_ratio: 1.5,
                    ..FamilyConfig::DEFAULT
                },
                "max_open_ratio = 1.5: must be in (0, 1]",
            ),
            (
                FamilyConfig {
                    max_open_ratio: 0.0,
                    ..FamilyConfig::DEFAULT
                },
                "max_open_ratio = 0: must be in (0, 1]",
            ),
        ];
        for (config, message) in cases {
            assert_eq!(config.validate().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn a_layer_overrides_only_the_fields_it_names() {
        let values = FamilyConfig {
            max_keys: 7,
            min_keys: 9,
            ..FamilyConfig::DEFAULT
        };
        let out = FamilyConfig::DEFAULT.overlay(
            &values,
            FamilyFields::all_named(&["max_keys", "error_rate_threshold"]),
        );
        assert_eq!(out.max_keys, 7);
        assert_eq!(out.min_keys, 3);
        assert_eq!(
            FamilyConfig::DEFAULT.overlay(&values, FamilyFields::ALL),
            values
        );
    }
}
