#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Manual control: `force_open` isolates, `disable` lets everything through, `reset` returns to
//! a fresh `Closed` from anywhere, and outcomes admitted before a reset are stale.

use std::time::Duration;

use breaker::{CircuitConfig, CircuitError, CircuitState, ComponentBreaker, Outcome, Recorded};
use breaker_suite::{breaker, call, trip};

const COOLDOWN: Duration = Duration::from_secs(10);
const DAY: Duration = Duration::from_secs(86_400);

/// Trips at 2 calls, one probe decides, 10 s open (doubling), half-open for at most 60 s.
const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 2,
    open_cooldown: COOLDOWN,
    open_backoff_multiplier: 2.0,
    half_open_max_concurrent: 1,
    half_open_required_successes: 1,
    half_open_max_wait: Some(Duration::from_secs(60)),
    ..CircuitConfig::DEFAULT
};

fn fail(b: &ComponentBreaker) -> Recorded {
    call(b, Outcome::Failure)
}

fn forced_open() -> CircuitError {
    CircuitError::ForcedOpen {
        component: "ops".into(),
    }
}

#[test]
fn force_open_rejects_with_forced_open() {
    let (_clock, b) = breaker("ops", CONFIG);
    b.force_open();
    assert_eq!(b.state(), CircuitState::ForcedOpen);
    assert_eq!(b.acquire().into_result().unwrap_err(), forced_open());
    assert_eq!(
        b.call(|| Ok::<(), ()>(())).unwrap_err().rejection(),
        Some(&forced_open())
    );
    assert_eq!(b.snapshot().rejections.forced_open, 2);
    assert_eq!(b.retry_after(), None);
}

#[test]
fn forced_open_is_never_left_by_time() {
    let (clock, b) = breaker("ops", CONFIG);
    assert_eq!(trip(&b), 2);
    b.force_open();
    clock.advance(DAY);
    assert_eq!(b.acquire().into_result().unwrap_err(), forced_open());
    assert_eq!(b.state(), CircuitState::ForcedOpen);
}

#[test]
fn forced_open_is_never_left_by_late_outcomes() {
    let (clock, b) = breaker("ops", CONFIG);
    assert_eq!(trip(&b), 2);
    clock.advance(COOLDOWN);
    let probe = b.acquire().into_result().unwrap();
    let generation = b.snapshot().generation;
    b.force_open();
    // The probe's success would have closed the half-open episode.
    assert_eq!(probe.record(Outcome::Success), Recorded::Stale);
    clock.advance(DAY);
    assert_eq!(b.acquire().into_result().unwrap_err(), forced_open());
    assert_eq!(b.state(), CircuitState::ForcedOpen);
    assert_eq!(b.snapshot().generation, generation + 1);
}

#[test]
fn disable_lets_every_call_through_and_never_trips() {
    let (_clock, b) = breaker("ops", CONFIG);
    b.disable();
    for _ in 0..100 {
        let guard = b.acquire().into_result().unwrap();
        assert!(!guard.is_probe());
        assert_eq!(guard.record(Outcome::Failure), Recorded::Counted);
    }
    assert_eq!(b.state(), CircuitState::Disabled);
    let snap = b.snapshot();
    assert_eq!(snap.failures, 100, "calls are still counted");
    assert_eq!(snap.window.error_rate, 1.0);
    assert_eq!(snap.rejections.total(), 0);
}

#[test]
fn disable_lets_calls_through_an_open_breaker() {
    let (_clock, b) = breaker("ops", CONFIG);
    assert_eq!(trip(&b), 2);
    b.disable();
    assert_eq!(b.call(|| Ok::<u8, ()>(5)), Ok(5));
    assert_eq!(b.state(), CircuitState::Disabled);
}

#[test]
fn reset_from_open_clears_window_and_backoff() {
    let (clock, b) = breaker("ops", CONFIG);
    assert_eq!(trip(&b), 2);
    // Grow the backoff: a failed probe re-opens with twice the cooldown.
    clock.advance(COOLDOWN);
    b.acquire().into_result().unwrap().record(Outcome::Failure);
    assert_eq!(b.retry_after(), Some(2 * COOLDOWN));

    b.reset();
    assert_eq!(b.state(), CircuitState::Closed);
    let snap = b.snapshot();
    assert_eq!(snap.window.calls, 0);
    assert_eq!(snap.consecutive_failures, 0);
    assert!(b.acquire().is_allowed());

    assert_eq!(trip(&b), 2);
    assert_eq!(b.retry_after(), Some(COOLDOWN), "no backoff after a reset");
}

#[test]
fn reset_from_forced_open_and_disabled_returns_to_closed() {
    let (_clock, b) = breaker("ops", CONFIG);
    b.force_open();
    b.reset();
    assert_eq!(b.state(), CircuitState::Closed);
    assert!(b.acquire().is_allowed());

    b.disable();
    fail(&b);
    b.reset();
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.snapshot().window.calls, 0);
    // Closed again means evaluated again.
    assert_eq!(trip(&b), 2);
}

#[test]
fn reset_when_closed_empties_the_window() {
    let (_clock, b) = breaker("ops", CONFIG);
    fail(&b);
    let generation = b.snapshot().generation;
    b.reset();
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(b.snapshot().generation, generation + 1);
    // With the earlier failure still counted this one would trip (2 of 2).
    fail(&b);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[test]
fn outcomes_admitted_before_a_reset_are_stale() {
    let (_clock, b) = breaker("ops", CONFIG);
    let early = [
        b.acquire().into_result().unwrap(),
        b.acquire().into_result().unwrap(),
    ];
    b.reset();
    for guard in early {
        assert_eq!(guard.record(Outcome::Failure), Recorded::Stale);
    }
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "two failures would have tripped it"
    );
    let snap = b.snapshot();
    assert_eq!(snap.window.calls, 0);
    assert_eq!(snap.consecutive_failures, 0);
    assert_eq!(
        snap.failures, 2,
        "stale outcomes stay in the lifetime totals"
    );
    assert_eq!(fail(&b), Recorded::Counted);
}
