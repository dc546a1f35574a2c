#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! What operators see of a family: snapshots list keys under their family, Prometheus has
//! per-key series with a `key` label and family aggregates (per-key series off with
//! `per_key_metrics = false`), and `/breakers` nests the keys under the family.

use std::sync::Arc;

use breaker::{CircuitConfig, FamilyConfig, GlobalCircuitBreaker, Outcome};
use breaker_suite::registry;
use futures::executor::block_on;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const KEYS: CircuitConfig = CircuitConfig {
    consecutive_failures_threshold: Some(1),
    ..CircuitConfig::DEFAULT
};

fn populated() -> (breaker::FakeClock, Arc<GlobalCircuitBreaker>) {
    let (clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let registry = Arc::new(registry);
    registry.register("db").unwrap();
    let hosts = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                max_keys: 2,
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    hosts
        .acquire("a.example")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    hosts
        .acquire("b\"ad")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    let _held = (hosts.key("a.example").unwrap(), hosts.key("b\"ad").unwrap());
    hosts
        .acquire("c.example")
        .into_result()
        .unwrap()
        .record(Outcome::Success); // overflow
    registry
        .register_family(
            "tenants",
            FamilyConfig {
                per_key_metrics: false,
                ..FamilyConfig::DEFAULT
            },
        )
        .unwrap()
        .acquire("t1")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    (clock, registry)
}

#[test]
fn snapshots_list_keys_under_their_family() {
    let (_clock, registry) = populated();
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.components.len(), 1, "keys are not components");
    let hosts = snapshot.family("hosts").unwrap();
    assert_eq!((hosts.live, hosts.unhealthy, hosts.max_keys), (2, 1, 2));
    assert_eq!(hosts.keys.len(), 2);
    assert_eq!(hosts.key("a.example").unwrap().successes, 1);
    assert_eq!(hosts.key("b\"ad").unwrap().component, "hosts[b\"ad]");
    assert_eq!(hosts.overflow_calls, 1);
    assert!(hosts.overflowing);
    assert_eq!(hosts.overflow.successes, 1);
    assert_eq!(snapshot.family("tenants").unwrap().live, 1);
    assert_eq!(registry.family("hosts").unwrap().snapshot(), *hosts);
}

#[test]
fn prometheus_has_per_key_series_and_family_aggregates() {
    let (_clock, registry) = populated();
    let text = breaker::metrics::encode(&registry, breaker::metrics::Format::Text);
    for line in [
        r#"breaker_calls_total{component="hosts",key="a.example",outcome="success"} 1"#,
        r#"breaker_state{component="hosts",key="b\"ad",state="open"} 1"#,
        r#"breaker_calls_total{component="hosts",key="__overflow__",outcome="success"} 1"#,
        r#"breaker_calls_total{component="db",outcome="success"} 0"#,
        r#"breaker_family_keys{family="hosts",state="closed"} 1"#,
        r#"breaker_family_keys{family="hosts",state="open"} 1"#,
        r#"breaker_family_keys{family="tenants",state="closed"} 1"#,
        r#"breaker_family_overflow_calls_total{family="hosts"} 1"#,
        r#"breaker_family_evictions_total{family="hosts"} 0"#,
        r#"breaker_family_capped_trips_total{family="hosts"} 0"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(
        !text.contains(r#"component="tenants""#),
        "per_key_metrics = false drops the per-key series"
    );
    // Per-key series are bounded by max_keys (+ the overflow breaker).
    let per_key = text
        .lines()
        .filter(|l| l.starts_with(r#"breaker_failure_rate{component="hosts""#))
        .count();
    assert_eq!(per_key, 3);
}

#[test]
fn breakers_json_nests_keys_under_the_family() {
    let (_clock, registry) = populated();
    let response = block_on(
        breaker::http::router(Arc::clone(&registry)).oneshot(
            Request::get("/breakers")
                .body(axum::body::Body::empty())
                .unwrap(),
        ),
    )
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = block_on(response.into_body().collect()).unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let families = json["families"].as_array().unwrap();
    assert_eq!(families.len(), 2);
    let hosts = &families[0];
    assert_eq!(hosts["family"], "hosts");
    assert_eq!(hosts["live"], 2);
    assert_eq!(hosts["overflowing"], true);
    assert_eq!(hosts["keys"][0]["component"], "hosts[a.example]");
    assert_eq!(hosts["keys"][1]["state"], "open");
    assert_eq!(hosts["overflow"]["component"], "hosts[__overflow__]");
    assert!(json["components"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["component"] != "hosts[a.example]"));
}
