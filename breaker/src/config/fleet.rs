//! [`FleetConfig`]: the settings of the fleet quorum (feature `fleet`), from code or from a
//! config file's `[fleet]` section, and their rules. Plain data with no Redis in it, so the
//! config layer parses and validates it like the rest, with or without the feature.

use std::time::Duration;

use serde::Deserialize;

/// How this replica shares its breakers' health with the other replicas of its service
/// through Redis, and when their reports open its breakers (feature `fleet`).
///
/// ```toml
/// [fleet]
/// url = "redis://:secret@127.0.0.1:6379/0"   # rediss:// for TLS
/// namespace = "checkout"                      # one per service sharing the Redis
/// min_open_replicas = 2
/// open_replica_ratio = 0.5
/// sync_interval = "1s"
/// replica_ttl = "5s"
/// stale_after = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// The Redis URL (`redis://[user][:password@]host[:port][/db]`, `rediss://` for TLS).
    pub url: String,
    /// Separates the services sharing one Redis; part of every key and of the channel.
    pub namespace: String,
    /// This replica's id, unique in the namespace (default: `<hostname>-<pid>-<random>`).
    pub replica_id: Option<String>,
    /// The fewest live replicas reporting a component open that open it for the others.
    /// Default 2, so one replica alone (a bad network path of its own) never opens the
    /// others; 1 only if set explicitly.
    pub min_open_replicas: u32,
    /// The share of live replicas (this one included) reporting a component open that
    /// opens it for the others; the quorum is the larger of this (rounded up) and
    /// `min_open_replicas`.
    pub open_replica_ratio: f32,
    /// How often reports are published and the fleet read in full (the heartbeat, and the
    /// repair of lost notifications).
    #[serde(with = "humantime_serde")]
    pub sync_interval: Duration,
    /// A replica whose heartbeat has not changed for this long, as this replica observes
    /// it, no longer counts.
    #[serde(with = "humantime_serde")]
    pub replica_ttl: Duration,
    /// A verdict older than this (no full read of the fleet since, Redis down) refuses
    /// nothing.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            namespace: "default".to_owned(),
            replica_id: None,
            min_open_replicas: 2,
            open_replica_ratio: 0.5,
            sync_interval: Duration::from_secs(1),
            replica_ttl: Duration::from_secs(5),
            stale_after: Duration::from_secs(10),
        }
    }
}

/// A [`FleetConfig`] value that breaks a rule; the running fleet settings stay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value}: {rule}")]
#[non_exhaustive]
pub struct FleetConfigError {
    /// The field, as a `[fleet]` section writes it.
    pub field: &'static str,
    /// The refused value, rendered (a URL's password is masked).
    pub value: String,
    /// The rule.
    pub rule: &'static str,
}

/// The longest namespace or replica id (they are part of every key).
const MAX_FLEET_NAME: usize = 64;

fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FLEET_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn err(field: &'static str, value: impl ToString, rule: &'static str) -> FleetConfigError {
    FleetConfigError {
        field,
        value: value.to_string(),
        rule,
    }
}

