//! The fields of a [`CircuitConfig`] by the names config files give them, and sets of
//! fields: which fields a layer sets. Shared by the layering (`layering.rs`) and the file
//! parser (`file.rs`), which therefore need not know each other.

use std::time::Duration;

use super::{CircuitConfig, ConfigValue, SampleWeighting};

/// One field of [`CircuitConfig`], by its name in config files.
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(super) copy: fn(&CircuitConfig, &mut CircuitConfig),
    pub(super) value: fn(&CircuitConfig) -> Option<ConfigValue>,
}

/// Values that an error can show.
trait Shown {
    fn shown(&self) -> Option<ConfigValue>;
}

impl Shown for Duration {
    fn shown(&self) -> Option<ConfigValue> {
        Some(ConfigValue::Duration(*self))
    }
}

impl Shown for u32 {
    fn shown(&self) -> Option<ConfigValue> {
        Some(ConfigValue::Count(u64::from(*self)))
    }
}

impl Shown for u16 {
    fn shown(&self) -> Option<ConfigValue> {
        Some(ConfigValue::Count(u64::from(*self)))
    }
}

impl Shown for f32 {
    fn shown(&self) -> Option<ConfigValue> {
        Some(ConfigValue::Ratio(*self))
    }
}

impl<T: Shown> Shown for Option<T> {
    fn shown(&self) -> Option<ConfigValue> {
        self.as_ref().and_then(Shown::shown)
    }
}

impl Shown for SampleWeighting {
    fn shown(&self) -> Option<ConfigValue> {
        None
    }
}

macro_rules! field {
    ($name:literal, $($path:ident).+) => {
        Field {
            name: $name,
            copy: |from, to| to.$($path).+ = from.$($path).+,
            value: |c| c.$($path).+.shown(),
        }
    };
}

/// Every field, in declaration order; a [`Fields`] set is indexed by position here.
pub(crate) static FIELDS: [Field; 20] = [
    field!("rolling_window", rolling_window),
    field!("window_buckets", window_buckets),
    field!("min_calls", min_calls),
    field!("error_rate_threshold", error_rate_threshold),
    field!(
        "consecutive_failures_threshold",
        consecutive_failures_threshold
    ),
    field!("slow_call_threshold", slow_call_threshold),
    field!("slow_call_rate_threshold", slow_call_rate_threshold),
    field!("open_cooldown", open_cooldown),
    field!("open_backoff_multiplier", open_backoff_multiplier),
    field!("open_cooldown_max", open_cooldown_max),
    field!("half_open_max_concurrent", half_open_max_concurrent),
    field!("half_open_required_successes", half_open_required_successes),
    field!("half_open_allowed_failures", half_open_allowed_failures),
    field!("half_open_max_wait", half_open_max_wait),
    field!("sample_weighting", sample_weighting),
    field!("exponential_half_life", exponential_half_life),
    field!("window_calls", window_calls),
    field!(
        "global_trip_conditions.component_open_ratio",
        global_trip_conditions.component_open_ratio
    ),
    field!(
        "global_trip_conditions.min_components",
        global_trip_conditions.min_components
    ),
    field!(
        "global_trip_conditions.min_calls",
        global_trip_conditions.min_calls
    ),
];

/// The first of the `global_trip_conditions.*` fields in [`FIELDS`].
const FIRST_GLOBAL: usize = 17;

/// A set of fields (bit `i`: `FIELDS[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Fields(u32);

impl Fields {
    pub(crate) const NONE: Self = Self(0);
    pub(crate) const ALL: Self = Self((1 << FIELDS.len()) - 1);
    /// `global_trip_conditions.*`.
    pub(crate) const GLOBAL: Self = Self(Self::ALL.0 & !((1 << FIRST_GLOBAL) - 1));

