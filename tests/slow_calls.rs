#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Slow-call detection: a call taking `>= slow_call_threshold` is slow, the slow-call rate
//! trips the breaker on its own, and a dropped guard that already ran long is a failure.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, FakeClock, GlobalCircuitBreaker, Outcome,
    TransitionReason,
};
use breaker_suite::{registry, EventLog};

const THRESHOLD: Duration = Duration::from_millis(100);

struct Setup {
    breaker: Arc<ComponentBreaker>,
    clock: FakeClock,
    log: EventLog,
    _registry: GlobalCircuitBreaker,
}

/// `min_calls` 4, slow-call rate threshold 0.5, slow calls from `slow` on (or detection off).
fn setup(slow: Option<Duration>) -> Setup {
    let (clock, registry, log) = registry(CircuitConfig {
        min_calls: 4,
        slow_call_threshold: slow,
        slow_call_rate_threshold: 0.5,
        ..CircuitConfig::DEFAULT
    });
    let breaker = registry.register("slow_dep").unwrap();
    Setup {
        breaker,
        clock,
        log,
        _registry: registry,
    }
}

/// One call that takes `took` and ends with `outcome`.
fn call(s: &Setup, took: Duration, outcome: Outcome) {
    let guard = s.breaker.acquire().into_result().unwrap();
    s.clock.advance(took);
    guard.record(outcome);
}

/// One call that takes `took` and whose guard is dropped without an outcome.
fn dropped(s: &Setup, took: Duration) {
    let guard = s.breaker.acquire().into_result().unwrap();
    s.clock.advance(took);
    drop(guard);
}

#[test]
fn slow_means_at_least_the_threshold() {
    let s = setup(Some(THRESHOLD));
    call(&s, THRESHOLD - Duration::from_nanos(1), Outcome::Success);
    assert_eq!(s.breaker.snapshot().slow_calls, 0);
    call(&s, THRESHOLD, Outcome::Success);
    assert_eq!(s.breaker.snapshot().slow_calls, 1);
    call(&s, THRESHOLD * 3, Outcome::Success);
    let snap = s.breaker.snapshot();
    assert_eq!(snap.slow_calls, 2);
    assert_eq!(snap.window.slow_calls, 2);
    assert_eq!(snap.successes, 3, "slow calls are still successes");
}

#[test]
fn slow_call_rate_trips_with_only_successes() {
    let s = setup(Some(THRESHOLD));
    for _ in 0..2 {
        call(&s, Duration::from_millis(10), Outcome::Success);
    }
    call(&s, THRESHOLD, Outcome::Success);
    assert_eq!(
        s.breaker.state(),
        CircuitState::Closed,
        "3 calls < min_calls"
    );
    call(&s, THRESHOLD, Outcome::Success);
    assert_eq!(s.breaker.state(), CircuitState::Open, "2/4 slow >= 0.5");
    let snap = s.breaker.snapshot();
    assert_eq!(snap.failures, 0);
    assert_eq!(snap.slow_calls, 2);
    let trips: Vec<_> = s
        .log
        .transitions()
        .into_iter()
        .filter(|t| t.component == "slow_dep")
        .collect();
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].to, CircuitState::Open);
    assert_eq!(
        trips[0].reason,
        TransitionReason::SlowCallRate {
            rate: 0.5,
            threshold: 0.5,
            calls: 4
        }
    );
}

#[test]
fn slow_rate_just_below_the_threshold_does_not_trip() {
    let s = setup(Some(THRESHOLD));
    for _ in 0..3 {
        call(&s, Duration::ZERO, Outcome::Success);
    }
    for _ in 0..2 {
        call(&s, THRESHOLD, Outcome::Success);
    }
    assert_eq!(s.breaker.snapshot().window.slow_calls, 2);
    assert_eq!(s.breaker.state(), CircuitState::Closed, "2/5 < 0.5");
}

#[test]
fn a_slow_failure_is_both_a_failure_and_slow() {
    let s = setup(Some(THRESHOLD));
    call(&s, THRESHOLD, Outcome::Failure);
    let snap = s.breaker.snapshot();
    assert_eq!((snap.failures, snap.slow_calls), (1, 1));
    assert_eq!((snap.window.failures, snap.window.slow_calls), (1, 1));
}

#[test]
fn an_ignored_call_is_never_slow() {
    let s = setup(Some(THRESHOLD));
    call(&s, THRESHOLD * 10, Outcome::Ignored);
    let snap = s.breaker.snapshot();
    assert_eq!((snap.ignored, snap.slow_calls), (1, 0));
    assert_eq!(snap.window.calls, 0);
}

#[test]
fn with_detection_off_nothing_is_slow() {
    let s = setup(None);
    for _ in 0..10 {
        call(&s, Duration::from_secs(3600), Outcome::Success);
    }
    let snap = s.breaker.snapshot();
    assert_eq!(snap.slow_calls, 0);
    assert_eq!(snap.window.slow_calls, 0);
    assert_eq!(snap.window.slow_call_rate, 0.0);
    assert_eq!(s.breaker.state(), CircuitState::Closed);
}

#[test]
fn a_dropped_guard_past_the_threshold_is_a_failure() {
    let s = setup(Some(THRESHOLD));
    dropped(&s, THRESHOLD);
    let snap = s.breaker.snapshot();
    assert_eq!(snap.failures, 1);
    assert_eq!(snap.ignored, 0);
    assert_eq!(snap.slow_calls, 1);
    assert_eq!(snap.window.failures, 1);
}

#[test]
fn dropped_slow_guards_trip_the_breaker() {
    let s = setup(Some(THRESHOLD));
    for _ in 0..4 {
        dropped(&s, THRESHOLD * 2);
    }
    assert_eq!(s.breaker.state(), CircuitState::Open);
    assert_eq!(s.breaker.snapshot().failures, 4);
}

#[test]
fn a_dropped_guard_within_the_threshold_is_ignored() {
    let s = setup(Some(THRESHOLD));
    dropped(&s, THRESHOLD - Duration::from_millis(1));
    let snap = s.breaker.snapshot();
    assert_eq!(snap.ignored, 1);
    assert_eq!(snap.failures, 0);
    assert_eq!(snap.slow_calls, 0);
    assert_eq!(snap.window.calls, 0);
}

#[test]
fn a_dropped_guard_with_detection_off_is_ignored_however_long() {
    let s = setup(None);
    dropped(&s, Duration::from_secs(3600));
    let snap = s.breaker.snapshot();
    assert_eq!((snap.ignored, snap.failures), (1, 0));
}
