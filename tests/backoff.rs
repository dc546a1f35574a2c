#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The open cooldown grows by `open_backoff_multiplier` on each re-open from `HalfOpen`, is
//! capped at `open_cooldown_max`, and starts again from `open_cooldown` after a close.

use std::time::Duration;

use breaker::{CircuitConfig, CircuitError, CircuitState, ComponentBreaker, FakeClock, Outcome};
use breaker_suite::{breaker, trip};

const COOLDOWN: Duration = Duration::from_secs(10);
const COOLDOWN_MAX: Duration = Duration::from_secs(35);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A tripped breaker with one probe per episode that decides it.
fn tripped(multiplier: f32) -> (FakeClock, ComponentBreaker) {
    let config = CircuitConfig {
        min_calls: 2,
        open_cooldown: COOLDOWN,
        open_backoff_multiplier: multiplier,
        open_cooldown_max: COOLDOWN_MAX,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        half_open_allowed_failures: 0,
        ..CircuitConfig::DEFAULT
    };
    let (clock, b) = breaker("feed", config);
    assert_eq!(trip(&b), 2);
    (clock, b)
}

/// The cooldown now in force, as the Open rejection reports it (and `retry_after` agrees).
fn cooldown(b: &ComponentBreaker) -> Duration {
    let from_breaker = b.retry_after().unwrap();
    match b.acquire().into_result().unwrap_err() {
        CircuitError::Open { retry_after, .. } => {
            assert_eq!(retry_after, from_breaker);
            retry_after
        }
        other => panic!("expected Open, got {other:?}"),
    }
}

/// Waits out the cooldown and lets one probe decide the episode.
fn probe_after_cooldown(clock: &FakeClock, b: &ComponentBreaker, outcome: Outcome) {
    clock.advance(b.retry_after().unwrap());
    let probe = b.acquire().into_result().unwrap();
    assert!(probe.is_probe());
    probe.record(outcome);
}

#[test]
fn first_open_uses_the_base_cooldown() {
    let (_clock, b) = tripped(2.0);
    assert_eq!(cooldown(&b), COOLDOWN);
}

#[test]
fn each_reopen_from_half_open_multiplies_the_cooldown_up_to_the_cap() {
    let (clock, b) = tripped(2.0);
    let mut seen = vec![cooldown(&b)];
    for _ in 0..3 {
        probe_after_cooldown(&clock, &b, Outcome::Failure);
        assert_eq!(b.state(), CircuitState::Open);
        seen.push(cooldown(&b));
    }
    assert_eq!(seen, [secs(10), secs(20), COOLDOWN_MAX, COOLDOWN_MAX]);
}

#[test]
fn the_grown_cooldown_is_really_waited_out() {
    let (clock, b) = tripped(2.0);
    probe_after_cooldown(&clock, &b, Outcome::Failure);
    // The base cooldown is no longer enough.
    clock.advance(COOLDOWN);
    assert_eq!(cooldown(&b), secs(10));
    clock.advance(secs(10));
    assert!(b.acquire().into_result().unwrap().is_probe());
}

#[test]
fn a_close_resets_the_backoff() {
    let (clock, b) = tripped(2.0);
    probe_after_cooldown(&clock, &b, Outcome::Failure);
    probe_after_cooldown(&clock, &b, Outcome::Failure);
    assert_eq!(cooldown(&b), COOLDOWN_MAX);

    probe_after_cooldown(&clock, &b, Outcome::Success);
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(trip(&b), 2, "a close starts from an empty window");
    assert_eq!(cooldown(&b), COOLDOWN);

    // And it grows from the base again.
    probe_after_cooldown(&clock, &b, Outcome::Failure);
    assert_eq!(cooldown(&b), secs(20));
}

#[test]
fn a_multiplier_of_one_disables_the_backoff() {
    let (clock, b) = tripped(1.0);
    for _ in 0..3 {
        probe_after_cooldown(&clock, &b, Outcome::Failure);
        assert_eq!(cooldown(&b), COOLDOWN);
    }
}

#[test]
fn a_fractional_multiplier_grows_proportionally() {
    let (clock, b) = tripped(1.5);
    probe_after_cooldown(&clock, &b, Outcome::Failure);
    assert_eq!(cooldown(&b), secs(15));
    probe_after_cooldown(&clock, &b, Outcome::Failure);
    assert_eq!(cooldown(&b), Duration::from_millis(22_500));
}
