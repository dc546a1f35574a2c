#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The read-only router's endpoints: `/breakers` (durations a person reads, the last
//! transition with its reason, the config file and its last reload, internal fields under
//! `debug`), `/breakers/{name}`, `/events/recent`, `/health`, and the dashboard page.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use breaker::{CircuitConfig, GlobalCircuitBreaker};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

breaker::breakers! {
    quotes { min_calls: 5 },
}

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 2,
    open_cooldown: Duration::from_secs(600),
    ..CircuitConfig::DEFAULT
};

async fn get(app: &Router, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = raw(app, Method::GET, path).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn raw(app: &Router, method: Method, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn setup() -> (breaker::FakeClock, Arc<GlobalCircuitBreaker>, Router) {
    let (clock, registry, _log) = breaker_suite::registry(CONFIG);
    let registry = Arc::new(registry);
    let app = breaker::http::builder(Arc::clone(&registry))
        .health_critical(["db"])
        .recent_events(3)
        .build();
    (clock, registry, app)
}

#[tokio::test]
async fn breakers_reads_like_a_person_wrote_it() {
    let (clock, registry, app) = setup();
    let db = registry.register("db").unwrap();
    registry.register("cache").unwrap();
    breaker_suite::trip(&db);
    clock.advance(Duration::from_millis(356_789));

    let (status, json) = get(&app, "/breakers").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = json["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cache", "db"]);
    let db = &json["components"][1];
    assert_eq!(db["state"], "open");
    assert_eq!(db["time_in_state"], "5m 56s");
    assert_eq!(db["time_in_state_ms"], 356_789);
    assert_eq!(db["retry_after"], "4m 3s");
    assert_eq!(db["retry_after_ms"], 243_211);
    assert_eq!(db["last_transition"]["from"], "closed");
    assert_eq!(db["last_transition"]["to"], "open");
    assert_eq!(
        db["last_transition"]["reason"],
        "error rate 1 >= 0.5 over 2 calls"
    );
    assert_eq!(db["last_transition"]["ago"], "5m 56s");
    assert!(db["last_transition"]["at_unix_ms"].as_u64().unwrap() > 1_600_000_000_000);
    // Internal fields only under `debug`.
    assert!(db.get("generation").is_none() && db.get("stripes").is_none());
    assert_eq!(db["debug"]["generation"], 1);
    assert!(db["debug"]["stripes"].as_u64().is_some());
    assert_eq!(json["components"][0]["last_transition"], Value::Null);
    assert_eq!(json["config_file"]["path"], Value::Null);
    assert_eq!(json["debug"]["sse_clients"], 0);

    let (status, one) = get(&app, "/breakers/db").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, *db);
}

#[tokio::test]
async fn an_unknown_breaker_is_a_json_404_with_the_name_escaped() {
    let (_clock, _registry, app) = setup();
    let (status, headers, body) = raw(&app, Method::GET, "/breakers/%3Cscript%3E%22x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(!body.contains('<'), "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "unknown_component");
    assert_eq!(json["component"], "<script>\"x");
}

