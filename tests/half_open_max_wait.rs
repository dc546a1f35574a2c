#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Probes that never report cannot wedge the breaker: `half_open_max_wait` after entering
//! `HalfOpen` the next acquire re-opens it (`HalfOpenTimeout`), fresh probes follow the
//! cooldown, and late outcomes of the old probes are `Stale`.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CallGuard, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, FakeClock,
    GlobalCircuitBreaker, Outcome, Recorded, TransitionReason,
};
use breaker_suite::{registry, trip, EventLog};

const COOLDOWN: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(60);

struct Fixture {
    clock: FakeClock,
    _registry: GlobalCircuitBreaker,
    b: Arc<ComponentBreaker>,
    log: EventLog,
}

/// Tripped, cooldown elapsed; two probes needed to close, two slots.
fn ready_to_probe() -> Fixture {
    let (clock, registry, log) = registry(CircuitConfig {
        min_calls: 2,
        open_cooldown: COOLDOWN,
        open_backoff_multiplier: 2.0,
        half_open_max_concurrent: 2,
        half_open_required_successes: 2,
        half_open_max_wait: Some(MAX_WAIT),
        ..CircuitConfig::DEFAULT
    });
    let b = registry.register("ws").unwrap();
    assert_eq!(trip(&b), 2);
    clock.advance(COOLDOWN);
    Fixture {
        clock,
        _registry: registry,
        b,
        log,
    }
}

fn take_all_probes(b: &ComponentBreaker) -> Vec<CallGuard<'_>> {
    let probes: Vec<_> = (0..2).map(|_| b.acquire().into_result().unwrap()).collect();
    assert!(probes.iter().all(CallGuard::is_probe));
    assert!(matches!(
        b.acquire().into_result().unwrap_err(),
        CircuitError::HalfOpenExhausted { .. }
    ));
    probes
}

#[test]
fn silent_probes_block_admission_until_max_wait() {
    let f = ready_to_probe();
    let _stuck = take_all_probes(&f.b);
    f.clock.advance(MAX_WAIT - Duration::from_nanos(1));
    assert!(matches!(
        f.b.acquire().into_result().unwrap_err(),
        CircuitError::HalfOpenExhausted { .. }
    ));
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
}

#[test]
fn at_max_wait_the_next_acquire_reopens_with_half_open_timeout() {
    let f = ready_to_probe();
    let _stuck = take_all_probes(&f.b);
    f.clock.advance(MAX_WAIT);
    // A re-open from HalfOpen: the backed-off cooldown (10 s x 2).
    assert_eq!(
        f.b.acquire().into_result().unwrap_err(),
        CircuitError::Open {
            component: "ws".into(),
            retry_after: 2 * COOLDOWN,
        }
    );
    assert_eq!(f.b.state(), CircuitState::Open);
    let last = f.log.transitions().pop().unwrap();
    assert_eq!(
        (last.from, last.to, last.reason),
        (
            CircuitState::HalfOpen,
            CircuitState::Open,
            TransitionReason::HalfOpenTimeout
        )
    );
}

#[test]
fn forgotten_guards_cannot_wedge_the_breaker() {
    let f = ready_to_probe();
    for probe in take_all_probes(&f.b) {
        std::mem::forget(probe);
    }
    f.clock.advance(MAX_WAIT);
    assert!(!f.b.acquire().is_allowed());
    assert_eq!(f.b.state(), CircuitState::Open);
    f.clock.advance(f.b.retry_after().unwrap());
    let fresh = take_all_probes(&f.b);
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
    for probe in fresh {
        probe.record(Outcome::Success);
    }
    assert_eq!(f.b.state(), CircuitState::Closed);
}

#[test]
fn fresh_probes_are_admitted_after_the_cooldown() {
    let f = ready_to_probe();
    let _stuck = take_all_probes(&f.b);
    f.clock.advance(MAX_WAIT);
    assert!(!f.b.acquire().is_allowed());
    f.clock.advance(2 * COOLDOWN - Duration::from_nanos(1));
    assert!(!f.b.acquire().is_allowed());
    f.clock.advance(Duration::from_nanos(1));
    let fresh = take_all_probes(&f.b);
    assert_eq!(f.b.snapshot().half_open_in_flight, 2);
    drop(fresh);
}

#[test]
fn late_outcomes_of_old_probes_are_stale_and_do_not_touch_the_new_episode() {
    let f = ready_to_probe();
    let old = take_all_probes(&f.b);
    f.clock.advance(MAX_WAIT);
    assert!(!f.b.acquire().is_allowed());
    f.clock.advance(f.b.retry_after().unwrap());

    let new = f.b.acquire().into_result().unwrap();
    assert!(new.is_probe());
    let transitions_before = f.log.transitions().len();

    // Two old successes would close the new episode if they counted.
    for probe in old {
        assert_eq!(probe.record(Outcome::Success), Recorded::Stale);
    }
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
    assert_eq!(f.log.transitions().len(), transitions_before);
    // ... nor free the new episode's slots: one is taken, one is free, no more.
    assert_eq!(f.b.snapshot().half_open_in_flight, 1);
    let second = f.b.acquire().into_result().unwrap();
    assert!(!f.b.acquire().is_allowed());

    new.record(Outcome::Success);
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
    second.record(Outcome::Success);
    assert_eq!(f.b.state(), CircuitState::Closed);
    assert_eq!(
        f.log.transitions().pop().unwrap().reason,
        TransitionReason::ProbesSucceeded { successes: 2 }
    );
    // The stale outcomes are still in the lifetime totals.
    assert_eq!(f.b.snapshot().successes, 4);
}

#[test]
fn late_failures_of_old_probes_do_not_reopen_the_new_episode() {
    let f = ready_to_probe();
    let old = take_all_probes(&f.b);
    f.clock.advance(MAX_WAIT);
    assert!(!f.b.acquire().is_allowed());
    f.clock.advance(f.b.retry_after().unwrap());
    let new = f.b.acquire().into_result().unwrap();

    for probe in old {
        assert_eq!(probe.record(Outcome::Failure), Recorded::Stale);
    }
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
    assert_eq!(new.record(Outcome::Success), Recorded::Counted);
}
