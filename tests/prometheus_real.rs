#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A real `prometheus` (Debian package `prometheus`) scrapes a registry served on 127.0.0.1
//! by the http router, in both formats (its default `Accept` gets OpenMetrics from
//! `/metrics`; a second job scrapes the text format), with `dashboards/alerts.yml` loaded.
//! The breakers trip after the first scrape, so the alerts see the first trip of each (the
//! transition series start at 0). Then: `promtool check rules`, every alert rule healthy and
//! the opened / fuse alerts firing, each format's metadata as Prometheus stored it, and every
//! panel query of `dashboards/grafana.json` returning data through `/api/v1/query`. Fails
//! under `CI=true` when prometheus or promtool is missing, skips otherwise. Every wait is a
//! bounded poll; breaker time is a `FakeClock`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use breaker::metrics::{self, Format};
use breaker::{CircuitConfig, GlobalCircuitBreaker, GlobalTripConditions};
use breaker_suite::prometheus::{encode_query, poll, run, tool, Prometheus};
use breaker_suite::{registry, trip};
use serde_json::Value;

/// Trips on 4 calls; the fuse opens when 2 of the 3 components are open.
const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    global_trip_conditions: GlobalTripConditions {
        component_open_ratio: 0.5,
        min_components: 3,
        min_calls: 0,
    },
    ..CircuitConfig::DEFAULT
};

/// The longest any one wait may take; the whole test stays well under 30 s.
const WAIT: Duration = Duration::from_secs(20);

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Serves `registry`: `/metrics` (negotiated) and `/metrics/text` (always the text format).
fn serve(runtime: &tokio::runtime::Runtime, registry: Arc<GlobalCircuitBreaker>) -> SocketAddr {
    let text = Arc::clone(&registry);
    let app = breaker::http::router(registry).route(
        "/metrics/text",
        get(move || {
            let text = Arc::clone(&text);
            async move {
                (
                    [(http::header::CONTENT_TYPE, metrics::TEXT_CONTENT_TYPE)],
                    metrics::encode(&text, Format::Text),
                )
            }
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    addr
}

fn config(target: SocketAddr) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
scrape_configs:
  - job_name: breaker_openmetrics
    metrics_path: /metrics
    static_configs:
      - targets: ["{target}"]
  - job_name: breaker_text
    metrics_path: /metrics/text
    static_configs:
      - targets: ["{target}"]
"#,
        rules = repo("dashboards/alerts.yml").display()
    )
}

/// `data` of a successful API answer.
fn api(prometheus: &Prometheus, path: &str) -> Option<Value> {
    let body: Value = serde_json::from_str(&prometheus.get(path)?).ok()?;
    (body["status"] == "success").then(|| body["data"].clone())
}

fn query(prometheus: &Prometheus, expr: &str) -> Option<Value> {
    api(
        prometheus,
        &format!("/api/v1/query?query={}", encode_query(expr)),
    )
}

/// Every panel's queries, with the dashboard's `$component` variable at its "All" value.
fn panel_queries() -> Vec<(String, String)> {
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("dashboards/grafana.json")).unwrap())
            .unwrap();
    let variable = &dashboard["templating"]["list"][0];
    assert_eq!(variable["name"], "component");
    let all = variable["allValue"].as_str().unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().unwrap().replace("$component", all);
            assert!(!expr.contains('$'), "an unknown variable in `{expr}`");
            queries.push((panel["title"].as_str().unwrap().to_owned(), expr));
        }
    }
    // State, failure rates, calls, rejections, transitions.
    for metric in [
        "breaker_state",
        "breaker_window_failure_rate",
        "breaker_trip_failure_rate",
        "breaker_calls_total",
        "breaker_rejections_total",
        "breaker_transitions_total",
    ] {
        assert!(
            queries.iter().any(|(_, q)| q.contains(metric)),
            "no panel shows {metric}"
        );
    }
    queries
}

