#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! After tripping, calls are rejected with `CircuitError::Open` whose `retry_after` counts down
//! with the clock; at exactly `open_cooldown` the next acquire moves to `HalfOpen` and is a probe.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitError, CircuitState, ComponentBreaker, FakeClock, GlobalCircuitBreaker,
    Outcome, TransitionReason,
};
use breaker_suite::{registry, trip, EventLog};

const COOLDOWN: Duration = Duration::from_secs(30);

fn setup() -> (
    FakeClock,
    GlobalCircuitBreaker,
    Arc<ComponentBreaker>,
    EventLog,
) {
    let (clock, registry, log) = registry(CircuitConfig {
        min_calls: 2,
        open_cooldown: COOLDOWN,
        ..CircuitConfig::DEFAULT
    });
    let db = registry.register("db").unwrap();
    assert_eq!(trip(&db), 2);
    (clock, registry, db, log)
}

fn open_error(retry_after: Duration) -> CircuitError {
    CircuitError::Open {
        component: "db".into(),
        retry_after,
    }
}

#[test]
fn rejection_carries_the_full_cooldown_right_after_tripping() {
    let (_clock, _registry, db, _log) = setup();
    assert_eq!(
        db.acquire().into_result().unwrap_err(),
        open_error(COOLDOWN)
    );
    assert_eq!(db.retry_after(), Some(COOLDOWN));
}

#[test]
fn retry_after_shrinks_as_the_clock_advances() {
    let (clock, _registry, db, _log) = setup();
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        db.acquire().into_result().unwrap_err(),
        open_error(Duration::from_secs(20))
    );
    assert_eq!(db.retry_after(), Some(Duration::from_secs(20)));

    clock.advance(Duration::from_millis(19_999));
    assert_eq!(
        db.acquire().into_result().unwrap_err(),
        open_error(Duration::from_millis(1))
    );
    assert_eq!(db.retry_after(), Some(Duration::from_millis(1)));
    assert_eq!(db.state(), CircuitState::Open);
}

#[test]
fn rejections_while_open_are_counted_as_rejections_not_calls() {
    let (clock, _registry, db, _log) = setup();
    for _ in 0..3 {
        assert!(!db.acquire().is_allowed());
        clock.advance(Duration::from_secs(1));
    }
    let snap = db.snapshot();
    assert_eq!(snap.rejections.open, 3);
    assert_eq!(snap.rejections.total(), 3);
    assert_eq!(snap.calls, 2, "only the two tripping failures ran");
}

#[test]
fn one_nanosecond_before_the_cooldown_is_still_open() {
    let (clock, _registry, db, _log) = setup();
    clock.advance(COOLDOWN - Duration::from_nanos(1));
    assert_eq!(
        db.acquire().into_result().unwrap_err(),
        open_error(Duration::from_nanos(1))
    );
    assert_eq!(db.state(), CircuitState::Open);
}

#[test]
fn at_exactly_the_cooldown_the_next_acquire_is_a_half_open_probe() {
    let (clock, _registry, db, log) = setup();
    clock.advance(COOLDOWN);
    let probe = db.acquire().into_result().unwrap();
    assert!(probe.is_probe());
    assert_eq!(db.state(), CircuitState::HalfOpen);
    assert_eq!(db.retry_after(), None);

    let last = log.transitions().pop().unwrap();
    assert_eq!(
        (last.component.as_str(), last.from, last.to),
        ("db", CircuitState::Open, CircuitState::HalfOpen)
    );
    assert_eq!(last.reason, TransitionReason::CooldownElapsed);
    probe.record(Outcome::Success);
}

#[test]
fn the_cooldown_ending_alone_does_not_change_state_the_next_acquire_does() {
    let (clock, _registry, db, log) = setup();
    clock.advance(COOLDOWN + Duration::from_secs(5));
    assert_eq!(db.state(), CircuitState::Open);
    assert_eq!(db.retry_after(), Some(Duration::ZERO));
    let before = log.transitions().len();

    let probe = db.acquire().into_result().unwrap();
    assert!(probe.is_probe());
    assert_eq!(log.transitions().len(), before + 1);
    assert_eq!(db.state(), CircuitState::HalfOpen);
    drop(probe);
}

#[test]
fn calls_admitted_while_closed_are_not_probes() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let db = registry.register("db").unwrap();
    let guard = db.acquire().into_result().unwrap();
    assert!(!guard.is_probe());
    guard.record(Outcome::Success);
}
