//! What replicas write to Redis and read back: a [`Report`] per component per replica (a hash
//! field), an operator's [`Force`] (a reserved field of the same hash), and the [`Notice`]
//! published on the namespace's channel when either changes.
//!
//! Everything read from Redis is untrusted (another version of this crate, a typo in
//! `redis-cli`, an attacker with write access): it is decoded with bounds (a size cap before
//! parsing, a schema version checked before the fields, every string and list bounded, rates
//! in range), and whatever fails is an error to count, never a panic. JSON keeps the records
//! readable in `redis-cli` and small (a report is about 100 bytes).

use serde::{Deserialize, Serialize};

use crate::engine::CircuitState;

/// The schema version this build writes, and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The largest record or notice read; a bigger one is ignored unparsed.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// The most family keys one report carries (the keys that are not `Closed`); more are
/// dropped by the writer, refused by the reader.
pub const MAX_KEYS: usize = 64;

/// The longest component name, family key, replica id or operator name read.
pub const MAX_NAME_BYTES: usize = 128;

/// One replica's health on one component, as it publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// The replica's heartbeat sequence: it grows with every publication, so a reader judges
    /// the replica live while it keeps changing, on the reader's own clock.
    pub seq: u64,
    /// The breaker's state.
    pub state: CircuitState,
    /// How long it had been in that state when published, in milliseconds (a duration, not
    /// a timestamp: no reader compares another machine's clock with its own).
    pub since_ms: u64,
    /// The breaker's generation (transitions so far).
    #[serde(rename = "gen")]
    pub generation: u64,
    /// For `Open`: the cooldown left when published, in milliseconds.
    #[serde(default)]
    pub open_for_ms: Option<u64>,
    /// The window's error rate, `0.0..=1.0`.
    pub rate: f32,
    /// Calls in the window.
    pub calls: u64,
    /// The family keys of this component that are not `Closed` (empty until keyed families
    /// report here).
    #[serde(default)]
    pub keys: Vec<KeyReport>,
}

/// One family key's health in a [`Report`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeyReport {
    /// The key.
    pub key: String,
    /// Its breaker's state.
    pub state: CircuitState,
    /// Its breaker's generation.
    #[serde(rename = "gen")]
    pub generation: u64,
    /// For `Open`: the cooldown left, in milliseconds.
    #[serde(default)]
    pub open_for_ms: Option<u64>,
}

/// An operator's fleet-wide force on a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Force {
    /// The schema version.
    pub v: u32,
    /// `true`: forced open; `false`: released.
    pub open: bool,
    /// Who set it, as they named themselves.
    pub by: String,
}

/// What is published on the namespace's channel: the changed record itself, so a reader
/// applies it without a round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Notice {
    /// The schema version.
    pub v: u32,
    /// The component.
    #[serde(rename = "c")]
    pub component: String,
    /// The replica that published it.
    #[serde(rename = "r")]
    pub replica: String,
    /// The replica's new report, if that is what changed.
    #[serde(default)]
    pub report: Option<Report>,
    /// The operator's new force, if that is what changed.
    #[serde(default)]
    pub force: Option<Force>,
}

/// Why a record read from Redis was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Over [`MAX_RECORD_BYTES`]; not parsed.
    #[error("record of {0} bytes is over the {MAX_RECORD_BYTES}-byte limit")]
    TooLarge(usize),
    /// Written by a newer schema than this build reads.
    #[error("record of schema version {0} is newer than this build's {SCHEMA_VERSION}")]
    FutureVersion(u32),
    /// Not a record of this schema.
    #[error("malformed record: {0}")]
    Malformed(String),
    /// Well-formed but out of bounds (a rate out of range, a name too long, too many keys).
    #[error("invalid record: {0}")]
    Invalid(&'static str),
}

/// Only the version, read first, so a future record's other fields cannot make it look
/// malformed rather than new.
#[derive(Deserialize)]
struct Version {
    v: u32,
}

fn bounded<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    let version: Version =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if version.v > SCHEMA_VERSION {
        return Err(DecodeError::FutureVersion(version.v));
    }
    if version.v == 0 {
        return Err(DecodeError::Invalid("schema version 0"));
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

fn check_name(name: &str, what: &'static str) -> Result<(), DecodeError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(DecodeError::Invalid(what));
    }
    Ok(())
}

