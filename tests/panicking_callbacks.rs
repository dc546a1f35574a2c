#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! However a call ends, it is counted, including when the user's own callbacks panic: a tower
//! layer's classifier under `CatchPanicLayer`, and `#[circuit_breaker]`'s `failure_if` and
//! `fallback` in a sync and an async function. Every registry runs on a `FakeClock`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use breaker::{CircuitConfig, CircuitState, FakeClock, GlobalCircuitBreaker, Outcome};
use breaker_suite::EventLog;

breaker::breakers! {
    /// Every optional field set to off.
    all_off { consecutive_failures_threshold: None, slow_call_threshold: None, half_open_max_wait: None },
}

fn arc_registry_on(config: CircuitConfig) -> (FakeClock, Arc<GlobalCircuitBreaker>, EventLog) {
    let (clock, registry, log) = breaker_suite::registry(config);
    (clock, Arc::new(registry), log)
}

mod panics {
    use super::*;
    use http::{Request, Response, StatusCode};
    use tower::{service_fn, Layer, Service, ServiceExt};
    use tower_http::catch_panic::CatchPanicLayer;

    fn one_failure_trips() -> CircuitConfig {
        CircuitConfig {
            min_calls: 1,
            ..breaker_suite::small_config(1)
        }
    }

    /// A classifier closure that panics on the response: the call is counted as a failure
    /// (and a half-open probe's slot comes back), under `CatchPanicLayer`.
    #[tokio::test]
    async fn a_panicking_classifier_is_a_failure_under_catch_panic() {
        let (clock, registry, _log) = arc_registry_on(one_failure_trips());
        let b = registry.register("classified").unwrap();
        let handler = service_fn(|_req: Request<()>| async move {
            tokio::task::yield_now().await;
            Ok::<_, Infallible>(Response::new(String::from("ok")))
        });
        let guarded = breaker::layer::CircuitBreakerLayer::new(Arc::clone(&b))
            .classify(|r: &Result<Response<String>, Infallible>| -> Outcome {
                assert!(r.is_err(), "classifier bug");
                Outcome::Success
            })
            .http()
            .layer(handler);
        let mut app = CatchPanicLayer::new().layer(guarded);
        let status = app
            .ready()
            .await
            .unwrap()
            .call(Request::get("/").body(()).unwrap())
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let s = b.snapshot();
        assert_eq!((s.successes, s.failures, s.ignored), (0, 1, 0));
        assert_eq!(b.state(), CircuitState::Open);

        clock.advance(Duration::from_secs(3600));
        let status = app
            .ready()
            .await
            .unwrap()
            .call(Request::get("/").body(()).unwrap())
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let s = b.snapshot();
        assert_eq!(
            (s.failures, s.half_open_in_flight),
            (2, 0),
            "a failed probe"
        );
        assert_eq!(b.state(), CircuitState::Open);
    }
}

#[derive(Debug)]
enum ApiError {
    Upstream,
    Breaker(#[allow(dead_code)] breaker::CircuitError),
}

impl From<breaker::CircuitError> for ApiError {
    fn from(e: breaker::CircuitError) -> Self {
        ApiError::Breaker(e)
    }
}

/// `failure_if` that panics, in a sync and an async function, and a fallback that panics.
mod attribute_panics {
    use super::*;
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    breaker_suite::isolated_registry!(
        CircuitConfig {
            min_calls: 1,
            ..breaker_suite::small_config(1)
        },
        all_off
    );

    fn failure_if_panics(_: &ApiError) -> bool {
        panic!("failure_if bug")
    }

    async fn fallback_panics(_: bool) -> Result<u32, ApiError> {
        panic!("fallback bug")
    }

    #[breaker::circuit_breaker(component = "all_off", registry = REG, failure_if = failure_if_panics)]
    fn sync_call(fail: bool) -> Result<u32, ApiError> {
        if fail {
            Err(ApiError::Upstream)
        } else {
            Ok(1)
        }
    }

    #[breaker::circuit_breaker(component = "all_off", registry = REG, failure_if = failure_if_panics, fallback = fallback_panics)]
    async fn async_call(fail: bool) -> Result<u32, ApiError> {
        futures::future::ready(()).await;
        if fail {
            Err(ApiError::Upstream)
        } else {
            Ok(1)
        }
    }

    /// One test, so the module's registry sees one sequence.
    #[test]
    fn a_panicking_failure_if_is_a_failure_and_a_panicking_fallback_counts_one_refusal() {
        let b = all_off();
        assert!(std::panic::catch_unwind(|| sync_call(true)).is_err());
        let s = snap();
        assert_eq!((s.successes, s.failures, s.ignored), (0, 1, 0), "sync");
        assert_eq!(b.state(), CircuitState::Open);
        b.reset();

        let caught = futures::executor::block_on(AssertUnwindSafe(async_call(true)).catch_unwind());
        assert!(caught.is_err());
        let s = snap();
        assert_eq!(
            (s.successes, s.failures, s.ignored),
            (0, 2, 0),
            "async under catch_unwind"
        );
        assert_eq!(b.state(), CircuitState::Open);

        // Open: the fallback runs, and panics; the refusal is counted once, no call is.
        let rejected = s.rejections.total();
        let caught =
            futures::executor::block_on(AssertUnwindSafe(async_call(false)).catch_unwind());
        assert!(caught.is_err());
        let s = snap();
        assert_eq!(s.rejections.total(), rejected + 1);
        assert_eq!((s.successes, s.failures, s.ignored), (0, 2, 0));
    }
}
