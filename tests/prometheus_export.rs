#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The Prometheus export: names, labels and values of every family, read at scrape time.

use std::sync::Arc;
use std::time::Duration;

use breaker::metrics::prometheus_client::encoding::text;
use breaker::metrics::prometheus_client::metrics::counter::Counter;
use breaker::metrics::prometheus_client::registry::Registry;
use breaker::metrics::{self, BreakerCollector};
use breaker::{CircuitConfig, Outcome};
use breaker_suite::{call, registry};

/// Trips at 4 calls; a call of 1 s or more is slow.
const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    slow_call_threshold: Some(Duration::from_secs(1)),
    ..CircuitConfig::DEFAULT
};

/// The sample lines (no comments), for exact-line assertions.
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

fn assert_sample(text: &str, line: &str) {
    assert!(
        samples(text).contains(&line),
        "missing sample `{line}` in:\n{text}"
    );
}

#[test]
fn a_fresh_component_exports_every_family_at_zero() {
    let (_clock, registry, _log) = registry(CONFIG);
    registry.register("kraken_rest").unwrap();
    let text = metrics::encode(&registry);

    for outcome in ["success", "failure", "ignored", "slow"] {
        assert_sample(
            &text,
            &format!(r#"breaker_calls_total{{component="kraken_rest",outcome="{outcome}"}} 0"#),
        );
    }
    for reason in ["open", "half_open_exhausted", "global_open", "forced_open"] {
        assert_sample(
            &text,
            &format!(r#"breaker_rejections_total{{component="kraken_rest",reason="{reason}"}} 0"#),
        );
    }
    assert_sample(
        &text,
        r#"breaker_state{component="kraken_rest",state="closed"} 1"#,
    );
    for state in ["open", "half_open", "forced_open", "disabled"] {
        assert_sample(
            &text,
            &format!(r#"breaker_state{{component="kraken_rest",state="{state}"}} 0"#),
        );
    }
    assert_sample(
        &text,
        r#"breaker_failure_rate{component="kraken_rest"} 0.0"#,
    );
    assert_sample(&text, "breaker_unhealthy_components 0");
    assert!(
        !text.contains("breaker_transitions_total{"),
        "no transition yet:\n{text}"
    );
}

#[test]
fn descriptors_follow_the_openmetrics_naming_rules() {
    let (_clock, registry, _log) = registry(CONFIG);
    let text = metrics::encode(&registry);
    for (family, kind) in [
        ("breaker_calls", "counter"),
        ("breaker_rejections", "counter"),
        ("breaker_state", "gauge"),
        ("breaker_failure_rate", "gauge"),
        ("breaker_transitions", "counter"),
        ("breaker_unhealthy_components", "gauge"),
    ] {
        let line = format!("# TYPE {family} {kind}");
        assert!(text.lines().any(|l| l == line), "missing `{line}`:\n{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {family} "))),
            "no HELP for {family}"
        );
    }
    // Every counter sample ends in `_total`, and the exposition is complete.
    for line in samples(&text) {
        let name = line.split(['{', ' ']).next().unwrap();
        if ["breaker_calls", "breaker_rejections", "breaker_transitions"]
            .iter()
            .any(|c| name.starts_with(c))
        {
            assert!(name.ends_with("_total"), "counter sample `{line}`");
        }
    }
    assert!(text.ends_with("# EOF\n"));
    assert!(metrics::CONTENT_TYPE.starts_with("application/openmetrics-text; version=1.0.0"));
}

