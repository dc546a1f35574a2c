#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `min_calls` gates the rate-based trip: below it nothing trips, even at 100% failures.

use breaker::{CircuitConfig, CircuitState, ComponentBreaker, Outcome, TransitionReason};
use breaker_suite::{call, registry, trip};

fn breaker(min_calls: u32) -> ComponentBreaker {
    let config = CircuitConfig {
        min_calls,
        ..CircuitConfig::DEFAULT
    };
    breaker_suite::breaker("min_calls_gate", config).1
}

#[test]
fn all_failures_below_min_calls_do_not_trip() {
    let b = breaker(10);
    for _ in 0..9 {
        call(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), CircuitState::Closed);
    let window = b.snapshot().window;
    assert_eq!(window.calls, 9);
    assert_eq!(window.failures, 9);
    assert_eq!(window.error_rate, 1.0);
    assert!(b.acquire().is_allowed());
}

#[test]
fn trips_on_the_failure_that_reaches_min_calls() {
    let b = breaker(10);
    for _ in 0..9 {
        call(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), CircuitState::Closed);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
    assert!(!b.acquire().is_allowed());
}

#[test]
fn min_calls_one_trips_on_the_first_failure() {
    let b = breaker(1);
    assert_eq!(trip(&b), 1);
}

#[test]
fn ignored_calls_do_not_count_toward_min_calls() {
    let b = breaker(10);
    for _ in 0..9 {
        call(&b, Outcome::Failure);
    }
    for _ in 0..20 {
        call(&b, Outcome::Ignored);
    }
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.snapshot().window.calls, 9);
    assert_eq!(b.snapshot().ignored, 20);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn successes_count_toward_min_calls_and_the_trip_reports_the_calls() {
    let (_clock, registry, log) = registry(CircuitConfig {
        min_calls: 6,
        ..CircuitConfig::DEFAULT
    });
    let b = registry.register("gated").unwrap();
    for _ in 0..3 {
        call(&b, Outcome::Success);
    }
    for _ in 0..2 {
        call(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), CircuitState::Closed, "5 calls < min_calls 6");
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open, "3/6 >= 0.5 at min_calls");
    let transitions = log.transitions();
    let trip = transitions
        .iter()
        .find(|t| t.component == "gated" && t.to == CircuitState::Open)
        .expect("a trip event");
    assert_eq!(
        trip.reason,
        TransitionReason::ErrorRate {
            rate: 0.5,
            threshold: 0.5,
            calls: 6
        }
    );
}
