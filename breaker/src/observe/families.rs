//! The exported metric families as plain values, built from one [`RegistrySnapshot`]: every
//! exporter (the text and OpenMetrics encoders, the `prometheus-client` collector, the
//! `metrics`-crate exporter) renders this one list, so they cannot disagree on a name, a label
//! or a value.
//!
//! One function per family, and the labels that name a breaker are built in one place
//! ([`breaker_labels`]): a family key (or any other label that identifies a series) is added
//! there, and family aggregates are one more function in [`families`].

use crate::engine::CircuitState;
use crate::observe::{ComponentSnapshot, FamilySnapshot, RegistrySnapshot};

/// What kind of metric a family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Only goes up; its samples are exposed as `<name>_total`.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    /// A count (counters, and gauges that count).
    Count(u64),
    /// A rate in `[0, 1]`.
    Rate(f64),
}

/// One series of a family: its labels (in order) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample<'a> {
    pub(crate) labels: Vec<(&'static str, &'a str)>,
    pub(crate) value: Value,
}

/// One metric family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family<'a> {
    /// The family's name: for a counter without `_total` (OpenMetrics names the family so;
    /// the text format's metadata and every counter sample carry `_total`).
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) kind: Kind,
    pub(crate) samples: Vec<Sample<'a>>,
}

impl Family<'_> {
    /// The name its samples carry: `<name>_total` for a counter.
    pub(crate) fn sample_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            Kind::Gauge => self.name.to_owned(),
        }
    }
}

/// Every family, in exposition order. Each breaker's series are present from registration
/// (at zero), so `increase()` and `rate()` see the first event of each.
pub(crate) fn families(snapshot: &RegistrySnapshot) -> Vec<Family<'_>> {
    let mut all = vec![
        calls(snapshot),
        rejections(snapshot),
        state(snapshot),
        transitions(snapshot),
        window_failure_rate(snapshot),
        trip_failure_rate(snapshot),
        failure_rate(snapshot),
        window_calls(snapshot),
        unhealthy(snapshot),
        family_keys(snapshot),
        family_counter(
            snapshot,
            "breaker_family_evictions",
            "Idle keys a keyed family evicted.",
            |f| f.evictions,
        ),
        family_counter(
            snapshot,
            "breaker_family_overflow_calls",
            "Calls a full keyed family sent to its overflow breaker.",
            |f| f.overflow_calls,
        ),
        family_counter(
            snapshot,
            "breaker_family_capped_trips",
            "Trips a keyed family's ejection cap (max_open_ratio) kept closed.",
            |f| f.capped_trips,
        ),
    ];
    all.extend(fleet(snapshot));
    all
}

/// The fuse first, then the components by name, then each keyed family's keys and its
/// overflow breaker (unless the family turned per-key series off): at most `max_keys + 1`
/// series sets per family.
fn breakers(snapshot: &RegistrySnapshot) -> impl Iterator<Item = &ComponentSnapshot> {
    let keys = snapshot
        .families
        .iter()
        .filter(|f| f.per_key_metrics)
        .flat_map(|f| f.keys.iter().chain(std::iter::once(&f.overflow)));
    std::iter::once(&snapshot.global)
        .chain(&snapshot.components)
        .chain(keys)
}

/// The labels that name one breaker's series, before the metric's own: `component`, and for
/// a key of a family, `component` = the family and `key` (the overflow breaker's key is
/// `__overflow__`).
fn breaker_labels(c: &ComponentSnapshot) -> Vec<(&'static str, &str)> {
    match (c.component.family(), c.component.key()) {
        (Some(family), Some(key)) => vec![("component", family), ("key", key)],
        _ => vec![("component", c.component.as_str())],
    }
}

/// One series of `c`: its breaker labels, then `extra`.
fn sample<'a>(
    c: &'a ComponentSnapshot,
    extra: &[(&'static str, &'a str)],
    value: Value,
) -> Sample<'a> {
    let mut labels = breaker_labels(c);
    labels.extend_from_slice(extra);
    Sample { labels, value }
}

fn calls(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_calls",
        help: "Calls that finished, by outcome; slow ones are also counted as success or failure.",
        kind: Kind::Counter,
        samples: breakers(snapshot)
            .flat_map(|c| {
                [
                    ("success", c.successes),
                    ("failure", c.failures),
                    ("ignored", c.ignored),
                    ("slow", c.slow_calls),
                ]
                .map(|(outcome, n)| sample(c, &[("outcome", outcome)], Value::Count(n)))
            })
            .collect(),
    }
}

fn rejections(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_rejections",
        help: "Calls refused without running, by reason.",
        kind: Kind::Counter,
        samples: breakers(snapshot)
            .flat_map(|c| {
                let r = c.rejections;
                [
                    ("open", r.open),
                    ("half_open_exhausted", r.half_open_exhausted),
                    ("global_open", r.global_open),
                    ("forced_open", r.forced_open),
                ]
                .map(|(reason, n)| sample(c, &[("reason", reason)], Value::Count(n)))
            })
            .collect(),
    }
}

fn state(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_state",
        help: "1 for the state the next call would see (the cooldown or half-open wait applied), 0 for the others.",
        kind: Kind::Gauge,
        samples: breakers(snapshot)
            .flat_map(|c| {
                CircuitState::ALL.map(|s| {
                    let on = u64::from(c.next_call_state == s);
                    sample(c, &[("state", s.as_str())], Value::Count(on))
                })
            })
            .collect(),
    }
}

