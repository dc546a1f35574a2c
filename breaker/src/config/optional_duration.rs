//! `Option<Duration>` fields in config files: a human duration (`"250ms"`, `"30s"`) or `"off"`.
//! TOML has no null, so without a word for "off" a file could never turn off a field whose
//! default is on (`half_open_max_wait`), and a saved config would not read back the same.

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

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Flag(bool),
        Text(String),
    }
    match Option::<Repr>::deserialize(d)? {
        None | Some(Repr::Flag(false)) => Ok(None),
        Some(Repr::Flag(true)) => Err(D::Error::custom(
            "expected a duration such as \"250ms\" or \"30s\", or \"off\"",
        )),
        Some(Repr::Text(text)) if is_off(&text) => Ok(None),
        Some(Repr::Text(text)) => humantime::parse_duration(&text).map(Some).map_err(|e| {
            D::Error::custom(format!(
                "invalid duration `{text}`: {e}; write e.g. \"250ms\", \"30s\" or \"off\""
            ))
        }),
    }
}
