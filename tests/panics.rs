#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! However a call ends, it is counted: a panic is a failure wherever it is caught. Above all
//! where the catcher sits *outside* the future that holds the guard (tower-http's
//! `CatchPanicLayer`, `futures::FutureExt::catch_unwind`), so the guard is dropped after the
//! unwind, not during it, and cannot tell a panic from a cancellation by itself; and where the
//! catcher drops the future while unwinding (`tokio::spawn`).
//!
//! Covered: the tower layer, `#[circuit_breaker]` on an `async fn`, an `#[async_trait]` method
//! and a `fn -> impl Future`, and `run_protected`; each in Closed (panics trip it) and as a
//! half-open probe (a panicking probe re-opens it). Every registry runs on a `FakeClock`.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use breaker::layer::CircuitBreakerLayer;
use breaker::{
    circuit_breaker, CallError, CircuitConfig, CircuitError, CircuitState, ComponentBreaker,
    FakeClock,
};
use futures::executor::block_on;
use futures::FutureExt;
use http::{Request, Response, StatusCode};
use tower::{service_fn, Layer, Service, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;

breaker::breakers! {
    /// The component the attribute tests protect, each module in its own registry.
    rest,
}

use breaker_suite::{registry, COOLDOWN};

/// A panic payload, as `catch_unwind` hands it back.
type Payload = Box<dyn std::any::Any + Send>;

fn message(payload: &Payload) -> &str {
    breaker_suite::panic_message(&**payload)
}

/// `(successes, failures, ignored, half_open_in_flight)`.
fn counts(b: &ComponentBreaker) -> (u64, u64, u64, u32) {
    let s = b.snapshot();
    (s.successes, s.failures, s.ignored, s.half_open_in_flight)
}

mod tower_layer {
    use super::*;

    /// Trips at 2 calls (50 %), one probe at a time, one success closes, 30 s open.
    fn breaker() -> (FakeClock, Arc<ComponentBreaker>) {
        let (clock, registry, _log) = registry(CircuitConfig {
            min_calls: 2,
            open_cooldown: Duration::from_secs(30),
            half_open_max_concurrent: 1,
            half_open_required_successes: 1,
            ..CircuitConfig::DEFAULT
        });
        let b = registry.register("api").unwrap();
        (clock, b)
    }

    /// An axum-style stack: `CatchPanicLayer` outside the breaker, so a handler's panic
    /// becomes a `500` above the breaker's future. `/panic` panics inside the handler's
    /// future, `/panic-in-call` while the request is being handed to it, anything else is 200.
    fn app(
        b: &Arc<ComponentBreaker>,
    ) -> impl Service<Request<()>, Response = Response<impl Sized>, Error = Infallible> {
        let handler = service_fn(|req: Request<()>| {
            let path = req.uri().path().to_owned();
            assert_ne!(path, "/panic-in-call", "handler bug in call");
            async move {
                tokio::task::yield_now().await;
                assert_ne!(path, "/panic", "handler bug");
                Ok::<_, Infallible>(Response::new(String::from("ok")))
            }
        });
        let guarded = CircuitBreakerLayer::new(Arc::clone(b))
            .http()
            .layer(handler);
        CatchPanicLayer::new().layer(guarded)
    }

    /// The status `app` answers `GET path` with.
    async fn get<S, B>(app: &mut S, path: &str) -> StatusCode
    where
        S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
    {
        let request = Request::get(path).body(()).unwrap();
        let response = app.ready().await.unwrap().call(request).await.unwrap();
        response.status()
    }

    #[tokio::test]
    async fn panics_caught_above_the_layer_are_failures_and_open_it() {
        let (_clock, b) = breaker();
        let mut app = app(&b);
        assert_eq!(
            get(&mut app, "/panic").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(counts(&b), (0, 1, 0, 0), "one panic, one failure");
        assert_eq!(b.state(), CircuitState::Closed, "min_calls is 2");

        assert_eq!(
            get(&mut app, "/panic").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(counts(&b), (0, 2, 0, 0));
        assert_eq!(b.state(), CircuitState::Open);

        // Open: the handler is not reached, the breaker answers 503 itself.
        assert_eq!(get(&mut app, "/").await, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(b.snapshot().rejections.open, 1);
    }

    #[tokio::test]
    async fn fifty_panics_in_a_row_never_leave_it_closed() {
        let (_clock, b) = breaker();
        let mut app = app(&b);
        let mut panics = 0;
        let mut refused = 0;
        for _ in 0..50 {
            match get(&mut app, "/panic").await {
                StatusCode::INTERNAL_SERVER_ERROR => panics += 1,
                StatusCode::SERVICE_UNAVAILABLE => refused += 1,
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!((panics, refused), (2, 48));
        let s = b.snapshot();
        assert_eq!((s.failures, s.ignored, s.rejections.open), (2, 0, 48));
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[tokio::test]
    async fn a_panicking_half_open_probe_reopens_it() {
        let (clock, b) = breaker();
        let mut app = app(&b);
        for _ in 0..2 {
            get(&mut app, "/panic").await;
        }
        assert_eq!(b.state(), CircuitState::Open);
        clock.advance(Duration::from_secs(30));

        assert_eq!(
            get(&mut app, "/panic").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            b.state(),
            CircuitState::Open,
            "a panicking probe is a failed probe, not a neutral one"
        );
        assert_eq!(counts(&b), (0, 3, 0, 0), "the probe's slot came back");
        assert_eq!(get(&mut app, "/").await, StatusCode::SERVICE_UNAVAILABLE);

        // The next probe after the (longer or equal) cooldown is admitted and closes it.
        clock.advance(Duration::from_secs(3600));
        assert_eq!(get(&mut app, "/").await, StatusCode::OK);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[tokio::test]
    async fn a_panic_while_the_request_is_handed_over_is_a_failure_too() {
        let (_clock, b) = breaker();
        let mut app = app(&b);
        let status = get(&mut app, "/panic-in-call").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(counts(&b), (0, 1, 0, 0));
    }

    #[tokio::test]
    async fn a_response_future_polled_under_catch_unwind_records_one_failure_and_unwinds() {
        let (_clock, b) = breaker();
        let mut svc =
            CircuitBreakerLayer::new(Arc::clone(&b)).layer(service_fn(|fail: bool| async move {
                tokio::task::yield_now().await;
                assert!(!fail, "inner future bug");
                Ok::<_, std::io::Error>(Response::new(()))
            }));
        let future = svc.ready().await.unwrap().call(true);
        let payload = AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .expect_err("the panic propagates");
        assert_eq!(message(&payload), "inner future bug");
        assert_eq!(counts(&b), (0, 1, 0, 0));
    }
}

#[derive(Debug)]
enum ApiError {
    /// The upstream answered with an error.
    Upstream,
    Breaker(CircuitError),
}

impl From<CircuitError> for ApiError {
    fn from(e: CircuitError) -> Self {
        ApiError::Breaker(e)
    }
}

fn is_open(result: &Result<u32, ApiError>) -> bool {
    matches!(result, Err(ApiError::Breaker(CircuitError::Open { .. })))
}

/// Trips on the first failure (`min_calls` 1), one probe, [`COOLDOWN`] open.
fn one_call_trips() -> CircuitConfig {
    CircuitConfig {
        min_calls: 1,
        ..breaker_suite::small_config(1)
    }
}

/// This file's `isolated_registry!`: its component is `rest`.
macro_rules! isolated_registry {
    ($config:expr) => {
        breaker_suite::isolated_registry!($config, rest);
    };
}

/// Polls `f` to completion under `futures::FutureExt::catch_unwind`, which keeps the future
/// (and the guard inside it) alive past the unwind.
fn caught<F: Future>(f: F) -> Result<F::Output, Payload> {
    block_on(AssertUnwindSafe(f).catch_unwind())
}

mod attribute_async_fn {
    use super::*;

    isolated_registry!(one_call_trips());

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn explode(should_panic: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        futures::future::ready(()).await;
        assert!(!should_panic, "async adapter bug");
        Ok(5)
    }

    #[test]
    fn a_panic_under_catch_unwind_is_a_failure_and_a_panicking_probe_reopens_it() {
        let payload = caught(explode(true)).expect_err("the panic propagates");
        assert_eq!(message(&payload), "async adapter bug");
        assert_eq!(counts(&rest()), (0, 1, 0, 0));
        assert_eq!(rest().state(), CircuitState::Open);
        assert!(is_open(&caught(explode(false)).unwrap()));
        assert_eq!(runs(), 1, "refused without running the body");

        CLOCK.advance(COOLDOWN);
        let payload = caught(explode(true)).expect_err("the probe's panic propagates");
        assert_eq!(message(&payload), "async adapter bug");
        assert_eq!(rest().state(), CircuitState::Open, "a failed probe");
        assert_eq!(counts(&rest()), (0, 2, 0, 0));
        assert_eq!(runs(), 2);

        CLOCK.advance(COOLDOWN * 1000);
        assert_eq!(caught(explode(false)).unwrap().unwrap(), 5);
        assert_eq!(rest().state(), CircuitState::Closed);
    }
}

mod attribute_spawned {
    use super::*;

    isolated_registry!(one_call_trips());

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn explode(should_panic: bool) -> Result<u32, ApiError> {
        tokio::task::yield_now().await;
        assert!(!should_panic, "spawned adapter bug");
        Ok(5)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_probe_in_a_joined_task_reopens_it() {
        let joined = tokio::spawn(explode(true)).await;
        assert!(joined.unwrap_err().is_panic());
        assert_eq!(rest().state(), CircuitState::Open);
        CLOCK.advance(COOLDOWN);
        let joined = tokio::spawn(explode(true)).await;
        assert!(joined.unwrap_err().is_panic());
        assert_eq!(rest().state(), CircuitState::Open, "a failed probe");
        assert_eq!(counts(&rest()), (0, 2, 0, 0));
    }
}

mod attribute_future_shapes {
    use super::*;

    isolated_registry!(one_call_trips());

    #[async_trait::async_trait]
    trait Venue {
        async fn depth(&self) -> Result<u32, ApiError>;
    }

    struct Broken;

    #[async_trait::async_trait]
    impl Venue for Broken {
        #[circuit_breaker(component = "rest", registry = REG)]
        async fn depth(&self) -> Result<u32, ApiError> {
            tokio::task::yield_now().await;
            panic!("async-trait adapter bug");
        }
    }

    // The future-returning shape is the one under test, not an oversight.
    #[allow(clippy::manual_async_fn)]
    #[circuit_breaker(component = "rest", registry = REG)]
    fn fetch(should_panic: bool) -> impl Future<Output = Result<u32, ApiError>> + Send {
        async move {
            tokio::task::yield_now().await;
            assert!(!should_panic, "impl-Future adapter bug");
            Ok(1)
        }
    }

    #[test]
    fn async_trait_methods_and_future_returning_fns_count_panics_under_catch_unwind() {
        let payload = caught(Broken.depth()).expect_err("the panic propagates");
        assert_eq!(message(&payload), "async-trait adapter bug");
        assert_eq!(counts(&rest()), (0, 1, 0, 0));
        assert_eq!(rest().state(), CircuitState::Open);

        CLOCK.advance(COOLDOWN);
        let payload = caught(fetch(true)).expect_err("the panic propagates");
        assert_eq!(message(&payload), "impl-Future adapter bug");
        assert_eq!(counts(&rest()), (0, 2, 0, 0));
        assert_eq!(rest().state(), CircuitState::Open, "a failed probe");
        assert!(is_open(&caught(fetch(false)).unwrap()));
    }
}

mod attribute_classifier {
    use super::*;

    isolated_registry!(one_call_trips());

    fn broken_predicate(_: &ApiError) -> bool {
        panic!("failure_if bug");
    }

    #[circuit_breaker(component = "rest", registry = REG, failure_if = broken_predicate)]
    async fn fetch() -> Result<u32, ApiError> {
        futures::future::ready(()).await;
        Err(ApiError::Upstream)
    }

    #[test]
    fn a_panic_in_failure_if_is_a_failure_too() {
        let payload = caught(fetch()).expect_err("the panic propagates");
        assert_eq!(message(&payload), "failure_if bug");
        assert_eq!(counts(&rest()), (0, 1, 0, 0));
        assert_eq!(rest().state(), CircuitState::Open);
    }
}

mod run_protected {
    use super::*;

    async fn boom() -> Result<u32, std::io::Error> {
        tokio::task::yield_now().await;
        panic!("protected future bug");
    }

    #[test]
    fn under_catch_unwind_a_panic_is_a_failure_and_a_panicking_probe_reopens_it() {
        let (clock, registry, _log) = registry(one_call_trips());
        let b = registry.register("db").unwrap();
        let payload = caught(b.run_protected(boom())).expect_err("the panic propagates");
        assert_eq!(message(&payload), "protected future bug");
        assert_eq!(counts(&b), (0, 1, 0, 0));
        assert_eq!(b.state(), CircuitState::Open);

        clock.advance(COOLDOWN);
        // By name, through the registry.
        caught(registry.run_protected("db", boom())).expect_err("the probe's panic");
        assert_eq!(b.state(), CircuitState::Open, "a failed probe");
        assert_eq!(counts(&b), (0, 2, 0, 0));
        let refused = caught(b.run_protected(async { Ok::<_, std::io::Error>(1) })).unwrap();
        assert!(matches!(refused, Err(CallError::Rejected(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_a_joined_task_a_panicking_probe_reopens_it() {
        let (clock, registry, _log) = registry(one_call_trips());
        let b = registry.register("db").unwrap();
        let task =
            |b: Arc<ComponentBreaker>| tokio::spawn(async move { b.run_protected(boom()).await });
        assert!(task(Arc::clone(&b)).await.unwrap_err().is_panic());
        assert_eq!(b.state(), CircuitState::Open);
        clock.advance(COOLDOWN);
        assert!(task(Arc::clone(&b)).await.unwrap_err().is_panic());
        assert_eq!(b.state(), CircuitState::Open, "a failed probe");
        assert_eq!(counts(&b), (0, 2, 0, 0));
    }
}
