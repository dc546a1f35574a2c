#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The Prometheus export: names, labels and values of every family, read at scrape time.

use std::sync::Arc;
use std::time::Duration;

use breaker::metrics::prometheus_client::encoding::text;
use breaker::metrics::prometheus_client::metrics::counter::Counter;
use breaker::metrics::prometheus_client::registry::Registry;
use breaker::metrics::{self, BreakerCollector, Format};
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

/// The OpenMetrics exposition (what these tests pinned before the text format existed).
fn om(registry: &breaker::GlobalCircuitBreaker) -> String {
    metrics::encode(registry, Format::OpenMetrics)
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
    let text = om(&registry);

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
    assert_sample(
        &text,
        r#"breaker_window_failure_rate{component="kraken_rest"} 0.0"#,
    );
    assert_sample(
        &text,
        r#"breaker_trip_failure_rate{component="kraken_rest"} 0.0"#,
    );
    assert_sample(&text, r#"breaker_window_calls{component="kraken_rest"} 0"#);
    assert_sample(&text, "breaker_unhealthy_components 0");
}

/// `increase()` over a series that appears with its first event misses that event: every
/// pair of the five states is there from registration, at zero, in both formats.
#[test]
fn every_transition_pair_is_exported_at_zero_from_registration() {
    let (_clock, registry, _log) = registry(CONFIG);
    registry.register("kraken_rest").unwrap();
    let states = ["closed", "open", "half_open", "forced_open", "disabled"];
    for format in [Format::OpenMetrics, Format::Text] {
        let text = metrics::encode(&registry, format);
        for component in ["__global__", "kraken_rest"] {
            for from in states {
                for to in states {
                    assert_sample(
                        &text,
                        &format!(
                            r#"breaker_transitions_total{{component="{component}",from="{from}",to="{to}"}} 0"#
                        ),
                    );
                }
            }
        }
    }
}

#[test]
fn descriptors_follow_the_openmetrics_naming_rules() {
    let (_clock, registry, _log) = registry(CONFIG);
    let text = om(&registry);
    for (family, kind) in [
        ("breaker_calls", "counter"),
        ("breaker_rejections", "counter"),
        ("breaker_state", "gauge"),
        ("breaker_failure_rate", "gauge"),
        ("breaker_window_failure_rate", "gauge"),
        ("breaker_trip_failure_rate", "gauge"),
        ("breaker_window_calls", "gauge"),
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

/// The text format 0.0.4 as Prometheus and `promtool` read it: a counter's HELP and TYPE are
/// under the `_total` name its samples carry, every family has both, and there is no `# EOF`.
#[test]
fn the_text_format_describes_counters_under_their_total_names() {
    let (_clock, registry, _log) = registry(CONFIG);
    registry.register("db").unwrap();
    let text = metrics::encode(&registry, Format::Text);
    for (name, kind) in [
        ("breaker_calls_total", "counter"),
        ("breaker_rejections_total", "counter"),
        ("breaker_transitions_total", "counter"),
        ("breaker_state", "gauge"),
        ("breaker_failure_rate", "gauge"),
        ("breaker_window_failure_rate", "gauge"),
        ("breaker_trip_failure_rate", "gauge"),
        ("breaker_window_calls", "gauge"),
        ("breaker_unhealthy_components", "gauge"),
    ] {
        let line = format!("# TYPE {name} {kind}");
        assert!(text.lines().any(|l| l == line), "missing `{line}`:\n{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {name} "))),
            "no HELP for {name}:\n{text}"
        );
    }
    // Every sample follows its family's metadata, under the same name.
    let mut described = "";
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            described = rest.split(' ').next().unwrap();
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, described, "`{line}` outside its family");
        }
    }
    assert!(!text.contains("# EOF"));
    assert!(!text.contains("# TYPE breaker_calls counter"));
    assert_sample(
        &text,
        r#"breaker_calls_total{component="db",outcome="success"} 0"#,
    );
    assert_eq!(Format::Text.content_type(), metrics::TEXT_CONTENT_TYPE);
    assert!(metrics::TEXT_CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));
}

/// Both formats carry the same samples; only the metadata and the `# EOF` differ.
#[test]
fn both_formats_carry_the_same_samples() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("db").unwrap();
    call(&b, Outcome::Success);
    call(&b, Outcome::Failure);
    let snapshot = registry.snapshot();
    let om = metrics::encode_snapshot(&snapshot, Format::OpenMetrics);
    let text = metrics::encode_snapshot(&snapshot, Format::Text);
    assert_eq!(samples(&om), samples(&text));
    assert_sample(&text, r#"breaker_window_calls{component="db"} 2"#);
}

#[test]
fn accept_headers_choose_the_format() {
    for (accept, format) in [
        ("", Format::Text),
        ("*/*", Format::Text),
        ("text/plain;version=0.0.4", Format::Text),
        ("text/plain; version=0.0.4; q=0.9, */*; q=0.1", Format::Text),
        ("application/openmetrics-text", Format::OpenMetrics),
        ("Application/OpenMetrics-Text; version=1.0.0", Format::OpenMetrics),
        // What Prometheus 2.42 sends.
        (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            Format::OpenMetrics,
        ),
        ("application/openmetrics-text;q=0.2, text/plain;q=0.8", Format::Text),
        ("application/openmetrics-text;q=0", Format::Text),
        ("application/json", Format::Text),
        ("garbage;;;=,", Format::Text),
    ] {
        assert_eq!(Format::from_accept(accept), format, "Accept: {accept}");
    }
}