#[tokio::test]
async fn recent_events_keep_the_last_n_transitions_and_reloads() {
    let (_clock, registry, app) = setup();
    let db = registry.register("db").unwrap();
    db.force_open();
    db.reset();
    registry
        .reload_from_str("[components.nosuch]\nmin_calls = 3\n")
        .unwrap();
    assert!(registry
        .reload_from_str("[defaults]\nmin_calls = -1\n")
        .is_err());

    let (status, json) = get(&app, "/events/recent").await;
    assert_eq!(status, StatusCode::OK);
    let events = json["events"].as_array().unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // The ring holds 3: the force-open fell out.
    assert_eq!(kinds, ["transition", "file_reloaded", "file_refused"]);
    assert_eq!(events[0]["component"], "db");
    assert_eq!(events[0]["reason"], "reset");
    assert_eq!(events[1]["unknown_components"][0], "nosuch");
    let error = events[2]["error"].as_str().unwrap();
    assert!(error.contains("<config>:2"), "{error}");
    let seqs: Vec<_> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let (_, json) = get(&app, "/events/recent?limit=1").await;
    assert_eq!(json["events"].as_array().unwrap().len(), 1);
    assert_eq!(json["events"][0]["kind"], "file_refused");
    let (status, _) = get(&app, "/events/recent?limit=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // `/breakers` shows the last reload's result.
    let (_, json) = get(&app, "/breakers").await;
    assert_eq!(json["config_file"]["last_reload"]["kind"], "file_refused");
}

#[tokio::test]
async fn health_is_degraded_while_a_critical_component_is_open() {
    let (clock, registry, app) = setup();
    let db = registry.register("db").unwrap();
    let cache = registry.register("cache").unwrap();
    assert_eq!(
        get(&app, "/health").await,
        (StatusCode::OK, serde_json::json!({"status": "up"}))
    );

    // Not critical: still up.
    breaker_suite::trip(&cache);
    assert_eq!(get(&app, "/health").await.0, StatusCode::OK);

    breaker_suite::trip(&db);
    assert_eq!(
        get(&app, "/health").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "degraded", "open": ["db"]})
        )
    );
    // Half-open lets probes through: up again.
    clock.advance(Duration::from_secs(600));
    assert!(db.acquire().into_result().is_ok());
    assert_eq!(get(&app, "/health").await.0, StatusCode::OK);
    db.force_open();
    assert_eq!(
        get(&app, "/health").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn health_follows_the_global_fuse_by_default() {
    let (_clock, registry, _log) = breaker_suite::registry(CONFIG);
    let registry = Arc::new(registry);
    let app = breaker::http::router(Arc::clone(&registry));
    registry.register("db").unwrap();
    assert_eq!(get(&app, "/health").await.0, StatusCode::OK);
    registry.global().force_open();
    assert_eq!(
        get(&app, "/health").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "degraded", "open": ["__global__"]})
        )
    );
}

