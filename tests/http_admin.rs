#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The admin router: every request without the bearer token is refused `401` (missing and
//! wrong alike), the right token forces open, disables and resets, and hostile requests get
//! clean 4xx. The change log is `http_admin_log.rs`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use breaker::http::AdminAuth;
use breaker::{CircuitState, GlobalCircuitBreaker};
use breaker_suite::ADMIN_TOKEN as TOKEN;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn setup() -> (Arc<GlobalCircuitBreaker>, Router) {
    breaker_suite::admin_fixture(breaker::http::admin)
}

async fn send(app: &Router, method: Method, path: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    let response = app
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn requests_without_the_token_are_refused_and_change_nothing() {
    let (registry, admin) = setup();
    let db = registry.component("db").unwrap();
    let wrong = bearer("correct-horse-battery-stapl");
    let longer = bearer(&format!("{TOKEN}x"));
    let cases: [Option<&str>; 7] = [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some(&wrong),
        Some(&longer),
        // The token, but not as a bearer credential.
        Some(TOKEN),
    ];
    for auth in cases {
        for action in ["force-open", "disable", "reset"] {
            let path = format!("/breakers/db/{action}");
            let (status, body) = send(&admin, Method::POST, &path, auth).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?} {action}");
            assert_eq!(body["error"], "unauthorized");
        }
    }
    // Refused before routing: an odd path or method learns nothing either.
    assert_eq!(
        send(&admin, Method::GET, "/nope", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(db.state(), CircuitState::Closed);
    let response = admin
        .clone()
        .oneshot(
            Request::post("/breakers/db/reset")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"breaker-admin\""
    );
}

#[tokio::test]
async fn the_right_token_forces_open_disables_and_resets() {
    let (registry, admin) = setup();
    let db = registry.component("db").unwrap();
    let auth = bearer(TOKEN);
    let (status, body) = send(&admin, Method::POST, "/breakers/db/force-open", Some(&auth)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::json!({"component": "db", "action": "force_open", "from": "closed", "state": "forced_open"})
    );
    assert_eq!(db.state(), CircuitState::ForcedOpen);
    let (status, body) = send(&admin, Method::POST, "/breakers/db/disable", Some(&auth)).await;
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::OK, &Value::from("disabled"))
    );
    assert_eq!(db.state(), CircuitState::Disabled);
    let (status, _) = send(&admin, Method::POST, "/breakers/db/reset", Some(&auth)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(db.state(), CircuitState::Closed);
    // The fuse is reachable by its name: the operator's kill switch.
    let (status, _) = send(
        &admin,
        Method::POST,
        "/breakers/__global__/force-open",
        Some(&auth),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(registry.global().state(), CircuitState::ForcedOpen);
}

#[tokio::test]
async fn an_unknown_component_bad_methods_and_odd_paths_are_clean_4xx() {
    let (_registry, admin) = setup();
    let auth = bearer(TOKEN);
    let (status, body) = send(&admin, Method::POST, "/breakers/nosuch/reset", Some(&auth)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        serde_json::json!({"error": "unknown_component", "component": "nosuch"})
    );
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, _) = send(&admin, method.clone(), "/breakers/db/reset", Some(&auth)).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    for path in [
        "/breakers/db/explode",
        "/breakers/db",
        "/",
        "/breakers/db/reset/again",
        "/..%2f..%2fetc",
    ] {
        let (status, _) = send(&admin, Method::POST, path, Some(&auth)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_huge_body_is_refused_without_being_read() {
    let (registry, admin) = setup();
    // 64 MiB announced; the stream would fail if read.
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Vec<u8>, std::io::Error>(std::io::Error::other("the body was read"))
    }));
    let request = Request::post("/breakers/db/force-open")
        .header(header::AUTHORIZATION, bearer(TOKEN))
        .header(header::CONTENT_LENGTH, 64 << 20)
        .body(body)
        .unwrap();
    let response = admin.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        registry.component("db").unwrap().state(),
        CircuitState::Closed
    );
}

#[test]
fn the_token_is_not_in_debug_output() {
    let auth = AdminAuth::bearer(TOKEN).label("oncall");
    let debug = format!("{auth:?}");
    assert!(
        debug.contains("oncall") && !debug.contains(TOKEN),
        "{debug}"
    );
}
