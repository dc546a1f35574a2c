#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `CircuitBreakerLayer::timeout`: a response not ready in time (on the breaker's
//! `FakeClock`, so nothing sleeps) drops the inner future, is recorded as a failure (a
//! half-open probe's slot comes back) and is answered as `CircuitError::Timeout`: an error by
//! default, `504 Gateway Timeout` in HTTP mode.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use breaker::layer::{CircuitBreakerLayer, ErrorsAsFailures};
use breaker::{CallError, CircuitConfig, CircuitError, CircuitState};
use breaker_suite::registry;
use futures::executor::block_on;
use http::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};
use tower::{service_fn, Layer, Service, ServiceExt};

const TIMEOUT: Duration = Duration::from_secs(2);

/// Trips at 2 calls, one probe at a time, one success closes.
const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 2,
    half_open_max_concurrent: 1,
    half_open_required_successes: 1,
    ..CircuitConfig::DEFAULT
};

/// Sets its flag when dropped: proves the inner future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// The request is the status to answer; `0` never answers. Every response future holds a
/// drop flag on `dropped`.
fn service(
    dropped: Arc<AtomicBool>,
) -> impl Service<u16, Response = Response<String>, Error = io::Error, Future: Send> + Clone {
    service_fn(move |status: u16| {
        let flag = DropFlag(dropped.clone());
        async move {
            let _flag = flag;
            if status == 0 {
                futures::future::pending::<()>().await;
            }
            Ok(Response::builder()
                .status(status)
                .body(String::new())
                .unwrap())
        }
    })
}

/// Polls `f` once: it must be pending.
fn poll_once<F: Future + Unpin>(f: &mut F) {
    block_on(async {
        assert!(futures::poll!(&mut *f).is_pending(), "answered early");
    });
}

#[test]
fn a_response_past_the_timeout_is_a_failure_and_its_future_is_dropped() {
    let (clock, registry, _log) = registry(CONFIG);
    let dropped = Arc::new(AtomicBool::new(false));
    let layer = CircuitBreakerLayer::for_component(&registry, "api")
        .unwrap()
        .classify(ErrorsAsFailures)
        .timeout(TIMEOUT);
    let mut svc = layer.layer(service(dropped.clone()));

    let mut call = Box::pin(block_on(svc.ready()).unwrap().call(0));
    poll_once(&mut call);
    clock.advance(TIMEOUT - Duration::from_millis(1));
    poll_once(&mut call);
    assert!(!dropped.load(SeqCst));
    clock.advance(Duration::from_millis(1));
    let out = block_on(&mut call);
    match &out {
        Err(CallError::Rejected(CircuitError::Timeout { component, after })) => {
            assert_eq!(component, "api");
            assert_eq!(*after, TIMEOUT);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        dropped.load(SeqCst),
        "the inner future outlived its timeout"
    );
    let s = registry.component("api").unwrap().snapshot();
    assert_eq!((s.calls, s.successes, s.failures), (1, 0, 1));
    // A stray extra poll repeats the answer.
    assert!(matches!(
        block_on(call),
        Err(CallError::Rejected(CircuitError::Timeout { .. }))
    ));

    // A response in time is untouched.
    dropped.store(false, SeqCst);
    let response = block_on(block_on(svc.ready()).unwrap().call(200)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(registry.component("api").unwrap().snapshot().successes, 1);
}

#[test]
fn in_http_mode_a_timeout_is_a_504_without_retry_after() {
    let (clock, registry, _log) = registry(CONFIG);
    let layer = CircuitBreakerLayer::for_component(&registry, "quotes")
        .unwrap()
        .http()
        .timeout(TIMEOUT);
    let mut svc = layer.layer(service(Arc::default()).map_request(http::Request::into_body));

    let request = http::Request::builder()
        .header(ACCEPT, "application/json")
        .body(0)
        .unwrap();
    let mut call = Box::pin(block_on(svc.ready()).unwrap().call(request));
    poll_once(&mut call);
    clock.advance(TIMEOUT);
    let response = block_on(call).unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(response.headers().get(RETRY_AFTER).is_none());
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "timeout", "component": "quotes", "timeout_ms": 2000})
    );
    assert!(matches!(
        response.extensions().get::<CircuitError>(),
        Some(CircuitError::Timeout { .. })
    ));

    // Text for a client that does not ask for JSON.
    let mut call = Box::pin(block_on(svc.ready()).unwrap().call(http::Request::new(0)));
    poll_once(&mut call);
    clock.advance(TIMEOUT);
    let response = block_on(call).unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(response.body(), "call to `quotes` timed out after 2s\n");
    let s = registry.component("quotes").unwrap().snapshot();
    assert_eq!(s.failures, 2);
}

#[test]
fn a_probe_that_times_out_gives_its_slot_back() {
    let (clock, registry, _log) = registry(CONFIG);
    let b = registry.register("api").unwrap();
    let layer = CircuitBreakerLayer::new(b.clone())
        .classify(ErrorsAsFailures)
        .timeout(TIMEOUT);
    let mut svc = layer.layer(service(Arc::default()));
    for _ in 0..2 {
        let mut call = Box::pin(block_on(svc.ready()).unwrap().call(0));
        poll_once(&mut call);
        clock.advance(TIMEOUT);
        assert!(block_on(call).is_err());
    }
    assert_eq!(b.state(), CircuitState::Open);
    clock.advance(CONFIG.open_cooldown);

    let mut probe = Box::pin(block_on(svc.ready()).unwrap().call(0));
    poll_once(&mut probe);
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert_eq!(b.snapshot().half_open_in_flight, 1);
    assert!(matches!(
        block_on(block_on(svc.ready()).unwrap().call(200)),
        Err(CallError::Rejected(CircuitError::HalfOpenExhausted { .. }))
    ));

    clock.advance(TIMEOUT);
    assert!(matches!(
        block_on(probe),
        Err(CallError::Rejected(CircuitError::Timeout { .. }))
    ));
    let s = b.snapshot();
    assert_eq!(
        s.half_open_in_flight, 0,
        "the timed-out probe kept its slot"
    );
    assert_eq!(b.state(), CircuitState::Open);

    // After the (backed-off) cooldown the next probe is admitted and closes the breaker.
    clock.advance(s.retry_after.expect("open says when to retry"));
    let response = block_on(block_on(svc.ready()).unwrap().call(200)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[test]
fn the_layer_shows_its_timeout() {
    let (_clock, registry, _log) = registry(CONFIG);
    let layer = CircuitBreakerLayer::for_component(&registry, "api")
        .unwrap()
        .timeout(TIMEOUT);
    assert!(
        format!("{layer:?}").contains("timeout: Some(2s)"),
        "{layer:?}"
    );
}
