#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `CircuitBreakerLayer`: classification, refusals as errors and as HTTP responses, and the
//! guard's life inside the response future.

use std::convert::Infallible;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use breaker::layer::{
    CircuitBreaker, CircuitBreakerLayer, ErrorsAsFailures, RejectAsError, ServerErrorsAsFailures,
};
use breaker::{CallError, CircuitConfig, CircuitError, CircuitState, Outcome, RegistryError};
use breaker_suite::registry;
use futures::executor::block_on;
use futures::FutureExt;
use http::header::RETRY_AFTER;
use http::{Response, StatusCode};
use tower::{service_fn, Layer, Service, ServiceExt};

breaker::breakers! {
    /// Used by the one test of the process-wide registry in this binary.
    tower_upstream,
}

/// Trips at 2 calls, one probe at a time, one success closes.
const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 2,
    half_open_max_concurrent: 1,
    half_open_required_successes: 1,
    ..CircuitConfig::DEFAULT
};

type HttpResult = Result<Response<()>, io::Error>;

/// An HTTP-ish service: the request is the status to answer, `0` an error. Counts its calls.
fn statuses(
    calls: Arc<AtomicUsize>,
) -> impl Service<u16, Response = Response<()>, Error = io::Error, Future: Send> + Clone {
    service_fn(move |status: u16| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if status == 0 {
                return Err(io::Error::other("connection reset"));
            }
            Ok(Response::builder().status(status).body(()).unwrap())
        }
    })
}

/// `statuses` for HTTP mode: the request's body is the status.
fn http_statuses(
    calls: Arc<AtomicUsize>,
) -> impl Service<http::Request<u16>, Response = Response<()>, Error = io::Error> + Clone {
    statuses(calls).map_request(http::Request::into_body)
}

/// A request `http_statuses` answers with `status`.
fn get(status: u16) -> http::Request<u16> {
    http::Request::new(status)
}

