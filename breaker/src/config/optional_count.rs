//! `Option<u32>` fields in config files (`consecutive_failures_threshold`): a count or `"off"`.
//! `None` is written as `"off"` rather than left out, so a layer that turns the field off
//! carries that through (a missing key means "not set here", which is something else).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use super::optional_duration::is_off;

pub(super) fn serialize<S: Serializer>(value: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        None => s.serialize_str("off"),
        Some(n) => s.serialize_u32(*n),
    }
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Count(u32),
        Flag(bool),
        Text(String),
    }
    // Named, as the optional durations are: serde does not say which field failed.
    const EXPECTED: &str = "consecutive_failures_threshold takes a count of at least 1, or \"off\"";
    match Option::<Repr>::deserialize(d).map_err(|_| D::Error::custom(EXPECTED))? {
        None | Some(Repr::Flag(false)) => Ok(None),
        Some(Repr::Count(n)) => Ok(Some(n)),
        Some(Repr::Text(text)) if is_off(&text) => Ok(None),
        Some(Repr::Flag(true) | Repr::Text(_)) => Err(D::Error::custom(EXPECTED)),
    }
}
