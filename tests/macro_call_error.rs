#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `#[circuit_breaker]` on a function that fails with an error type the user did not write
//! (here `std::num::ParseIntError` and `std::fmt::Error`, foreign to this crate): returning
//! `Result<T, CallError<E>>` compiles, the body's error (through
//! `.map_err(CallError::Inner)?`) is recorded as a failure, and a refusal comes back as
//! `CallError::Rejected` with the breaker's reason.

use std::num::ParseIntError;

use breaker::{
    circuit_breaker, CallError, CircuitConfig, CircuitError, CircuitState, GlobalCircuitBreaker,
};
use breaker_suite::registry;
use futures::executor::block_on;
use once_cell::sync::Lazy;

breaker::breakers! { parse_api, async_api }

/// Trips once three calls are in the window and two of them failed.
const TRIPS_AT_THREE: CircuitConfig = CircuitConfig {
    min_calls: 3,
    ..CircuitConfig::DEFAULT
};

static SYNC: Lazy<GlobalCircuitBreaker> = Lazy::new(|| registry(TRIPS_AT_THREE).1);
static ASYNC: Lazy<GlobalCircuitBreaker> = Lazy::new(|| registry(TRIPS_AT_THREE).1);

#[circuit_breaker(component = "parse_api", registry = SYNC)]
fn parse(text: &str) -> Result<u32, CallError<ParseIntError>> {
    let n: u32 = text.parse().map_err(CallError::Inner)?;
    Ok(n)
}

#[circuit_breaker(component = "async_api", registry = ASYNC)]
async fn write(fail: bool) -> Result<&'static str, CallError<std::fmt::Error>> {
    if fail {
        return Err(CallError::Inner(std::fmt::Error));
    }
    Ok("written")
}

#[test]
fn a_foreign_error_is_a_failure_and_a_refusal_is_rejected() {
    assert_eq!(parse("7"), Ok(7));
    let err = parse("seven").unwrap_err();
    assert_eq!(err.to_string(), "invalid digit found in string");
    assert!(matches!(err, CallError::Inner(_)), "{err:?}");
    let b = breakers::parse_api.in_registry(&SYNC);
    assert_eq!(b.snapshot().failures, 1);
    assert_eq!(b.snapshot().successes, 1);

    parse("").unwrap_err();
    assert_eq!(b.state(), CircuitState::Open);
    let refused = parse("7").unwrap_err();
    match &refused {
        CallError::Rejected(CircuitError::Open { component, .. }) => {
            assert_eq!(component.as_str(), "parse_api");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(refused.rejection().map(CircuitError::reason), Some("open"));
    assert_eq!(b.snapshot().failures, 2, "the refused call did not run");
}

#[test]
fn an_async_fn_returning_call_error_records_and_refuses_the_same_way() {
    block_on(async {
        assert_eq!(write(false).await, Ok("written"));
        assert_eq!(write(true).await, Err(CallError::Inner(std::fmt::Error)));
        write(true).await.unwrap_err();
        let b = breakers::async_api.in_registry(&ASYNC);
        assert_eq!(b.state(), CircuitState::Open);
        let refused = write(false).await.unwrap_err();
        assert!(
            matches!(refused, CallError::Rejected(CircuitError::Open { .. })),
            "{refused:?}"
        );
    });
}

#[test]
fn a_refusal_converts_with_question_mark() {
    fn admit(b: &breaker::ComponentBreaker) -> Result<(), CallError<ParseIntError>> {
        let guard = b.acquire().into_result()?;
        guard.record(breaker::Outcome::Success);
        Ok(())
    }
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let b = registry.register("forced").unwrap();
    admit(&b).unwrap();
    b.force_open();
    assert!(matches!(
        admit(&b),
        Err(CallError::Rejected(CircuitError::ForcedOpen { .. }))
    ));
}