#[test]
fn outcomes_rejections_rate_state_and_transitions_after_a_trip() {
    let (clock, registry, _log) = registry(CONFIG);
    let b = registry.register("binance_rest").unwrap();
    call(&b, Outcome::Success);
    call(&b, Outcome::Ignored);
    // Slow and successful: counted under both outcomes.
    let slow = b.acquire().into_result().unwrap();
    clock.advance(Duration::from_secs(2));
    slow.record(Outcome::Success);
    call(&b, Outcome::Failure);
    call(&b, Outcome::Failure);
    // 2 failures of 4 counted calls (the ignored one is not counted): 0.5 >= 0.5, so open.
    assert!(!b.acquire().is_allowed());
    assert!(!b.acquire().is_allowed());

    let text = metrics::encode(&registry);
    let c = r#"component="binance_rest""#;
    assert_sample(
        &text,
        &format!(r#"breaker_calls_total{{{c},outcome="success"}} 2"#),
    );
    assert_sample(
        &text,
        &format!(r#"breaker_calls_total{{{c},outcome="failure"}} 2"#),
    );
    assert_sample(
        &text,
        &format!(r#"breaker_calls_total{{{c},outcome="ignored"}} 1"#),
    );
    assert_sample(
        &text,
        &format!(r#"breaker_calls_total{{{c},outcome="slow"}} 1"#),
    );
    assert_sample(
        &text,
        &format!(r#"breaker_rejections_total{{{c},reason="open"}} 2"#),
    );
    assert_sample(&text, &format!(r#"breaker_state{{{c},state="open"}} 1"#));
    assert_sample(&text, &format!(r#"breaker_state{{{c},state="closed"}} 0"#));
    // The window is a new episode's after the trip: empty again.
    assert_sample(&text, &format!(r#"breaker_failure_rate{{{c}}} 0.0"#));
    assert_sample(
        &text,
        &format!(r#"breaker_transitions_total{{{c},from="closed",to="open"}} 1"#),
    );
    assert_sample(&text, "breaker_unhealthy_components 1");
}

#[test]
fn the_failure_rate_is_the_windows_rate_with_clean_decimals() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("db").unwrap();
    // Below min_calls, so the breaker stays closed and the window keeps the rate.
    call(&b, Outcome::Success);
    call(&b, Outcome::Success);
    call(&b, Outcome::Failure);
    let text = metrics::encode(&registry);
    assert_sample(&text, r#"breaker_failure_rate{component="db"} 0.333333"#);
}

#[test]
fn the_global_fuse_is_exported_as_global() {
    let (_clock, registry, _log) = registry(CONFIG);
    registry.register("a").unwrap();
    registry.global().force_open();
    let text = metrics::encode(&registry);
    assert_sample(
        &text,
        r#"breaker_state{component="__global__",state="forced_open"} 1"#,
    );
    assert_sample(
        &text,
        r#"breaker_transitions_total{component="__global__",from="closed",to="forced_open"} 1"#,
    );
    assert_sample(
        &text,
        r#"breaker_calls_total{component="__global__",outcome="success"} 0"#,
    );
    // The fuse comes first, then the components by name.
    let first = samples(&text)[0];
    assert!(first.contains(r#"component="__global__""#), "{first}");
}

#[test]
fn a_registered_collector_reads_the_registry_at_every_scrape() {
    let (_clock, breakers, _log) = registry(CONFIG);
    let breakers = Arc::new(breakers);
    let b = breakers.register("ws").unwrap();

    let mut metrics = Registry::default();
    let requests: Counter = Counter::default();
    metrics.register("app_requests", "Requests served.", requests.clone());
    metrics
        .sub_registry_with_prefix("gateway")
        .register_collector(Box::new(BreakerCollector::new(Arc::clone(&breakers))));

    let scrape = |metrics: &Registry| {
        let mut out = String::new();
        text::encode(&mut out, metrics).unwrap();
        out
    };
    let before = scrape(&metrics);
    assert_sample(&before, "app_requests_total 0");
    assert_sample(
        &before,
        r#"gateway_breaker_calls_total{component="ws",outcome="success"} 0"#,
    );

    call(&b, Outcome::Success);
    requests.inc();
    let after = scrape(&metrics);
    assert_sample(&after, "app_requests_total 1");
    assert_sample(
        &after,
        r#"gateway_breaker_calls_total{component="ws",outcome="success"} 1"#,
    );
}

#[test]
fn the_process_wide_registry_works_as_a_static_source() {
    // `&'static GlobalCircuitBreaker` is a source too; this binary owns the process registry.
    let collector = BreakerCollector::new(breaker::registry());
    let mut metrics = Registry::default();
    metrics.register_collector(Box::new(collector));
    let mut out = String::new();
    text::encode(&mut out, &metrics).unwrap();
    assert_sample(
        &out,
        r#"breaker_state{component="__global__",state="closed"} 1"#,
    );
}