    pub(super) fn has(self, index: usize) -> bool {
        self.0 & (1 << index) != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The fields a name covers: one field, or for `global_trip_conditions` all three.
    pub(crate) fn named(name: &str) -> Option<Self> {
        if name == "global_trip_conditions" {
            return Some(Self::GLOBAL);
        }
        FIELDS
            .iter()
            .position(|f| f.name == name)
            .map(|i| Self(1 << i))
    }

    /// The fields `names` covers (names that are no field are skipped: a manifest's names
    /// were checked by rustc).
    pub(crate) fn all_named(names: &[&str]) -> Self {
        names
            .iter()
            .filter_map(|n| Self::named(n))
            .fold(Self::NONE, Self::union)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GlobalTripConditions;

    /// Every field away from its default (and, for the optional ones, set).
    const ELSEWHERE: CircuitConfig = CircuitConfig {
        rolling_window: Duration::from_secs(20),
        window_buckets: 4,
        min_calls: 7,
        error_rate_threshold: 0.25,
        consecutive_failures_threshold: Some(9),
        slow_call_threshold: Some(Duration::from_millis(250)),
        slow_call_rate_threshold: 0.75,
        open_cooldown: Duration::from_secs(11),
        open_backoff_multiplier: 3.0,
        open_cooldown_max: Duration::from_secs(99),
        half_open_max_concurrent: 5,
        half_open_required_successes: 2,
        half_open_allowed_failures: 1,
        half_open_max_wait: Some(Duration::from_secs(7)),
        sample_weighting: SampleWeighting::Exponential,
        exponential_half_life: Duration::from_secs(3),
        window_calls: 50,
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: 0.75,
            min_components: 6,
            min_calls: 40,
        },
    };

    /// What every field shows, in `FIELDS` order.
    fn shown(config: &CircuitConfig) -> Vec<Option<ConfigValue>> {
        FIELDS.iter().map(|f| (f.value)(config)).collect()
    }

    #[test]
    fn each_field_copies_and_shows_only_itself() {
        let base = CircuitConfig::DEFAULT;
        let (defaults, elsewhere) = (shown(&base), shown(&ELSEWHERE));
        for (i, field) in FIELDS.iter().enumerate() {
            let mut to = base;
            (field.copy)(&ELSEWHERE, &mut to);
            assert_ne!(to, base, "{} copied nothing", field.name);
            let now = shown(&to);
            for (j, other) in FIELDS.iter().enumerate() {
                let want = if i == j { &elsewhere[j] } else { &defaults[j] };
                assert_eq!(
                    &now[j], want,
                    "copying {} changed {}",
                    field.name, other.name
                );
            }
        }
    }

    #[test]
    fn a_field_shows_its_value_in_the_unit_an_error_prints() {
        let value = |name: &str, config: &CircuitConfig| {
            let field = FIELDS.iter().find(|f| f.name == name).map(|f| f.value);
            field.and_then(|value| value(config))
        };
        let at = &ELSEWHERE;
        assert_eq!(
            value("rolling_window", at),
            Some(ConfigValue::Duration(Duration::from_secs(20)))
        );
        assert_eq!(value("window_calls", at), Some(ConfigValue::Count(50)));
        assert_eq!(
            value("consecutive_failures_threshold", at),
            Some(ConfigValue::Count(9))
        );
        assert_eq!(
            value("global_trip_conditions.component_open_ratio", at),
            Some(ConfigValue::Ratio(0.75))
        );
        // An unset optional field and the weighting (no number) have no value to show.
        let base = &CircuitConfig::DEFAULT;
        assert_eq!(value("consecutive_failures_threshold", base), None);
        assert_eq!(value("slow_call_threshold", base), None);
        assert_eq!(value("sample_weighting", at), None);
        let mut weighting = *base;
        let field = &FIELDS[14];
        assert_eq!(field.name, "sample_weighting");
        (field.copy)(at, &mut weighting);
        assert_eq!(weighting.sample_weighting, SampleWeighting::Exponential);
    }

    #[test]
    fn names_cover_one_field_or_the_three_global_conditions() {
        assert_eq!(FIELDS.len(), 20);
        assert_eq!(Fields::ALL.0.count_ones(), 20);
        assert_eq!(Fields::GLOBAL.0.count_ones(), 3);
        for (i, field) in FIELDS.iter().enumerate() {
            let named = Fields::named(field.name);
            assert_eq!(named, Some(Fields(1 << i)), "{}", field.name);
            assert!(named.is_some_and(|n| n.has(i)));
            // The global conditions are exactly the fields under that prefix.
            let global = field.name.starts_with("global_trip_conditions.");
            assert_eq!(Fields::GLOBAL.has(i), global, "{}", field.name);
        }
        assert_eq!(
            Fields::named("global_trip_conditions"),
            Some(Fields::GLOBAL)
        );
        assert_eq!(Fields::named("nosuch"), None);
        assert_eq!(Fields::named("global_trip_conditions.nosuch"), None);
        assert!(Fields::NONE.is_empty());
        assert!(!Fields::GLOBAL.is_empty());
        // Names that are no field are skipped, not an error.
        let some = Fields::all_named(&["min_calls", "nosuch", "global_trip_conditions"]);
        assert_eq!(
            some,
            Fields::named("min_calls").map_or(Fields::NONE, |m| m.union(Fields::GLOBAL))
        );
        assert_eq!(Fields::all_named(&[]), Fields::NONE);
        assert_eq!(Fields::all_named(&["nosuch"]), Fields::NONE);
    }
}