fn secs(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

impl FleetConfig {
    /// Checks every rule; the first broken one is the error.
    pub fn validate(&self) -> Result<(), FleetConfigError> {
        let scheme_ok = self.url.starts_with("redis://")
            || self.url.starts_with("rediss://")
            || self.url.starts_with("redis+unix://")
            || self.url.starts_with("unix://");
        if !scheme_ok {
            return Err(err(
                "url",
                mask_password(&self.url),
                "must be a redis://, rediss:// or unix:// URL",
            ));
        }
        if !name_ok(&self.namespace) {
            return Err(err(
                "namespace",
                &self.namespace,
                "must be 1 to 64 characters of A-Z, a-z, 0-9, `_`, `-`, `.`",
            ));
        }
        if let Some(id) = &self.replica_id {
            if !name_ok(id) {
                return Err(err(
                    "replica_id",
                    id,
                    "must be 1 to 64 characters of A-Z, a-z, 0-9, `_`, `-`, `.`",
                ));
            }
        }
        if self.min_open_replicas == 0 {
            return Err(err(
                "min_open_replicas",
                self.min_open_replicas,
                "must be at least 1",
            ));
        }
        if !(self.open_replica_ratio.is_finite() && (0.0..=1.0).contains(&self.open_replica_ratio))
        {
            return Err(err(
                "open_replica_ratio",
                self.open_replica_ratio,
                "must be in [0, 1]",
            ));
        }
        if self.sync_interval < Duration::from_millis(10)
            || self.sync_interval > super::MAX_DURATION
        {
            return Err(err(
                "sync_interval",
                secs(self.sync_interval),
                "must be in [10ms, 1y]",
            ));
        }
        if self.replica_ttl <= self.sync_interval || self.replica_ttl > super::MAX_DURATION {
            return Err(err(
                "replica_ttl",
                secs(self.replica_ttl),
                "must be longer than sync_interval (a live replica heartbeats within it) and at most 1y",
            ));
        }
        if self.stale_after < self.sync_interval || self.stale_after > super::MAX_DURATION {
            return Err(err(
                "stale_after",
                secs(self.stale_after),
                "must be at least sync_interval and at most 1y",
            ));
        }
        Ok(())
    }
}

/// The URL with its password replaced by `***`, for errors and logs.
pub(crate) fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_a_quorum_of_one_is_explicit() {
        FleetConfig::default().validate().unwrap();
        assert_eq!(FleetConfig::default().min_open_replicas, 2);
        let one = FleetConfig {
            min_open_replicas: 1,
            ..FleetConfig::default()
        };
        one.validate().unwrap();
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            FleetConfig {
                url: "http://x".into(),
                ..FleetConfig::default()
            },
            FleetConfig {
                namespace: "a b".into(),
                ..FleetConfig::default()
            },
            FleetConfig {
                replica_id: Some("{x}".into()),
                ..FleetConfig::default()
            },
            FleetConfig {
                min_open_replicas: 0,
                ..FleetConfig::default()
            },
            FleetConfig {
                open_replica_ratio: 1.5,
                ..FleetConfig::default()
            },
            FleetConfig {
                sync_interval: Duration::ZERO,
                ..FleetConfig::default()
            },
            FleetConfig {
                replica_ttl: Duration::from_secs(1),
                ..FleetConfig::default()
            },
            FleetConfig {
                stale_after: Duration::from_millis(10),
                ..FleetConfig::default()
            },
        ];
        let fields: Vec<_> = cases
            .iter()
            .map(|c| c.validate().unwrap_err().field)
            .collect();
        assert_eq!(
            fields,
            [
                "url",
                "namespace",
                "replica_id",
                "min_open_replicas",
                "open_replica_ratio",
                "sync_interval",
                "replica_ttl",
                "stale_after"
            ]
        );
    }

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            mask_password("redis://user:hunter2@h:6379/0"),
            "redis://user:***@h:6379/0"
        );
        assert_eq!(mask_password("redis://h:6379"), "redis://h:6379");
        let e = FleetConfig {
            url: "http://u:hunter2@h".into(),
            ..FleetConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn each_rule_holds_at_its_bounds() {
        let year = crate::config::MAX_DURATION;
        let accepted = [
            FleetConfig {
                url: "rediss://h:6380".into(),
                namespace: "a".repeat(64),
                replica_id: Some("pod-1.zone_a".into()),
                open_replica_ratio: 0.0,
                sync_interval: Duration::from_millis(10),
                replica_ttl: Duration::from_millis(11),
                stale_after: Duration::from_millis(10),
                ..FleetConfig::default()
            },
            FleetConfig {
                url: "redis+unix:///run/redis.sock".into(),
                open_replica_ratio: 1.0,
                sync_interval: year - Duration::from_secs(1),
                replica_ttl: year,
                stale_after: year,
                ..FleetConfig::default()
            },
            FleetConfig {
                url: "unix:///run/redis.sock".into(),
                min_open_replicas: 1,
                ..FleetConfig::default()
            },
        ];
        for config in &accepted {
            assert_eq!(config.validate(), Ok(()), "{config:?}");
        }
        let refused = [
            (
                "namespace",
                FleetConfig {
                    namespace: String::new(),
                    ..FleetConfig::default()
                },
            ),
            (
                "namespace",
                FleetConfig {
                    namespace: "a".repeat(65),
                    ..FleetConfig::default()
                },
            ),
            (
                "replica_id",
                FleetConfig {
                    replica_id: Some(String::new()),
                    ..FleetConfig::default()
                },
            ),
            (
                "open_replica_ratio",
                FleetConfig {
                    open_replica_ratio: f32::NAN,
                    ..FleetConfig::default()
                },
            ),
            (
                "open_replica_ratio",
                FleetConfig {
                    open_replica_ratio: -0.1,
                    ..FleetConfig::default()
                },
            ),
            (
                "sync_interval",
                FleetConfig {
                    sync_interval: Duration::from_millis(9),
                    ..FleetConfig::default()
                },
            ),
            (
                "sync_interval",
                FleetConfig {
                    sync_interval: year + Duration::from_secs(1),
                    ..FleetConfig::default()
                },
            ),
            (
                "replica_ttl",
                FleetConfig {
                    replica_ttl: FleetConfig::default().sync_interval,
                    ..FleetConfig::default()
                },
            ),
            (
                "replica_ttl",
                FleetConfig {
                    replica_ttl: year + Duration::from_secs(1),
                    ..FleetConfig::default()
                },
            ),
            (
                "stale_after",
                FleetConfig {
                    stale_after: year + Duration::from_secs(1),
                    ..FleetConfig::default()
                },
            ),
        ];
        for (field, config) in &refused {
            assert_eq!(
                config.validate().map_err(|e| e.field),
                Err(*field),
                "{config:?}"
            );
        }
    }

    #[test]
    fn only_a_password_is_masked() {
        for unchanged in ["not a url", "redis://user@h:6379", "redis://h:6379/0"] {
            assert_eq!(mask_password(unchanged), unchanged);
        }
        // The last `@` ends the credentials; a password may contain `:` and `@`.
        assert_eq!(mask_password("redis://u:p:a@ss@h"), "redis://u:***@h");
        assert_eq!(mask_password("rediss://:token@h"), "rediss://:***@h");
    }
}
