#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `SampleWeighting::Exponential` weighs a bucket `age` widths old by
//! `0.5^(age / half_life)`, so recent outcomes dominate the rates; `Sliding` weighs every
//! bucket in the window alike.

use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, Exponential, FakeClock, Outcome,
    SampleWeighting, Sliding, WindowStrategy,
};
use breaker_suite::call;

/// 10 s window of 1 s buckets, `min_calls` 10, threshold 0.5, half-life `half_life`.
fn breaker(weighting: SampleWeighting, half_life: Duration) -> (ComponentBreaker, FakeClock) {
    let config = CircuitConfig {
        min_calls: 10,
        error_rate_threshold: 0.5,
        sample_weighting: weighting,
        exponential_half_life: half_life,
        ..CircuitConfig::DEFAULT
    };
    let (clock, b) = breaker_suite::breaker("weighting", config);
    (b, clock)
}

fn both() -> [(ComponentBreaker, FakeClock); 2] {
    let half_life = Duration::from_secs(5);
    [
        breaker(SampleWeighting::Sliding, half_life),
        breaker(SampleWeighting::Exponential, half_life),
    ]
}

fn record(b: &ComponentBreaker, outcome: Outcome, times: u32) {
    for _ in 0..times {
        call(b, outcome);
    }
}

fn assert_near(actual: f32, expected: f64) {
    assert!(
        (f64::from(actual) - expected).abs() < 1e-4,
        "expected about {expected}, got {actual}"
    );
}

/// The weight of a bucket `age` seconds old with a 5 s half-life.
fn w(age: f64) -> f64 {
    0.5f64.powf(age / 5.0)
}

#[test]
fn old_failures_recent_successes_trip_sliding_only() {
    let [(sliding, s_clock), (exponential, e_clock)] = both();
    for (b, clock) in [(&sliding, &s_clock), (&exponential, &e_clock)] {
        record(b, Outcome::Failure, 5); // t = 0, below min_calls
        clock.advance(Duration::from_secs(9));
        record(b, Outcome::Success, 5); // t = 9
    }
    assert_near(sliding.snapshot().window.error_rate, 0.5);
    let old = 5.0 * w(9.0);
    assert_near(exponential.snapshot().window.error_rate, old / (old + 5.0));

    record(&sliding, Outcome::Failure, 1);
    record(&exponential, Outcome::Failure, 1);
    assert_eq!(sliding.state(), CircuitState::Open, "6/11 unweighted");
    assert_eq!(exponential.state(), CircuitState::Closed);
    let window = exponential.snapshot().window;
    assert_eq!(
        (window.calls, window.failures),
        (11, 6),
        "counts stay unweighted"
    );
    assert_near(window.error_rate, (old + 1.0) / (old + 6.0));
}

#[test]
fn old_successes_recent_failures_trip_exponential_only() {
    let [(sliding, s_clock), (exponential, e_clock)] = both();
    for (b, clock) in [(&sliding, &s_clock), (&exponential, &e_clock)] {
        record(b, Outcome::Success, 9); // t = 0
        clock.advance(Duration::from_secs(9));
        record(b, Outcome::Failure, 2); // t = 9
    }
    let old = 9.0 * w(9.0);
    assert_near(sliding.snapshot().window.error_rate, 2.0 / 11.0);
    assert_near(exponential.snapshot().window.error_rate, 2.0 / (old + 2.0));
    assert_eq!(
        exponential.state(),
        CircuitState::Closed,
        "2/(2.58+2) < 0.5"
    );

    record(&sliding, Outcome::Failure, 1);
    record(&exponential, Outcome::Failure, 1);
    assert_eq!(sliding.state(), CircuitState::Closed, "3/12 unweighted");
    assert_eq!(exponential.state(), CircuitState::Open, "3/(2.58+3) >= 0.5");
}

#[test]
fn a_single_bucket_weighs_the_same_under_both() {
    let [(sliding, _), (exponential, _)] = both();
    for b in [&sliding, &exponential] {
        record(b, Outcome::Success, 7);
        record(b, Outcome::Failure, 2);
    }
    assert_eq!(
        sliding.snapshot().window.error_rate,
        exponential.snapshot().window.error_rate
    );
    assert_near(exponential.snapshot().window.error_rate, 2.0 / 9.0);
}

#[test]
fn the_half_life_sets_the_decay() {
    for (half_life, old_weight) in [(1, 0.25), (2, 0.5), (4, 0.5f64.sqrt())] {
        let (b, clock) = breaker(SampleWeighting::Exponential, Duration::from_secs(half_life));
        record(&b, Outcome::Failure, 1); // t = 0
        clock.advance(Duration::from_secs(2));
        record(&b, Outcome::Success, 1); // t = 2: the failure is 2 buckets old
        assert_near(
            b.snapshot().window.error_rate,
            old_weight / (old_weight + 1.0),
        );
    }
}

#[test]
fn min_calls_counts_unweighted_calls() {
    let (b, clock) = breaker(SampleWeighting::Exponential, Duration::from_secs(1));
    record(&b, Outcome::Failure, 9); // t = 0
    clock.advance(Duration::from_secs(9));
    // Weighted, the window would hold 9 * 0.5^9 + 1 ≈ 1.02 calls; unweighted it holds 10.
    record(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn exponential_still_forgets_buckets_outside_the_window() {
    let (b, clock) = breaker(SampleWeighting::Exponential, Duration::from_secs(5));
    record(&b, Outcome::Failure, 5);
    clock.advance(Duration::from_secs(10));
    record(&b, Outcome::Success, 1);
    let window = b.snapshot().window;
    assert_eq!((window.calls, window.failures), (1, 0));
    assert_eq!(window.error_rate, 0.0);
}

/// The strategies' weight functions at their edges: `Sliding` weighs any age alike, and
/// `Exponential` weighs age 0 fully, halves per half-life, and with a zero half-life forgets
/// everything but the current bucket.
#[test]
fn weighting_strategies_at_their_edges() {
    assert_eq!(Sliding.weight(9, 0.0), 1.0);
    assert_eq!(Exponential.weight(0, 0.0), 1.0);
    assert_eq!(Exponential.weight(1, 0.0), 0.0);
    assert_eq!(Exponential.weight(2, 2.0), 0.5);
}