#[test]
fn a_real_prometheus_scrapes_both_formats_and_evaluates_the_dashboard_and_alerts() {
    let (Some(prometheus_bin), Some(promtool)) = (tool("prometheus"), tool("promtool")) else {
        return;
    };
    let rules = run(
        &promtool,
        &[
            "check",
            "rules",
            repo("dashboards/alerts.yml").to_str().unwrap(),
        ],
        "",
    );
    assert!(
        rules.status.success(),
        "promtool check rules: {}{}",
        String::from_utf8_lossy(&rules.stdout),
        String::from_utf8_lossy(&rules.stderr)
    );
    let queries = panel_queries();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (_clock, registry, _log) = registry(CONFIG);
    let registry = Arc::new(registry);
    let payments = registry.register("payments").unwrap();
    let ledger = registry.register("ledger").unwrap();
    let quotes = registry.register("quotes").unwrap();
    let target = serve(&runtime, Arc::clone(&registry));
    let prometheus = Prometheus::start(&prometheus_bin, &config(target));

    // Both targets scraped at least once, without error, while every breaker is closed.
    let up = poll(WAIT, || {
        let targets = api(&prometheus, "/api/v1/targets")?;
        let active = targets["activeTargets"].as_array()?;
        (active.len() == 2
            && active
                .iter()
                .all(|t| t["health"] == "up" && t["lastError"] == ""))
        .then_some(())
    });
    assert!(
        up.is_some(),
        "targets not up: {:?}\n{}",
        api(&prometheus, "/api/v1/targets"),
        prometheus.log()
    );
    let scraped_closed = poll(WAIT, || {
        let r = query(
            &prometheus,
            r#"breaker_state{component="payments",state="closed"} == 1"#,
        )?;
        (r["result"].as_array()?.len() == 2).then_some(())
    });
    assert!(scraped_closed.is_some(), "{}", prometheus.log());

    // Two of three components open: the fuse opens too; refusals by both reasons.
    trip(&payments);
    trip(&ledger);
    assert_eq!(registry.global().state(), breaker::CircuitState::Open);
    for _ in 0..5 {
        assert!(!payments.acquire().is_allowed());
        assert!(!quotes.acquire().is_allowed());
    }

    // The alerts see the first trip of each breaker, and the fuse.
    let firing = poll(WAIT, || {
        let alerts = api(&prometheus, "/api/v1/alerts")?;
        let alerts = alerts["alerts"].as_array()?;
        let is = |name: &str, component: Option<&str>| {
            alerts.iter().any(|a| {
                a["labels"]["alertname"] == name
                    && a["state"] == "firing"
                    && component.is_none_or(|c| a["labels"]["component"] == c)
            })
        };
        (is("BreakerOpened", Some("payments"))
            && is("BreakerOpened", Some("ledger"))
            && is("BreakerFuseOpen", None))
        .then_some(())
    });
    assert!(
        firing.is_some(),
        "alerts: {:?}",
        api(&prometheus, "/api/v1/alerts")
    );
    let groups = api(&prometheus, "/api/v1/rules").unwrap();
    let rules: Vec<&Value> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert_eq!(rules.len(), 3);
    for rule in rules {
        assert_eq!(rule["health"], "ok", "{rule}");
    }

    // Each format's metadata as Prometheus stored it: the OpenMetrics family name, and the
    // text format's `_total` name, both with help and type.
    for (job, name) in [
        ("breaker_openmetrics", "breaker_calls"),
        ("breaker_text", "breaker_calls_total"),
    ] {
        let path = format!(
            "/api/v1/targets/metadata?metric={name}&match_target={}",
            encode_query(&format!(r#"{{job="{job}"}}"#))
        );
        let metadata = api(&prometheus, &path).unwrap();
        let entry = &metadata.as_array().unwrap()[0];
        assert_eq!(entry["type"], "counter", "{job}: {metadata}");
        assert!(
            entry["help"]
                .as_str()
                .unwrap()
                .starts_with("Calls that finished"),
            "{job}: {metadata}"
        );
    }

    // Every panel returns data (rates need two samples after the trip: polled).
    for (panel, expr) in &queries {
        let data = poll(WAIT, || {
            let data = query(&prometheus, expr)?;
            (!data["result"].as_array()?.is_empty()).then_some(data)
        });
        assert!(
            data.is_some(),
            "panel `{panel}`: `{expr}` returned no data: {:?}",
            query(&prometheus, expr)
        );
    }
    // The trip's rate is held while the window restarted: the panel shows both.
    let rate = query(
        &prometheus,
        r#"max(breaker_trip_failure_rate{component="payments"})"#,
    )
    .unwrap();
    assert_eq!(rate["result"][0]["value"][1], "1");
}
