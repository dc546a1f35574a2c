#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Outcomes older than `rolling_window` stop counting, one bucket at a time; lifetime totals
//! keep them.

use std::sync::Arc;
use std::time::Duration;

use breaker::{CircuitConfig, CircuitState, ComponentBreaker, FakeClock, Outcome};

const SECOND: Duration = Duration::from_secs(1);

/// A 10 s window of ten 1 s buckets.
fn breaker(min_calls: u32) -> (ComponentBreaker, FakeClock) {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        rolling_window: Duration::from_secs(10),
        window_buckets: 10,
        min_calls,
        error_rate_threshold: 0.5,
        ..CircuitConfig::DEFAULT
    };
    let b = ComponentBreaker::new("window_eviction", config, Arc::new(clock.clone())).unwrap();
    (b, clock)
}

fn record(b: &ComponentBreaker, outcome: Outcome, times: u32) {
    for _ in 0..times {
        b.acquire().into_result().unwrap().record(outcome);
    }
}

#[test]
fn failures_older_than_the_window_stop_counting() {
    let (b, clock) = breaker(10);
    record(&b, Outcome::Failure, 9);
    assert_eq!(b.snapshot().window.failures, 9);
    clock.advance(Duration::from_secs(10));
    let window = b.snapshot().window;
    assert_eq!((window.calls, window.failures), (0, 0));
    assert_eq!(window.error_rate, 0.0);
    // With the old failures still counted this would be 10/19 and trip.
    record(&b, Outcome::Success, 9);
    record(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), CircuitState::Closed);
    let snap = b.snapshot();
    assert_eq!((snap.window.calls, snap.window.failures), (10, 1));
    // The lifetime totals keep what the window forgot.
    assert_eq!((snap.failures, snap.successes), (10, 9));
}

#[test]
fn failures_just_inside_the_window_still_count() {
    let (b, clock) = breaker(10);
    record(&b, Outcome::Failure, 9);
    clock.advance(Duration::from_secs(10) - Duration::from_millis(1));
    assert_eq!(b.snapshot().window.failures, 9);
    record(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), CircuitState::Open, "10/10 inside the window");
}

#[test]
fn old_failures_do_not_reach_min_calls_for_new_ones() {
    let (b, clock) = breaker(4);
    record(&b, Outcome::Failure, 3);
    clock.advance(Duration::from_secs(10));
    record(&b, Outcome::Failure, 3);
    assert_eq!(b.snapshot().window.calls, 3);
    assert_eq!(b.state(), CircuitState::Closed, "3 calls in window < 4");
    record(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn buckets_drop_out_one_at_a_time() {
    let (b, clock) = breaker(1000);
    // One failure in each of seconds 0..=4, two successes in second 5.
    for _ in 0..5 {
        record(&b, Outcome::Failure, 1);
        clock.advance(SECOND);
    }
    record(&b, Outcome::Success, 2);
    assert_eq!(b.snapshot().window.calls, 7);
    assert_eq!(b.snapshot().window.failures, 5);
    // t = 9 s: still everything.
    clock.advance(4 * SECOND);
    assert_eq!(b.snapshot().window.failures, 5);
    // From t = 10 s on, each second drops the oldest bucket.
    for expected in (0..5).rev() {
        clock.advance(SECOND);
        let window = b.snapshot().window;
        assert_eq!(window.failures, expected);
        assert_eq!(window.calls, expected + 2);
    }
    // t = 15 s: only the successes of second 5 are left, until t = 16 s.
    assert_eq!(b.snapshot().window.error_rate, 0.0);
    clock.advance(SECOND);
    assert_eq!(b.snapshot().window.calls, 0);
    assert_eq!(b.snapshot().failures, 5, "lifetime totals keep everything");
}

#[test]
fn partial_eviction_changes_the_trip_decision() {
    let (b, clock) = breaker(4);
    record(&b, Outcome::Failure, 3); // t = 0
    clock.advance(5 * SECOND);
    record(&b, Outcome::Success, 3); // t = 5
    assert_eq!(b.snapshot().window.error_rate, 0.5);
    clock.advance(5 * SECOND); // t = 10: the t = 0 bucket is gone, the t = 5 one stays
    let window = b.snapshot().window;
    assert_eq!((window.calls, window.failures), (3, 0));
    record(&b, Outcome::Failure, 1);
    // With the old bucket this would be 4/7 and trip; without it, 1/4.
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.snapshot().window.error_rate, 0.25);
    record(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), CircuitState::Open, "3/6 in the window");
}

#[test]
fn a_reused_bucket_forgets_its_previous_lap() {
    let (b, clock) = breaker(1000);
    record(&b, Outcome::Failure, 4); // epoch 0 -> ring slot 0
    clock.advance(Duration::from_secs(10)); // epoch 10 -> ring slot 0 again
    record(&b, Outcome::Success, 1);
    let snap = b.snapshot();
    assert_eq!((snap.window.calls, snap.window.failures), (1, 0));
    assert_eq!((snap.successes, snap.failures), (1, 4));
    // A long gap (many laps) behaves the same.
    clock.advance(Duration::from_secs(3600));
    record(&b, Outcome::Failure, 2);
    let snap = b.snapshot();
    assert_eq!((snap.window.calls, snap.window.failures), (2, 2));
    assert_eq!(snap.failures, 6);
}

#[test]
fn eviction_follows_the_configured_bucket_width() {
    // 2 s window in 4 buckets of 500 ms.
    let clock = FakeClock::new();
    let config = CircuitConfig {
        rolling_window: Duration::from_secs(2),
        window_buckets: 4,
        min_calls: 1000,
        ..CircuitConfig::DEFAULT
    };
    let b = ComponentBreaker::new("half_second_buckets", config, Arc::new(clock.clone())).unwrap();
    record(&b, Outcome::Failure, 1); // bucket [0, 500ms)
    clock.advance(Duration::from_millis(500));
    record(&b, Outcome::Failure, 1); // bucket [500ms, 1s)
    clock.advance(Duration::from_millis(1499)); // t = 1.999 s
    assert_eq!(b.snapshot().window.failures, 2);
    clock.advance(Duration::from_millis(1)); // t = 2 s
    assert_eq!(b.snapshot().window.failures, 1);
    clock.advance(Duration::from_millis(500)); // t = 2.5 s
    assert_eq!(b.snapshot().window.failures, 0);
}
