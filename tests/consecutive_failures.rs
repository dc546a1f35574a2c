#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `consecutive_failures_threshold` trips on a run of failures, whatever `min_calls` says; a
//! success ends the run.

use breaker::{CircuitConfig, CircuitState, GlobalCircuitBreaker, Outcome, TransitionReason};
use breaker_suite::{call, registry, trip, EventLog};

/// A registry whose rate rule can never trip (`min_calls` far above what the tests record).
fn setup(threshold: Option<u32>) -> (GlobalCircuitBreaker, EventLog) {
    let (_clock, registry, log) = registry(CircuitConfig {
        min_calls: 1000,
        consecutive_failures_threshold: threshold,
        ..CircuitConfig::DEFAULT
    });
    (registry, log)
}

#[test]
fn trips_below_min_calls_with_its_own_reason() {
    let (registry, log) = setup(Some(3));
    let b = registry.register("consecutive").unwrap();
    call(&b, Outcome::Failure);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 2);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
    let trip: Vec<_> = log
        .transitions()
        .into_iter()
        .filter(|t| t.component == "consecutive")
        .collect();
    assert_eq!(trip.len(), 1);
    assert_eq!(trip[0].from, CircuitState::Closed);
    assert_eq!(trip[0].to, CircuitState::Open);
    assert_eq!(
        trip[0].reason,
        TransitionReason::ConsecutiveFailures { count: 3 }
    );
}

#[test]
fn a_success_resets_the_run() {
    let (registry, _log) = setup(Some(3));
    let b = registry.register("reset_run").unwrap();
    call(&b, Outcome::Failure);
    call(&b, Outcome::Failure);
    call(&b, Outcome::Success);
    assert_eq!(b.snapshot().consecutive_failures, 0);
    call(&b, Outcome::Failure);
    call(&b, Outcome::Failure);
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "4 failures, but not 3 in a row"
    );
    assert_eq!(b.snapshot().consecutive_failures, 2);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn trips_even_when_the_error_rate_is_low() {
    let (registry, _log) = setup(Some(2));
    let b = registry.register("low_rate").unwrap();
    for _ in 0..50 {
        call(&b, Outcome::Success);
    }
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Closed);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open, "2 in a row out of 52 calls");
}

#[test]
fn threshold_one_trips_on_the_first_failure() {
    let (registry, _log) = setup(Some(1));
    let b = registry.register("one").unwrap();
    call(&b, Outcome::Success);
    assert_eq!(trip(&b), 1);
}

#[test]
fn off_means_a_long_run_below_min_calls_does_not_trip() {
    let (registry, _log) = setup(None);
    let b = registry.register("off").unwrap();
    for _ in 0..100 {
        call(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 100);
}