#[tokio::test]
async fn the_page_is_self_contained_and_loads_nothing_from_elsewhere() {
    let (_clock, _registry, app) = setup();
    let (status, headers, body) = raw(&app, Method::GET, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    assert!(body.contains("new EventSource"));
    assert!(
        !body.contains("http://") || !body.contains("src=\"http"),
        "no remote assets"
    );
    assert!(!body.contains("https://"), "no CDN");
    assert!(!body.contains("innerHTML"), "data goes in as text");
    // Only the one inline script, closed once.
    assert_eq!(body.matches("</script>").count(), 1);

    for method in [Method::POST, Method::PUT, Method::DELETE] {
        for path in ["/", "/events", "/events/recent", "/health", "/breakers/db"] {
            let (status, _, _) = raw(&app, method.clone(), path).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn breakers_shows_each_config_value_with_its_layer_and_the_file_in_force() {
    let (_clock, registry, app) = setup();
    registry.register("db").unwrap();
    registry
        .register_with(
            "ledger",
            CircuitConfig {
                min_calls: 9,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(
        &path,
        "[defaults]\nrolling_window = \"20s\"\n\n[components.db]\nmin_calls = 7\n",
    )
    .unwrap();
    registry.reload_from_path(&path).unwrap();

    let (_, json) = get(&app, "/breakers").await;
    let shown_path = path.display().to_string();
    assert_eq!(json["config_file"]["path"], shown_path.as_str());
    assert_eq!(json["config_file"]["last_reload"]["kind"], "file_reloaded");
    assert_eq!(
        json["config_file"]["last_reload"]["path"],
        shown_path.as_str()
    );

    let (_, db) = get(&app, "/breakers/db").await;
    let config = &db["config"];
    assert_eq!(
        config["min_calls"],
        serde_json::json!({"value": 7, "layer": "file", "path": shown_path, "section": "components.db", "line": 5})
    );
    assert_eq!(config["rolling_window"]["value"], "20s");
    assert_eq!(config["rolling_window"]["section"], "defaults");
    assert_eq!(config["rolling_window"]["line"], 2);
    assert_eq!(
        config["error_rate_threshold"],
        serde_json::json!({"value": 0.5, "layer": "registry"})
    );

    let (_, ledger) = get(&app, "/breakers/ledger").await;
    assert_eq!(
        ledger["config"]["min_calls"],
        serde_json::json!({"value": 9, "layer": "code"})
    );
    // A whole config in code wins over the file's defaults.
    assert_eq!(ledger["config"]["rolling_window"]["layer"], "code");
    // The fuse reads the registry's conditions only.
    assert_eq!(
        ledger["config"]["global_trip_conditions.min_calls"],
        serde_json::json!({"value": 0, "layer": "registry"})
    );
}

#[tokio::test]
async fn nested_under_a_prefix_the_page_and_its_routes_answer() {
    let (_clock, registry, _app) = setup();
    let app = Router::new().nest("/ops", breaker::http::router(Arc::clone(&registry)));
    // The page at the prefix finds its routes relative to itself (`/ops/events`, ..).
    let (status, _, body) = raw(&app, Method::GET, "/ops").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("location.pathname"));
    assert_eq!(get(&app, "/ops/events/recent").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/ops/health").await.0, StatusCode::OK);
}

/// A keyed family's overflow episode reaches the recent-events ring (and so the dashboard's
/// timeline) as records that name the family and say how many calls overflowed, and
/// `/breakers` lists the family with its keys and its overflow breaker.
#[tokio::test]
async fn a_family_overflow_shows_in_recent_events_and_breakers() {
    let (_clock, registry) = {
        let (clock, registry, _log) = breaker_suite::registry(CONFIG);
        (clock, Arc::new(registry))
    };
    let app = breaker::http::builder(Arc::clone(&registry))
        .recent_events(10)
        .build();
    let family = registry
        .register_family(
            "hosts",
            breaker::FamilyConfig {
                max_keys: 1,
                idle_ttl: Duration::from_secs(600),
                ..breaker::FamilyConfig::DEFAULT
            },
        )
        .unwrap();
    let held = family.key("a.example").unwrap();
    let overflow = family.key("b.example").unwrap();
    assert!(overflow.is_overflow());

    let (_, json) = get(&app, "/events/recent").await;
    let events = json["events"].as_array().unwrap();
    let started = events
        .iter()
        .find(|e| e["kind"] == "family_overflow_started")
        .unwrap_or_else(|| panic!("no overflow record in {events:?}"));
    assert_eq!(started["component"], "hosts");
    assert!(
        started["reason"]
            .as_str()
            .unwrap()
            .contains("sent to the overflow breaker"),
        "{started}"
    );

    let (_, json) = get(&app, "/breakers").await;
    let hosts = &json["families"][0];
    assert_eq!(hosts["family"], "hosts");
    assert_eq!(hosts["overflowing"], true);
    assert_eq!(hosts["keys"][0]["component"], "hosts[a.example]");
    assert_eq!(hosts["overflow"]["component"], "hosts[__overflow__]");
    drop((held, overflow));
}

/// A `breakers!` entry's fields show the manifest as their layer; the fields it leaves show
/// the registry's defaults.
#[tokio::test]
async fn a_manifest_entrys_fields_show_the_manifest_as_their_layer() {
    let (_clock, registry, app) = setup();
    breakers::declare(&registry).unwrap();
    let (status, quotes) = get(&app, "/breakers/quotes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        quotes["config"]["min_calls"],
        serde_json::json!({"value": 5, "layer": "manifest"})
    );
    assert_eq!(
        quotes["config"]["open_cooldown"],
        serde_json::json!({"value": "10m", "layer": "registry"})
    );
}