/// Every `from`/`to` pair of the five states, at zero until it happens: an alert on
/// `increase(breaker_transitions_total{to="open"}[5m])` then sees the first trip too.
fn transitions(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_transitions",
        help: "State transitions, by the state left and the state entered.",
        kind: Kind::Counter,
        samples: breakers(snapshot)
            .flat_map(|c| {
                CircuitState::ALL.iter().flat_map(move |&from| {
                    CircuitState::ALL.iter().map(move |&to| {
                        let count = c
                            .transitions
                            .iter()
                            .find(|t| t.from == from && t.to == to)
                            .map_or(0, |t| t.count);
                        sample(
                            c,
                            &[("from", from.as_str()), ("to", to.as_str())],
                            Value::Count(count),
                        )
                    })
                })
            })
            .collect(),
    }
}

fn window_failure_rate(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_window_failure_rate",
        help: "Failed calls over calls in the current rolling window, as the trip check weighs them (restarts empty at each transition).",
        kind: Kind::Gauge,
        samples: breakers(snapshot)
            .map(|c| sample(c, &[], Value::Rate(rate(c.window.error_rate))))
            .collect(),
    }
}

fn trip_failure_rate(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_trip_failure_rate",
        help: "The window's failure rate when the breaker last tripped from closed to open, kept through the outage (0 before any trip).",
        kind: Kind::Gauge,
        samples: breakers(snapshot)
            .map(|c| sample(c, &[], Value::Rate(rate(c.trip_failure_rate))))
            .collect(),
    }
}

/// Deprecated: the same value as `breaker_window_failure_rate`, kept one release so that
/// existing dashboards keep working; its name did not say which rate it is.
fn failure_rate(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_failure_rate",
        help: "Deprecated: use breaker_window_failure_rate (the same value) or breaker_trip_failure_rate.",
        kind: Kind::Gauge,
        samples: breakers(snapshot)
            .map(|c| sample(c, &[], Value::Rate(rate(c.window.error_rate))))
            .collect(),
    }
}

fn window_calls(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_window_calls",
        help: "Calls in the current rolling window (ignored ones excluded), what min_calls is compared with.",
        kind: Kind::Gauge,
        samples: breakers(snapshot)
            .map(|c| sample(c, &[], Value::Count(c.window.calls)))
            .collect(),
    }
}

fn unhealthy(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_unhealthy_components",
        help: "Members of the global fuse (components, keyed families) that are unhealthy.",
        kind: Kind::Gauge,
        samples: vec![Sample {
            labels: Vec::new(),
            value: Value::Count(u64::from(snapshot.unhealthy)),
        }],
    }
}

/// Live keys of each keyed family, by state (every state present, at zero when none).
fn family_keys(snapshot: &RegistrySnapshot) -> Family<'_> {
    Family {
        name: "breaker_family_keys",
        help: "Live keys of a keyed family, by state.",
        kind: Kind::Gauge,
        samples: snapshot
            .families
            .iter()
            .flat_map(|f| {
                CircuitState::ALL.map(|s| {
                    let n = f.keys.iter().filter(|k| k.state == s).count();
                    Sample {
                        labels: vec![("family", f.family.as_str()), ("state", s.as_str())],
                        value: Value::Count(u64::try_from(n).unwrap_or(u64::MAX)),
                    }
                })
            })
            .collect(),
    }
}

/// One counter per keyed family.
fn family_counter<'a>(
    snapshot: &'a RegistrySnapshot,
    name: &'static str,
    help: &'static str,
    value: fn(&FamilySnapshot) -> u64,
) -> Family<'a> {
    Family {
        name,
        help,
        kind: Kind::Counter,
        samples: snapshot
            .families
            .iter()
            .map(|f| Sample {
                labels: vec![("family", f.family.as_str())],
                value: Value::Count(value(f)),
            })
            .collect(),
    }
}

/// The fleet quorum's health, present only while a fleet gates this registry.
fn fleet(snapshot: &RegistrySnapshot) -> Vec<Family<'static>> {
    let Some(fleet) = snapshot.fleet else {
        return Vec::new();
    };
    let one = |name, help, kind, value| Family {
        name,
        help,
        kind,
        samples: vec![Sample {
            labels: Vec::new(),
            value: Value::Count(value),
        }],
    };
    vec![
        one(
            "breaker_fleet_connected",
            "1 while the fleet quorum reaches Redis, 0 in local mode.",
            Kind::Gauge,
            u64::from(fleet.connected),
        ),
        one(
            "breaker_fleet_disconnects",
            "Times the fleet quorum lost Redis.",
            Kind::Counter,
            fleet.disconnects,
        ),
        one(
            "breaker_fleet_ignored_records",
            "Records read from Redis and ignored (malformed, oversized, future version).",
            Kind::Counter,
            fleet.ignored_records,
        ),
        one(
            "breaker_fleet_refusals",
            "Calls refused because a quorum of replicas saw the component open.",
            Kind::Counter,
            fleet.refused_calls,
        ),
    ]
}

/// A window's rate is an `f32`; widening it as is would print `0.6` as
/// `0.6000000238418579`, so it is rounded to the six decimals an `f32` can vouch for.
fn rate(r: f32) -> f64 {
    (f64::from(r) * 1e6).round() / 1e6
}
