#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `CoarseClock`: the `Closed` call path reads its last tick; everything that decides when a
//! breaker leaves `Open` reads its source, so a clock nobody ticks never leaves a breaker
//! stuck. Each test puts a `FakeClock` under it.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, Clock, CoarseClock, ComponentBreaker, FakeClock, Outcome,
};
use breaker_suite::{call, trip};

fn coarse() -> (FakeClock, CoarseClock) {
    let fake = FakeClock::new();
    let coarse = CoarseClock::over(Arc::new(fake.clone()));
    (fake, coarse)
}

fn breaker(clock: &CoarseClock, config: CircuitConfig) -> ComponentBreaker {
    ComponentBreaker::new("coarse", config, Arc::new(clock.clone())).unwrap()
}

/// Trips on 50 % of at least 4 calls in a 10 s window of 10 buckets; 30 s open; one probe
/// success closes.
fn config() -> CircuitConfig {
    CircuitConfig {
        min_calls: 4,
        error_rate_threshold: 0.5,
        rolling_window: Duration::from_secs(10),
        window_buckets: 10,
        consecutive_failures_threshold: None,
        open_cooldown: Duration::from_secs(30),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    }
}

#[test]
fn the_reading_is_the_last_tick() {
    let (fake, coarse) = coarse();
    let start = coarse.now();
    fake.advance(Duration::from_secs(5));
    assert_eq!(coarse.now(), start, "no tick, no time");
    coarse.tick();
    assert_eq!(coarse.now(), start + Duration::from_secs(5));
    coarse.tick();
    assert_eq!(
        coarse.now(),
        start + Duration::from_secs(5),
        "a tick never runs ahead"
    );
}

#[test]
fn a_clock_nobody_ticks_still_ends_the_cooldown() {
    let (fake, coarse) = coarse();
    let b = breaker(&coarse, config());
    assert_eq!(trip(&b), 4);
    assert_eq!(b.retry_after(), Some(Duration::from_secs(30)));
    fake.advance(Duration::from_secs(29));
    assert_eq!(b.retry_after(), Some(Duration::from_secs(1)));
    assert!(!b.acquire().is_allowed());
    fake.advance(Duration::from_secs(1));
    let probe = b.acquire().into_result().unwrap();
    assert!(probe.is_probe());
    assert_eq!(b.state(), CircuitState::HalfOpen);
    probe.record(Outcome::Success);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[test]
fn closed_outcomes_land_in_the_bucket_of_the_last_tick() {
    let (fake, coarse) = coarse();
    // Ticked: the successes age out of the window, so four failures trip it.
    let b = breaker(&coarse, config());
    for _ in 0..4 {
        call(&b, Outcome::Success);
    }
    fake.advance(Duration::from_secs(20));
    coarse.tick();
    assert_eq!(trip(&b), 4);

    // Not ticked: the successes and the first failure land in the last tick's bucket, 20 s
    // ago; that failure's trip check ticks the clock, so the next outcomes land now.
    let (fake, coarse) = self::coarse();
    let b = breaker(&coarse, config());
    for _ in 0..4 {
        call(&b, Outcome::Success);
    }
    let before = coarse.now();
    fake.advance(Duration::from_secs(20));
    call(&b, Outcome::Failure);
    assert_eq!(b.snapshot().window.calls, 0, "all five are 20 s old");
    assert_eq!(b.snapshot().failures, 1);
    assert_eq!(
        coarse.now(),
        before + Duration::from_secs(20),
        "the trip check ticked"
    );
    assert_eq!(trip(&b), 4);
}

#[test]
fn a_slow_call_is_measured_between_ticks() {
    let (fake, coarse) = coarse();
    let b = breaker(
        &coarse,
        CircuitConfig {
            slow_call_threshold: Some(Duration::from_secs(1)),
            ..config()
        },
    );
    let guard = b.acquire().into_result().unwrap();
    fake.advance(Duration::from_secs(2));
    guard.record(Outcome::Success);
    assert_eq!(
        b.snapshot().slow_calls,
        0,
        "no tick between start and end: 0 s"
    );

    let guard = b.acquire().into_result().unwrap();
    fake.advance(Duration::from_secs(2));
    coarse.tick();
    guard.record(Outcome::Success);
    assert_eq!(b.snapshot().slow_calls, 1);
}

#[test]
fn every_clone_and_every_breaker_shares_one_tick() {
    let (fake, coarse) = coarse();
    let twin = coarse.clone();
    let a = breaker(&coarse, config());
    let b = breaker(&twin, config());
    fake.advance(Duration::from_secs(3));
    twin.tick();
    assert_eq!(coarse.now(), twin.now());
    // Both breakers' windows see the same time: an outcome recorded now is in both at once.
    call(&a, Outcome::Success);
    call(&b, Outcome::Success);
    assert_eq!(a.snapshot().window.calls, 1);
    assert_eq!(b.snapshot().window.calls, 1);
}

#[tokio::test(start_paused = true)]
async fn drive_ticks_on_the_runtime_timer() {
    let (fake, coarse) = coarse();
    let start = coarse.now();
    let driver = tokio::spawn(coarse.clone().drive(Duration::from_millis(1)));
    fake.advance(Duration::from_secs(3));
    // The paused tokio clock moves only when told: one period, then let the driver run.
    tokio::time::advance(Duration::from_millis(1)).await;
    for _ in 0..100 {
        if coarse.now() == start + Duration::from_secs(3) {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(coarse.now(), start + Duration::from_secs(3));
    driver.abort();
}
