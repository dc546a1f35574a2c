//! `Option<Duration>` fields in config files: a human duration (`"250ms"`, `"30s"`) or `"off"`.
//! TOML has no null, so without a word for "off" a file could never turn off a field whose
//! default is on (`half_open_max_wait`), and a saved config would not read back the same.
//!
//! Each field deserializes through its own function, so a refusal names the field: serde
//! tells a deserializer nothing about the field it reads, and the untagged enum's own message
//! ("data did not match any variant of untagged enum Repr") names only an internal type.

use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// The words that mean "off".
const OFF: [&str; 4] = ["off", "never", "none", "disabled"];

/// Whether `text` is one of the words for "off".
pub(super) fn is_off(text: &str) -> bool {
    OFF.contains(&text.trim().to_ascii_lowercase().as_str())
}

pub(super) fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        None => s.serialize_str("off"),
        Some(d) => humantime_serde::serialize(d, s),
    }
}

/// `slow_call_threshold`.
pub(super) fn slow_call_threshold<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    deserialize(d, "slow_call_threshold")
}

/// `half_open_max_wait`.
pub(super) fn half_open_max_wait<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    deserialize(d, "half_open_max_wait")
}

fn deserialize<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Flag(bool),
        Text(String),
    }
    let expected = || {
        D::Error::custom(format!(
            "{field} takes a duration such as \"250ms\" or \"30s\", or \"off\""
        ))
    };
    match Option::<Repr>::deserialize(d).map_err(|_| expected())? {
        None | Some(Repr::Flag(false)) => Ok(None),
        Some(Repr::Flag(true)) => Err(expected()),
        Some(Repr::Text(text)) if is_off(&text) => Ok(None),
        Some(Repr::Text(text)) => humantime::parse_duration(&text).map(Some).map_err(|e| {
            D::Error::custom(format!(
                "{field}: invalid duration `{text}`: {e}; write e.g. \"250ms\", \"30s\" or \"off\""
            ))
        }),
    }
}
