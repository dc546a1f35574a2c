#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The `metrics-rs` exporter: every series of the Prometheus export reaches a `metrics`
//! recorder (here `metrics-util`'s `DebuggingRecorder`) under the same name, labels and
//! value, counters as counters, gauges as gauges, each described.

use std::collections::BTreeMap;
use std::time::Duration;

use breaker::metrics::{encode_snapshot, Format};
use breaker::{CircuitConfig, Outcome};
use breaker_suite::{call, registry, trip};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    slow_call_threshold: Some(Duration::from_secs(1)),
    ..CircuitConfig::DEFAULT
};

/// `name{labels}` -> value, from the text export.
fn exported(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_owned(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn every_series_reaches_the_recorder_with_the_prometheus_names_and_labels() {
    let (clock, registry, _log) = registry(CONFIG);
    let db = registry.register("db").unwrap();
    registry.register("cache").unwrap().force_open();
    let slow = db.acquire().into_result().unwrap();
    clock.advance(Duration::from_secs(2));
    slow.record(Outcome::Success);
    call(&db, Outcome::Ignored);
    trip(&db);
    assert!(!db.acquire().is_allowed());
    breaker::metrics_rs::install(&registry);

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let report = ::metrics::with_local_recorder(&recorder, || registry.metrics_tick());

    let mut seen = BTreeMap::new();
    for (key, _unit, description, value) in snapshotter.snapshot().into_vec() {
        let (kind, key) = key.into_parts();
        let (name, labels) = key.into_parts();
        let labels: Vec<String> = labels
            .iter()
            .map(|l| format!(r#"{}="{}""#, l.key(), l.value()))
            .collect();
        let series = if labels.is_empty() {
            name.as_str().to_owned()
        } else {
            format!("{}{{{}}}", name.as_str(), labels.join(","))
        };
        assert!(
            description.is_some_and(|d| !d.is_empty()),
            "{series} has no help"
        );
        let value = match (kind, value) {
            (MetricKind::Counter, DebugValue::Counter(n)) => {
                assert!(name.as_str().ends_with("_total"), "{series}");
                n as f64
            }
            (MetricKind::Gauge, DebugValue::Gauge(v)) => {
                assert!(!name.as_str().ends_with("_total"), "{series}");
                v.into_inner()
            }
            other => panic!("{series}: {other:?}"),
        };
        seen.insert(series, value);
    }
    let expected = exported(&encode_snapshot(&report.snapshot, Format::Text));
    assert_eq!(seen, expected);
    // Spot checks, so an empty export cannot pass.
    assert_eq!(
        seen[r#"breaker_calls_total{component="db",outcome="slow"}"#],
        1.0
    );
    assert_eq!(
        seen[r#"breaker_rejections_total{component="db",reason="open"}"#],
        1.0
    );
    assert_eq!(
        seen[r#"breaker_state{component="cache",state="forced_open"}"#],
        1.0
    );
    assert_eq!(
        seen[r#"breaker_transitions_total{component="db",from="closed",to="open"}"#],
        1.0
    );
    assert_eq!(seen["breaker_unhealthy_components"], 1.0);
}

/// Without a recorder the export does nothing, and a later tick updates the values. (The
/// debugging recorder drains a counter when it is read; `absolute` sets it to the total.)
#[test]
fn ticks_update_the_recorded_values() {
    let (_clock, registry, _log) = registry(CONFIG);
    let db = registry.register("db").unwrap();
    breaker::metrics_rs::install(&registry);
    registry.metrics_tick();

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let successes = |snapshotter: &metrics_util::debugging::Snapshotter| {
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .find_map(|(key, _, _, value)| {
                let key = key.key();
                let has = |k: &str, v: &str| key.labels().any(|l| l.key() == k && l.value() == v);
                (key.name() == "breaker_calls_total"
                    && has("component", "db")
                    && has("outcome", "success"))
                .then_some(value)
            })
    };
    ::metrics::with_local_recorder(&recorder, || registry.metrics_tick());
    assert_eq!(successes(&snapshotter), Some(DebugValue::Counter(0)));
    call(&db, Outcome::Success);
    call(&db, Outcome::Success);
    ::metrics::with_local_recorder(&recorder, || registry.metrics_tick());
    assert_eq!(successes(&snapshotter), Some(DebugValue::Counter(2)));
}
