#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `error_rate_threshold` is inclusive: the breaker trips at exactly the configured rate and
//! not just below it. Ignored outcomes are not calls.

use breaker::{CircuitConfig, CircuitState, ComponentBreaker, Outcome};
use breaker_suite::call;

fn breaker(error_rate_threshold: f32) -> ComponentBreaker {
    let config = CircuitConfig {
        min_calls: 10,
        error_rate_threshold,
        ..CircuitConfig::DEFAULT
    };
    breaker_suite::breaker("error_rate", config).1
}

/// Records `successes` successes, then `failures` failures (failures trigger the check).
fn run(b: &ComponentBreaker, successes: u32, failures: u32) {
    for _ in 0..successes {
        call(b, Outcome::Success);
    }
    for _ in 0..failures {
        call(b, Outcome::Failure);
    }
}

#[test]
fn half_trips_at_exactly_half() {
    let b = breaker(0.5);
    run(&b, 5, 4);
    assert_eq!(b.state(), CircuitState::Closed, "9 calls < min_calls");
    run(&b, 0, 1);
    assert_eq!(b.state(), CircuitState::Open, "5/10 == 0.5 must trip");
}

#[test]
fn half_does_not_trip_just_below_half() {
    let b = breaker(0.5);
    run(&b, 6, 5);
    let window = b.snapshot().window;
    assert_eq!((window.calls, window.failures), (11, 5));
    assert!(window.error_rate < 0.5);
    assert_eq!(b.state(), CircuitState::Closed, "5/11 < 0.5");
}

#[test]
fn point_three_trips_at_exactly_three_in_ten() {
    let b = breaker(0.3);
    run(&b, 7, 2);
    assert_eq!(b.state(), CircuitState::Closed, "9 calls < min_calls");
    assert_eq!(b.snapshot().window.error_rate, 2.0 / 9.0);
    run(&b, 0, 1);
    assert_eq!(b.state(), CircuitState::Open, "3/10 == 0.3 must trip");
    // The open episode starts its own (empty) window.
    assert_eq!(b.snapshot().window.calls, 0);
}

#[test]
fn point_three_trips_at_exactly_nine_in_thirty() {
    let b = breaker(0.3);
    run(&b, 21, 9);
    assert_eq!(b.state(), CircuitState::Open, "9/30 == 0.3 must trip");
}

#[test]
fn point_three_does_not_trip_just_below() {
    let b = breaker(0.3);
    run(&b, 8, 3);
    assert_eq!(b.state(), CircuitState::Closed, "3/11 < 0.3");
    let b = breaker(0.3);
    run(&b, 21, 8);
    assert_eq!(b.state(), CircuitState::Closed, "8/29 < 0.3");
}

#[test]
fn threshold_one_trips_only_at_all_failures() {
    let b = breaker(1.0);
    run(&b, 1, 10);
    assert_eq!(b.state(), CircuitState::Closed, "10/11 < 1.0");
    let b = breaker(1.0);
    run(&b, 0, 10);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn ignored_outcomes_are_not_calls() {
    let b = breaker(0.5);
    run(&b, 5, 4);
    for _ in 0..10 {
        call(&b, Outcome::Ignored);
    }
    let snap = b.snapshot();
    assert_eq!(snap.window.calls, 9);
    assert_eq!(snap.ignored, 10);
    assert_eq!(b.state(), CircuitState::Closed);
    // Were the ignored calls counted (as calls or successes) this would be 5/20.
    run(&b, 0, 1);
    assert_eq!(b.state(), CircuitState::Open, "5/10 with ignored excluded");
}

#[test]
fn ignored_outcomes_do_not_dilute_the_rate() {
    let b = breaker(0.5);
    run(&b, 2, 0);
    for _ in 0..30 {
        call(&b, Outcome::Ignored);
    }
    run(&b, 0, 7);
    assert_eq!(b.snapshot().window.calls, 9);
    assert_eq!(b.state(), CircuitState::Closed, "9 real calls < min_calls");
    run(&b, 0, 1);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn every_exact_fraction_trips_inclusively() {
    for calls in 1..=40u32 {
        for failures in 1..=calls {
            let threshold = failures as f32 / calls as f32;
            let config = CircuitConfig {
                min_calls: calls,
                error_rate_threshold: threshold,
                ..CircuitConfig::DEFAULT
            };
            let (_clock, b) = breaker_suite::breaker("fractions", config);
            run(&b, calls - failures, failures);
            assert_eq!(
                b.state(),
                CircuitState::Open,
                "{failures}/{calls} must trip a threshold of {threshold}"
            );
        }
    }
}