/// Opens the breaker behind `service` with two 500s through it (`CONFIG`'s `min_calls`).
async fn trip_service<S>(service: &mut S)
where
    S: Service<u16, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..2 {
        let response = service.ready().await.unwrap().call(500).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

#[tokio::test]
async fn errors_and_server_errors_fail_other_responses_succeed() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry
        .register_with("api", CircuitConfig::DEFAULT)
        .unwrap();
    let layer = CircuitBreakerLayer::new(Arc::clone(&b));
    let mut svc = layer.layer(statuses(Arc::default()));

    for status in [200, 404, 503] {
        let response = svc.ready().await.unwrap().call(status).await.unwrap();
        assert_eq!(response.status(), status);
    }
    let err = svc.ready().await.unwrap().call(0).await.unwrap_err();
    assert_eq!(err.into_inner().unwrap().to_string(), "connection reset");
    let snap = b.snapshot();
    assert_eq!((snap.successes, snap.failures), (2, 2), "{snap:?}");
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test]
async fn an_open_breaker_refuses_with_an_error_without_calling_the_service() {
    let (_clock, registry, _log) = registry(CONFIG);
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = CircuitBreakerLayer::for_component(&registry, "api").unwrap();
    let mut svc: CircuitBreaker<_, ServerErrorsAsFailures, RejectAsError> =
        layer.layer(statuses(Arc::clone(&calls)));
    trip_service(&mut svc).await;
    assert_eq!(
        registry.component("api").unwrap().state(),
        CircuitState::Open
    );

    let refused = svc.ready().await.unwrap().call(200).await.unwrap_err();
    match refused {
        CallError::Rejected(CircuitError::Open { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(30));
        }
        other => panic!("expected an Open rejection, got {other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the refused request never reached it"
    );
}

#[tokio::test]
async fn the_inner_services_errors_come_through_as_inner() {
    let (_clock, registry, _log) = registry(CONFIG);
    let mut svc = CircuitBreakerLayer::for_component(&registry, "api")
        .unwrap()
        .layer(statuses(Arc::default()));
    let err = svc.ready().await.unwrap().call(0).await.unwrap_err();
    assert_eq!(err.into_inner().unwrap().to_string(), "connection reset");
}

#[tokio::test]
async fn http_mode_answers_503_with_retry_after_in_whole_seconds_rounded_up() {
    let (clock, registry, _log) = registry(CONFIG);
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = CircuitBreakerLayer::for_component(&registry, "api")
        .unwrap()
        .http();
    // HTTP mode reads the request's `Accept`, so its requests are `http::Request`s.
    let mut svc = layer.layer(http_statuses(Arc::clone(&calls)));
    for _ in 0..2 {
        let response = svc.ready().await.unwrap().call(get(500)).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    clock.advance(Duration::from_millis(10_500));
    // The inner error type is kept: refusals are responses, not errors.
    let refused: Result<Response<()>, io::Error> = svc.ready().await.unwrap().call(get(200)).await;
    let refused = refused.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()[RETRY_AFTER], "20"); // 19.5 s left
    let why = refused.extensions().get::<CircuitError>().unwrap();
    assert_eq!((why.component(), why.reason()), ("api", "open"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refusal_without_a_known_wait_says_retry_after_one_second() {
    // Issue 13: every 503 carries `Retry-After` (forced open had none).
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("api").unwrap();
    b.force_open();
    let mut svc = CircuitBreakerLayer::new(b)
        .http()
        .layer(http_statuses(Arc::default()));
    let refused = svc.ready().await.unwrap().call(get(200)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()[RETRY_AFTER], "1");
}

#[tokio::test]
async fn respond_with_makes_the_refusal_response() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("api").unwrap();
    b.force_open();
    let inner = service_fn(|_: ()| async { Ok::<_, Infallible>(Response::new(String::new())) });
    let mut svc = CircuitBreakerLayer::new(b)
        .respond_with(|e: &CircuitError| {
            Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .body(format!("busy: {}", e.reason()))
                .unwrap()
        })
        .layer(inner);
    let refused = svc.ready().await.unwrap().call(()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body(), "busy: forced_open");
}

#[tokio::test]
async fn a_closure_classifier_can_ignore_responses() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("search").unwrap();
    let not_found_is_no_signal = |r: &HttpResult| match r {
        Ok(res) if res.status() == StatusCode::NOT_FOUND => Outcome::Ignored,
        Ok(res) if res.status().is_server_error() => Outcome::Failure,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    };
    let mut svc = CircuitBreakerLayer::new(Arc::clone(&b))
        .classify(not_found_is_no_signal)
        .layer(statuses(Arc::default()));
    for _ in 0..5 {
        svc.ready().await.unwrap().call(404).await.unwrap();
    }
    let snap = b.snapshot();
    assert_eq!((snap.ignored, snap.successes, snap.failures), (5, 0, 0));
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test]
async fn errors_as_failures_guards_any_service() {
    let (_clock, registry, _log) = registry(CONFIG);
    let ledger = service_fn(|n: u32| async move {
        if n == 0 {
            Err(io::Error::other("down"))
        } else {
            Ok(n * 2)
        }
    });
    let mut svc = CircuitBreakerLayer::for_component(&registry, "ledger")
        .unwrap()
        .classify(ErrorsAsFailures)
        .layer(ledger);
    assert_eq!(svc.ready().await.unwrap().call(21).await.unwrap(), 42);
    let err = svc.ready().await.unwrap().call(0).await.unwrap_err();
    assert_eq!(err.into_inner().unwrap().to_string(), "down");
    // 1 failure in 2 calls is the default threshold (0.5): open from here on.
    let refused = svc.ready().await.unwrap().call(0).await.unwrap_err();
    assert_eq!(refused.rejection().unwrap().reason(), "open");
    let refused = svc.ready().await.unwrap().call(21).await.unwrap_err();
    assert_eq!(refused.rejection().unwrap().reason(), "open");
}

#[tokio::test]
async fn a_dropped_response_future_gives_its_probe_slot_back() {
    let (clock, registry, _log) = registry(CONFIG);
    let layer = CircuitBreakerLayer::for_component(&registry, "api").unwrap();
    let b = registry.component("api").unwrap();
    let mut failing = layer.layer(statuses(Arc::default()));
    let mut hanging = layer.layer(service_fn(|_: u16| std::future::pending::<HttpResult>()));
    trip_service(&mut failing).await;
    clock.advance(Duration::from_secs(30));

    // The probe is admitted at `call` and its guard lives in the future.
    let mut probe = hanging.ready().await.unwrap().call(200);
    assert!((&mut probe).now_or_never().is_none());
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert_eq!(b.snapshot().half_open_in_flight, 1);
    let busy = failing.ready().await.unwrap().call(200).await.unwrap_err();
    assert_eq!(busy.rejection().unwrap().reason(), "half_open_exhausted");

    // Cancelled (a timeout, a client gone): the slot comes back, nothing is counted.
    drop(probe);
    let snap = b.snapshot();
    assert_eq!((snap.half_open_in_flight, snap.ignored), (0, 1));
    let ok = failing.ready().await.unwrap().call(200).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[tokio::test]
async fn a_panic_in_the_inner_future_counts_as_a_failure() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry
        .register_with("api", CircuitConfig::DEFAULT)
        .unwrap();
    let mut svc =
        CircuitBreakerLayer::new(Arc::clone(&b)).layer(service_fn(|status: u16| async move {
            assert!(status < 500, "handler bug");
            Ok::<_, Infallible>(Response::new(()))
        }));
    let future = svc.ready().await.unwrap().call(500);
    let payload =
        catch_unwind(AssertUnwindSafe(|| future.now_or_never())).expect_err("the panic propagates");
    assert_eq!(breaker_suite::panic_message(&*payload), "handler bug");
    assert_eq!(b.snapshot().failures, 1);
}

#[tokio::test]
async fn a_manifest_handle_guards_through_the_process_wide_registry() {
    let layer = CircuitBreakerLayer::for_handle(&breakers::tower_upstream);
    let mut svc = layer.layer(statuses(Arc::default()));
    svc.ready().await.unwrap().call(200).await.unwrap();
    assert_eq!(breakers::tower_upstream.snapshot().successes, 1);
    assert!(format!("{layer:?}").contains("tower_upstream"));
}

#[test]
fn a_bad_component_name_is_refused_when_building_the_layer() {
    let (_clock, registry, _log) = registry(CONFIG);
    let err = CircuitBreakerLayer::for_component(&registry, "__mine").unwrap_err();
    assert!(matches!(err, RegistryError::InvalidName { .. }), "{err:?}");
}

#[test]
fn guarded_services_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let (_clock, registry, _log) = registry(CONFIG);
    let mut svc = CircuitBreakerLayer::for_component(&registry, "api")
        .unwrap()
        .layer(statuses(Arc::default()));
    send_sync(&svc);
    let future = svc.call(200);
    fn send<T: Send>(_: &T) {}
    send(&future);
}

/// The layer's accessors reach the inner service itself, unguarded, and `Debug` shows the
/// component and the guard or rejection a response future holds.
#[test]
fn the_tower_layer_exposes_its_service_and_formats() {
    let (_clock, registry, _log) = registry(CONFIG);
    let layer = CircuitBreakerLayer::for_component(&registry, "svc")
        .unwrap()
        .classify(ErrorsAsFailures);
    assert!(format!("{layer:?}").contains("svc"));
    let inner = service_fn(|n: u32| async move {
        if n == 0 {
            Err(io::Error::other("zero"))
        } else {
            Ok(n)
        }
    });
    let mut svc: CircuitBreaker<_, _, _> = layer.layer(inner);
    let b = registry.component("svc").unwrap();
    // `get_ref` is the inner service: a call through it is not the breaker's to count.
    let mut direct = *svc.get_ref();
    assert_eq!(block_on(direct.call(5)).unwrap(), 5);
    assert_eq!(b.snapshot().calls, 0);
    block_on(async {
        let svc = svc.ready().await.unwrap();
        let fut = svc.call(7);
        assert!(format!("{fut:?}").contains("guard"));
        assert_eq!(fut.await.unwrap(), 7);
        // One failure of two calls: 0.5, the threshold.
        assert!(matches!(svc.call(0).await, Err(CallError::Inner(_))));
        let refused = svc.call(1);
        assert!(format!("{refused:?}").contains("rejected"));
        assert!(matches!(refused.await, Err(CallError::Rejected(_))));
    });
    assert!(format!("{svc:?}").contains("svc"));
    assert_eq!(b.state(), CircuitState::Open);
    // `into_inner` gives the service back, unguarded: it answers although the breaker is open.
    let mut inner = svc.into_inner();
    assert_eq!(block_on(inner.call(3)).unwrap(), 3);
    assert_eq!(b.snapshot().calls, 2);
}

#[test]
fn http_refusals_and_inner_errors() {
    let (_clock, registry, _log) = registry(CONFIG);
    // The default HTTP answer passes the inner service's own errors through.
    let failing = service_fn(|_: http::Request<()>| async {
        Err::<Response<String>, _>(io::Error::other("down"))
    });
    let mut svc = CircuitBreakerLayer::for_component(&registry, "http_inner")
        .unwrap()
        .http()
        .layer(failing);
    let request = || http::Request::new(());
    block_on(async {
        for _ in 0..2 {
            let err = svc
                .ready()
                .await
                .unwrap()
                .call(request())
                .await
                .unwrap_err();
            assert_eq!(err.to_string(), "down");
        }
        let refused = svc.ready().await.unwrap().call(request()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    });

    // A custom answer, and its formatting.
    let failing =
        service_fn(|_: ()| async { Err::<Response<String>, _>(io::Error::other("down")) });
    let layer = CircuitBreakerLayer::for_component(&registry, "http_custom")
        .unwrap()
        .respond_with(|e: &CircuitError| {
            Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .body(e.reason().to_owned())
                .unwrap()
        });
    assert!(format!("{layer:?}").contains("http_custom"));
    let mut svc = layer.layer(failing);
    block_on(async {
        for _ in 0..2 {
            let err = svc.ready().await.unwrap().call(()).await.unwrap_err();
            assert_eq!(err.to_string(), "down");
        }
        let refused = svc.ready().await.unwrap().call(()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.body(), "open");
    });
}

/// A manifest of its own, so the process-wide registry's manifest above stays one component.
mod layered {
    breaker::breakers! { layer_handle }
}

#[test]
fn a_layer_for_a_manifest_handle_names_its_component() {
    let layer = CircuitBreakerLayer::for_handle(&layered::breakers::layer_handle);
    let svc = layer.layer(service_fn(|_: ()| async { Ok::<_, io::Error>(()) }));
    // Formatting does not touch the process-wide registry.
    assert!(format!("{svc:?}").contains("layer_handle"));
}