impl Report {
    /// Decodes a report read from Redis, with bounds (see the module docs).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let report: Self = bounded(bytes)?;
        report.check()?;
        Ok(report)
    }

    fn check(&self) -> Result<(), DecodeError> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(DecodeError::Invalid("error rate out of 0..=1"));
        }
        if self.keys.len() > MAX_KEYS {
            return Err(DecodeError::Invalid("too many family keys"));
        }
        for key in &self.keys {
            check_name(&key.key, "family key empty or too long")?;
        }
        Ok(())
    }

    /// The report as written to Redis.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data into a Vec cannot fail; an empty record would be counted
        // as malformed by readers, which is the right outcome should it ever happen.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Whether it counts toward a quorum: the replica's breaker found the component failing
    /// (`Open`, or `HalfOpen` while its probes find out). Forced open by hand does not count:
    /// an operator's local choice says nothing about the dependency (as for the global fuse).
    pub fn is_open(&self) -> bool {
        self.state.is_unhealthy()
    }
}

impl Force {
    /// Decodes an operator's force read from Redis, with bounds.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let force: Self = bounded(bytes)?;
        check_name(&force.by, "operator name empty or too long")?;
        Ok(force)
    }

    /// The force as written to Redis.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Notice {
    /// Decodes a notice received on the channel, with bounds.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let notice: Self = bounded(bytes)?;
        check_name(&notice.component, "component name empty or too long")?;
        check_name(&notice.replica, "replica id empty or too long")?;
        if let Some(report) = &notice.report {
            report.check()?;
        }
        if let Some(force) = &notice.force {
            check_name(&force.by, "operator name empty or too long")?;
        }
        Ok(notice)
    }

    /// The notice as published.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            v: SCHEMA_VERSION,
            seq: 7,
            state: CircuitState::Open,
            since_ms: 1500,
            generation: 3,
            open_for_ms: Some(28_500),
            rate: 0.75,
            calls: 40,
            keys: Vec::new(),
        }
    }

    #[test]
    fn a_report_round_trips_and_is_small() {
        let bytes = report().encode();
        assert!(bytes.len() < 160, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(Report::decode(&bytes).unwrap(), report());
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert!(matches!(
            Report::decode(&vec![b' '; MAX_RECORD_BYTES + 1]),
            Err(DecodeError::TooLarge(_))
        ));
        let future = br#"{"v":2,"whatever":[1,2,3]}"#;
        assert_eq!(Report::decode(future), Err(DecodeError::FutureVersion(2)));
        assert!(matches!(
            Report::decode(b"{\"v\":1}"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            Report::decode(b"\xff\xfe"),
            Err(DecodeError::Malformed(_))
        ));
        let mut bad_rate = report();
        bad_rate.rate = 1.5;
        assert_eq!(
            Report::decode(&bad_rate.encode()),
            Err(DecodeError::Invalid("error rate out of 0..=1"))
        );
        let mut many = report();
        many.keys = (0..=MAX_KEYS)
            .map(|i| KeyReport {
                key: format!("k{i}"),
                state: CircuitState::Open,
                generation: 1,
                open_for_ms: None,
            })
            .collect();
        assert_eq!(
            Report::decode(&many.encode()),
            Err(DecodeError::Invalid("too many family keys"))
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(Report::decode(deep.as_bytes()).is_err());
    }

    #[test]
    fn a_notice_checks_its_names() {
        let notice = Notice {
            v: 1,
            component: "x".repeat(MAX_NAME_BYTES + 1),
            replica: "a".into(),
            report: Some(report()),
            force: None,
        };
        assert!(matches!(
            Notice::decode(&notice.encode()),
            Err(DecodeError::Invalid(_))
        ));
        let ok = Notice {
            component: "db".into(),
            ..notice
        };
        assert_eq!(Notice::decode(&ok.encode()).unwrap(), ok);
    }

    #[test]
    fn version_zero_and_empty_or_long_keys_are_refused() {
        let zero = Report { v: 0, ..report() };
        assert_eq!(
            Report::decode(&zero.encode()),
            Err(DecodeError::Invalid("schema version 0"))
        );
        let key = |key: String| KeyReport {
            key,
            state: CircuitState::Open,
            generation: 1,
            open_for_ms: None,
        };
        for bad in [String::new(), "k".repeat(MAX_NAME_BYTES + 1)] {
            let keyed = Report {
                keys: vec![key(bad)],
                ..report()
            };
            assert_eq!(
                Report::decode(&keyed.encode()),
                Err(DecodeError::Invalid("family key empty or too long"))
            );
        }
        let longest = Report {
            keys: vec![key("k".repeat(MAX_NAME_BYTES))],
            ..report()
        };
        assert_eq!(Report::decode(&longest.encode()).unwrap(), longest);
    }
}
