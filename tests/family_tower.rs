#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The tower layer for a family: the key comes from the request (a client's authority, a
//! server's tenant header, any closure), so one bad upstream opens only its own key.

use std::borrow::Cow;
use std::convert::Infallible;

use breaker::layer::{Authority, CircuitBreakerLayer, Header, RequestKey, Unkeyed};
use breaker::{CircuitConfig, CircuitState, FamilyConfig, FamilyHandle};
use breaker_suite::registry;
use futures::executor::block_on;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use tower::{service_fn, Layer, ServiceExt};

const KEYS: CircuitConfig = CircuitConfig {
    consecutive_failures_threshold: Some(2),
    ..CircuitConfig::DEFAULT
};

/// Answers 500 for the host `bad.example`, 200 otherwise.
async fn upstream(request: Request<()>) -> Result<Response<()>, Infallible> {
    let bad = request.uri().host() == Some("bad.example")
        || request
            .headers()
            .get("x-tenant")
            .is_some_and(|t| t == "bad");
    let status = if bad { 500 } else { 200 };
    Ok(Response::builder().status(status).body(()).unwrap())
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

#[test]
fn a_client_layer_keyed_by_authority_opens_only_the_bad_host() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    registry
        .register_family_with("upstream_host", FamilyConfig::DEFAULT, KEYS)
        .unwrap();
    let layer = CircuitBreakerLayer::for_family_by(&registry, "upstream_host", Authority)
        .unwrap()
        .http();
    let service = layer.layer(service_fn(upstream));
    for _ in 0..2 {
        let r = block_on(service.clone().oneshot(get("http://bad.example:8080/x"))).unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    let refused = block_on(service.clone().oneshot(get("http://bad.example:8080/x"))).unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let fine = block_on(service.clone().oneshot(get("http://good.example/x"))).unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
    let family = registry.family("upstream_host").unwrap();
    assert_eq!(
        family.key("bad.example:8080").unwrap().state(),
        CircuitState::Open
    );
    assert_eq!(
        family.key("good.example").unwrap().state(),
        CircuitState::Closed
    );
}

#[test]
fn a_server_layer_keyed_by_a_tenant_header() {
    let (_clock, registry, _log) = registry(KEYS);
    let layer = CircuitBreakerLayer::for_family_by(
        &registry,
        "tenants",
        Header(HeaderName::from_static("x-tenant")),
    )
    .unwrap()
    .http();
    let service = layer.layer(service_fn(upstream));
    let tenant = |t: &str| {
        Request::get("/orders")
            .header("x-tenant", t)
            .body(())
            .unwrap()
    };
    for _ in 0..2 {
        block_on(service.clone().oneshot(tenant("bad"))).unwrap();
    }
    let bad = block_on(service.clone().oneshot(tenant("bad"))).unwrap();
    assert_eq!(bad.status(), StatusCode::SERVICE_UNAVAILABLE);
    let good = block_on(service.clone().oneshot(tenant("good"))).unwrap();
    assert_eq!(good.status(), StatusCode::OK);
}

#[test]
fn a_closure_picks_the_key() {
    let (_clock, registry, _log) = registry(KEYS);
    let layer = CircuitBreakerLayer::for_family(&registry, "routes", |r: &Request<()>| {
        Cow::Borrowed(r.uri().path())
    })
    .unwrap();
    let service = layer.layer(service_fn(upstream));
    block_on(service.clone().oneshot(get("http://x/a"))).unwrap();
    block_on(service.oneshot(get("http://x/b"))).unwrap();
    let family = registry.family("routes").unwrap();
    assert_eq!(family.live(), 2);
    assert_eq!(family.key("/a").unwrap().snapshot().successes, 1);
}

static HANDLE: FamilyHandle =
    breaker::__private::family_handle("tower_hosts", None, &[], None, &[]);

#[test]
fn a_manifest_family_handle_resolves_at_the_first_request() {
    let layer = CircuitBreakerLayer::for_family_handle(&HANDLE, |r: &Request<()>| {
        Cow::Owned(r.uri().host().unwrap_or_default().to_owned())
    });
    let service = layer.layer(service_fn(upstream));
    block_on(service.oneshot(get("http://h1.example/")))
        .unwrap()
        .status();
    assert_eq!(HANDLE.family().live(), 1);
    assert_eq!(HANDLE.key("h1.example").unwrap().snapshot().successes, 1);
    let snapshot = HANDLE.snapshot();
    assert_eq!(
        (snapshot.family.as_str(), snapshot.live),
        ("tower_hosts", 1)
    );
}

/// The key `picker` gives `request`, and whether it borrowed it from the request.
fn key_of<K: RequestKey<Request<()>>>(picker: &K, request: &Request<()>) -> Option<(String, bool)> {
    picker
        .key(request)
        .map(|k| (k.to_string(), matches!(k, Cow::Borrowed(_))))
}

#[test]
fn authority_prefers_the_uri_then_the_host_header_then_an_empty_key() {
    let with_both = Request::get("http://api.example:8443/x")
        .header("host", "other.example")
        .body(())
        .unwrap();
    assert_eq!(
        key_of(&Authority, &with_both),
        Some(("api.example:8443".to_owned(), true))
    );
    // An origin-form request (what a server sees) has no authority: the Host header is it.
    let origin_form = Request::get("/x")
        .header("host", "api.example")
        .body(())
        .unwrap();
    assert_eq!(
        key_of(&Authority, &origin_form),
        Some(("api.example".to_owned(), true))
    );
    // A Host header that is not visible ASCII is no authority.
    let opaque_host = Request::get("/x")
        .header("host", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap())
        .body(())
        .unwrap();
    assert_eq!(
        key_of(&Authority, &opaque_host),
        Some((String::new(), true))
    );
    assert_eq!(key_of(&Authority, &get("/x")), Some((String::new(), true)));
}

#[test]
fn requests_without_an_authority_share_the_empty_key() {
    let (_clock, registry, _log) = registry(KEYS);
    let layer = CircuitBreakerLayer::for_family_by(&registry, "no_host", Authority)
        .unwrap()
        .http();
    let service = layer.layer(service_fn(upstream));
    for path in ["/a", "/b"] {
        let r = block_on(service.clone().oneshot(get(path))).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let family = registry.family("no_host").unwrap();
    assert_eq!(family.live(), 1);
    assert_eq!(family.key("").unwrap().snapshot().successes, 2);
}

#[test]
fn a_header_key_is_empty_when_the_header_is_missing_or_not_visible_ascii() {
    let tenant = Header(HeaderName::from_static("x-tenant"));
    let named = Request::get("/")
        .header("x-tenant", "acme")
        .body(())
        .unwrap();
    assert_eq!(key_of(&tenant, &named), Some(("acme".to_owned(), true)));
    assert_eq!(key_of(&tenant, &get("/")), Some((String::new(), true)));
    let opaque = Request::get("/")
        .header("x-tenant", HeaderValue::from_bytes(b"\xff\xfe").unwrap())
        .body(())
        .unwrap();
    assert_eq!(key_of(&tenant, &opaque), Some((String::new(), true)));
    // Only the first value counts when the header repeats.
    let twice = Request::get("/")
        .header("x-tenant", "first")
        .header("x-tenant", "second")
        .body(())
        .unwrap();
    assert_eq!(key_of(&tenant, &twice), Some(("first".to_owned(), true)));
}

#[test]
fn a_plain_layer_asks_for_no_key() {
    assert_eq!(key_of(&Unkeyed, &get("http://api.example/")), None);
    let tenant = Request::get("/")
        .header("x-tenant", "acme")
        .body(())
        .unwrap();
    assert_eq!(key_of(&Unkeyed, &tenant), None);
}
