#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `on_metrics`: hooks receive the registry's metrics when a tick is asked for (never from
//! the call path), with the names and labels of the Prometheus export; a panicking hook is
//! contained.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker::metrics::{self, Format};
use breaker::{CircuitConfig, CircuitState, MetricKind, MetricsReport, Outcome};
use breaker_suite::{call, registry, trip};

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    ..CircuitConfig::DEFAULT
};

/// `name{labels} value` for every series, as the text format writes samples.
fn lines(report: &MetricsReport) -> Vec<String> {
    let mut out = Vec::new();
    report.for_each_series(|s| {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|(k, v)| format!(r#"{k}="{v}""#))
            .collect();
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", labels.join(","))
        };
        let value = if s.name.ends_with("_rate") {
            format!("{:?}", s.value)
        } else {
            format!("{}", s.value)
        };
        out.push(format!("{}{labels} {value}", s.name));
    });
    out
}

#[test]
fn hooks_receive_the_same_series_as_the_prometheus_export_at_each_tick() {
    let (_clock, registry, _log) = registry(CONFIG);
    let db = registry.register("db").unwrap();
    call(&db, Outcome::Success);
    trip(&db);
    assert!(!db.acquire().is_allowed());

    let seen: Arc<Mutex<Vec<MetricsReport>>> = Arc::default();
    let sink = Arc::clone(&seen);
    registry.on_metrics(move |r| sink.lock().unwrap().push(r.clone()));
    let report = registry.metrics_tick();
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        std::slice::from_ref(&report)
    );

    let text = metrics::encode_snapshot(&report.snapshot, Format::Text);
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines(&report), samples);
    let mut kinds = Vec::new();
    report.for_each_series(|s| {
        if s.name == "breaker_calls_total" || s.name == "breaker_state" {
            kinds.push((s.name.to_owned(), s.kind));
            assert!(!s.help.is_empty());
        }
    });
    assert!(kinds.contains(&("breaker_calls_total".to_owned(), MetricKind::Counter)));
    assert!(kinds.contains(&("breaker_state".to_owned(), MetricKind::Gauge)));
    let db = report.snapshot.component("db").unwrap();
    assert_eq!(db.state, CircuitState::Open);
    assert_eq!(db.rejections.open, 1);
    // 1 success then 3 failures: 3 of the 4 calls the window held at the trip.
    assert_eq!(db.trip_failure_rate, 0.75);
}

#[test]
fn calls_and_transitions_never_run_a_metrics_hook() {
    let (clock, registry, _log) = registry(CONFIG);
    let db = registry.register("db").unwrap();
    let ticks = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&ticks);
    registry.on_metrics(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    });
    for _ in 0..10 {
        call(&db, Outcome::Success);
    }
    trip(&db);
    clock.advance(CONFIG.open_cooldown);
    call(&db, Outcome::Success);
    assert_eq!(ticks.load(Ordering::SeqCst), 0);
    registry.metrics_tick();
    registry.metrics_tick();
    assert_eq!(ticks.load(Ordering::SeqCst), 2);
}

#[test]
fn a_panicking_hook_is_contained_and_the_others_still_run() {
    let (clock, registry, _log) = registry(CONFIG);
    let db = registry.register("db").unwrap();
    let order: Arc<Mutex<Vec<&str>>> = Arc::default();
    let (first, last) = (Arc::clone(&order), Arc::clone(&order));
    registry.on_metrics(move |_| first.lock().unwrap().push("first"));
    registry.on_metrics(|_| panic!("a broken exporter"));
    registry.on_metrics(move |_| last.lock().unwrap().push("last"));

    let report = registry.metrics_tick();
    assert_eq!(*order.lock().unwrap(), ["first", "last"]);
    assert_eq!(report.snapshot.components.len(), 1);
    // The registry and the breaker are unaffected, and the next tick runs them all again.
    trip(&db);
    clock.advance(Duration::from_secs(1));
    registry.metrics_tick();
    assert_eq!(*order.lock().unwrap(), ["first", "last", "first", "last"]);
    assert_eq!(db.state(), CircuitState::Open);
}

/// A hook may call back into the registry (a tick runs outside every lock).
#[test]
fn a_hook_may_use_the_registry() {
    let (_clock, registry, _log) = registry(CONFIG);
    let registry = Arc::new(registry);
    let inner = Arc::downgrade(&registry);
    let names: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&names);
    registry.on_metrics(move |_| {
        let registry = inner.upgrade().unwrap();
        registry.register("late").unwrap();
        sink.lock()
            .unwrap()
            .extend(registry.components().iter().map(|n| n.to_string()));
    });
    registry.metrics_tick();
    assert_eq!(*names.lock().unwrap(), ["late"]);
}