/// The http router's `/metrics` serves what `Accept` asks for, with its content type.
#[tokio::test]
async fn the_metrics_route_negotiates_the_format() {
    use tower::ServiceExt;
    let (_clock, registry, _log) = registry(CONFIG);
    registry.register("db").unwrap();
    let router = breaker::http::router(Arc::new(registry));
    for (accept, content_type, eof) in [
        (None, metrics::TEXT_CONTENT_TYPE, false),
        (
            Some("text/plain; version=0.0.4"),
            metrics::TEXT_CONTENT_TYPE,
            false,
        ),
        (
            Some("application/openmetrics-text; version=1.0.0"),
            metrics::CONTENT_TYPE,
            true,
        ),
    ] {
        let mut request = http::Request::get("/metrics");
        if let Some(accept) = accept {
            request = request.header(http::header::ACCEPT, accept);
        }
        let response = router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], content_type);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(body.ends_with("# EOF\n"), eof, "Accept: {accept:?}");
        assert!(body.contains(r#"breaker_calls_total{component="db",outcome="success"} 0"#));
    }
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

    let text = om(&registry);
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
    // The window is a new episode's after the trip: empty again; the trip's rate is kept.
    assert_sample(&text, &format!(r#"breaker_failure_rate{{{c}}} 0.0"#));
    assert_sample(&text, &format!(r#"breaker_window_failure_rate{{{c}}} 0.0"#));
    assert_sample(&text, &format!(r#"breaker_window_calls{{{c}}} 0"#));
    assert_sample(&text, &format!(r#"breaker_trip_failure_rate{{{c}}} 0.5"#));
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
    let text = om(&registry);
    assert_sample(&text, r#"breaker_failure_rate{component="db"} 0.333333"#);
    assert_sample(
        &text,
        r#"breaker_window_failure_rate{component="db"} 0.333333"#,
    );
    // No trip yet.
    assert_sample(&text, r#"breaker_trip_failure_rate{component="db"} 0.0"#);
}

/// The rate that tripped a breaker stays through the outage (the window restarts at the
/// trip), through a failed probe episode, and after recovery until the next trip.
#[test]
fn the_trip_rate_is_held_through_the_outage() {
    let (clock, registry, _log) = registry(CircuitConfig {
        min_calls: 5,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..CONFIG
    });
    let b = registry.register("db").unwrap();
    let trip_rate = |registry: &breaker::GlobalCircuitBreaker| {
        let text = om(registry);
        let line = samples(&text)
            .into_iter()
            .find(|l| l.starts_with(r#"breaker_trip_failure_rate{component="db"}"#))
            .unwrap()
            .to_owned();
        line.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap()
    };
    for outcome in [
        Outcome::Success,
        Outcome::Success,
        Outcome::Failure,
        Outcome::Failure,
    ] {
        call(&b, outcome);
    }
    // 3 of 5: 0.6 >= 0.5, open.
    call(&b, Outcome::Failure);
    assert!(!b.acquire().is_allowed());
    assert_eq!(trip_rate(&registry), 0.6);
    assert_eq!(registry.snapshot().component("db").unwrap().window.calls, 0);

    // A failed probe re-opens it: still the trip's rate.
    clock.advance(CONFIG.open_cooldown);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), breaker::CircuitState::Open);
    assert_eq!(trip_rate(&registry), 0.6);

    // Recovery keeps the last trip's rate; the next trip replaces it.
    clock.advance(CONFIG.open_cooldown_max);
    call(&b, Outcome::Success);
    assert_eq!(b.state(), breaker::CircuitState::Closed);
    assert_eq!(trip_rate(&registry), 0.6);
    for _ in 0..5 {
        call(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), breaker::CircuitState::Open);
    assert_eq!(trip_rate(&registry), 1.0);
}

/// A trip on failures in a row keeps the window's rate as it was at the trip.
#[test]
fn a_consecutive_failures_trip_keeps_the_windows_rate() {
    let (_clock, registry, _log) = registry(CircuitConfig {
        min_calls: 100,
        consecutive_failures_threshold: Some(3),
        ..CONFIG
    });
    let b = registry.register("db").unwrap();
    call(&b, Outcome::Success);
    for _ in 0..3 {
        call(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), breaker::CircuitState::Open);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.component("db").unwrap().trip_failure_rate, 0.75);
    assert_sample(
        &om(&registry),
        r#"breaker_trip_failure_rate{component="db"} 0.75"#,
    );
}

#[test]
fn the_global_fuse_is_exported_as_global() {
    let (_clock, registry, _log) = registry(CONFIG);
    registry.register("a").unwrap();
    registry.global().force_open();
    let text = om(&registry);
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
