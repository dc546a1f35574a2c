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
