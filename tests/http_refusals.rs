#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The tower layer's `503` in HTTP mode: a small body (JSON when the request's `Accept` asks
//! for it, text otherwise) and `Retry-After` on every refusal, half-open exhaustion and forced
//! open included (issue 13: the body was empty with no content type, and those two had no
//! `Retry-After`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use breaker::layer::CircuitBreakerLayer;
use breaker::{CircuitConfig, CircuitState};
use http::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{service_fn, Layer, Service, ServiceExt};

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 2,
    half_open_max_concurrent: 1,
    half_open_required_successes: 1,
    open_cooldown: Duration::from_secs(30),
    ..CircuitConfig::DEFAULT
};

/// Answers the status in the request's path (`/500`), never finishing `/hang`.
fn upstream() -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone
{
    service_fn(|req: Request<Body>| async move {
        let path = req.uri().path().trim_start_matches('/').to_owned();
        if path == "hang" {
            std::future::pending::<()>().await;
        }
        let status = StatusCode::from_u16(path.parse().unwrap()).unwrap();
        Ok(Response::builder()
            .status(status)
            .body(Body::empty())
            .unwrap())
    })
}

fn request(path: &str, accept: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(accept) = accept {
        builder = builder.header(ACCEPT, accept);
    }
    builder.body(Body::empty()).unwrap()
}

/// One request through `svc`, which answers it: in HTTP mode a refusal is a `503` response.
async fn send<S>(svc: &mut S, path: &str, accept: Option<&str>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Error: std::fmt::Debug,
{
    svc.ready()
        .await
        .unwrap()
        .call(request(path, accept))
        .await
        .unwrap()
}

async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn an_open_refusal_has_a_json_body_when_json_is_accepted_and_text_otherwise() {
    let (clock, registry, _log) = breaker_suite::registry(CONFIG);
    let layer = CircuitBreakerLayer::for_component(&registry, "quotes")
        .unwrap()
        .http();
    let mut svc = layer.layer(upstream());
    for _ in 0..2 {
        let r = send(&mut svc, "/500", None).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    clock.advance(Duration::from_millis(12_300));

    let refused = send(&mut svc, "/200", Some("application/json")).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()[RETRY_AFTER], "18");
    assert_eq!(refused.headers()[CONTENT_TYPE], "application/json");
    let body: serde_json::Value = serde_json::from_str(&text(refused).await).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "error": "circuit_open",
            "reason": "open",
            "component": "quotes",
            "retry_after_ms": 17_700,
        })
    );

    for accept in [
        None,
        Some("text/html, */*;q=0.8"),
        Some("application/json;q=0"),
    ] {
        let refused = send(&mut svc, "/200", accept).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            refused.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8",
            "{accept:?}"
        );
        let body = text(refused).await;
        assert!(body.contains("`quotes` is open"), "{body}");
    }
    // `application/*` and `+json` types count as asking for JSON.
    for accept in ["application/*", "application/problem+json"] {
        let refused = send(&mut svc, "/200", Some(accept)).await;
        assert_eq!(
            refused.headers()[CONTENT_TYPE],
            "application/json",
            "{accept}"
        );
    }
}

#[tokio::test]
async fn a_half_open_refusal_has_retry_after_and_a_body() {
    let (clock, registry, _log) = breaker_suite::registry(CONFIG);
    let b = registry.register("ledger").unwrap();
    let layer = CircuitBreakerLayer::new(Arc::clone(&b)).http();
    let mut svc = layer.layer(upstream());
    for _ in 0..2 {
        let r = send(&mut svc, "/503", None).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    clock.advance(Duration::from_secs(30));
    // The one probe slot is held by a call that does not finish.
    let probe = svc.ready().await.unwrap().call(request("/hang", None));
    let mut probe = Box::pin(probe);
    assert!(futures::poll!(probe.as_mut()).is_pending());
    assert_eq!(b.state(), CircuitState::HalfOpen);

    let refused = send(&mut svc, "/200", Some("application/json")).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()[RETRY_AFTER], "1");
    let body: serde_json::Value = serde_json::from_str(&text(refused).await).unwrap();
    assert_eq!(body["reason"], "half_open_exhausted");
    assert_eq!(body["component"], "ledger");
    assert_eq!(body["retry_after_ms"], 1000);
    drop(probe);
}

#[tokio::test]
async fn a_refusal_with_the_cooldown_just_over_still_says_at_least_one_second() {
    let (clock, registry, _log) = breaker_suite::registry(CONFIG);
    let b = registry.register("feed").unwrap();
    let mut svc = CircuitBreakerLayer::new(Arc::clone(&b))
        .http()
        .layer(upstream());
    for _ in 0..2 {
        let r = send(&mut svc, "/500", None).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    clock.advance(Duration::from_millis(29_999));
    let refused = send(&mut svc, "/200", None).await;
    assert_eq!(refused.headers()[RETRY_AFTER], "1");
}

/// A component name with characters JSON or HTML would misread (a family key can be any
/// UTF-8) is escaped in the JSON body, whatever the body type; the text body is the error.
#[test]
fn a_hostile_component_name_is_escaped_in_the_json_body() {
    use breaker::layer::{service_unavailable, Format};
    use breaker::CircuitError;

    let hostile = "k\"\\<>&\u{1}\u{e9}";
    let open = CircuitError::Open {
        component: hostile.into(),
        retry_after: Duration::from_millis(1500),
    };
    let response: Response<Vec<u8>> = service_unavailable(&open, Format::Json);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[RETRY_AFTER], "2");
    let body = String::from_utf8(response.into_body()).unwrap();
    for raw in ['<', '>', '&', '\u{1}'] {
        assert!(!body.contains(raw), "{raw:?} unescaped in {body}");
    }
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["component"], hostile);
    assert_eq!(json["retry_after_ms"], 1500);

    let text: Response<String> = service_unavailable(&open, Format::Text);
    assert_eq!(text.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(text.into_body(), format!("{open}\n"));

    let timeout = CircuitError::Timeout {
        component: hostile.into(),
        after: Duration::from_secs(2),
    };
    let response: Response<Vec<u8>> = service_unavailable(&timeout, Format::Json);
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(response.headers().get(RETRY_AFTER).is_none());
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(json["component"], hostile);
    assert_eq!(json["timeout_ms"], 2000);
}
