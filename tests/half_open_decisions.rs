#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! How a half-open episode decides: `half_open_required_successes` successes close it,
//! more than `half_open_allowed_failures` failures re-open it, and a close starts from an empty
//! window so the failures that opened the breaker cannot re-trip it.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, FakeClock, GlobalCircuitBreaker, Outcome,
    Recorded, TransitionReason,
};
use breaker_suite::{registry, trip, EventLog};

const COOLDOWN: Duration = Duration::from_secs(5);
const MIN_CALLS: u32 = 4;

struct Fixture {
    _clock: FakeClock,
    _registry: GlobalCircuitBreaker,
    b: Arc<ComponentBreaker>,
    log: EventLog,
}

/// Three probes to close, one failure tolerated. The window is far longer than the cooldown,
/// so nothing ages out of it while a test runs.
fn base() -> CircuitConfig {
    CircuitConfig {
        rolling_window: Duration::from_secs(600),
        min_calls: MIN_CALLS,
        open_cooldown: COOLDOWN,
        half_open_max_concurrent: 3,
        half_open_required_successes: 3,
        half_open_allowed_failures: 1,
        ..CircuitConfig::DEFAULT
    }
}

/// Tripped by `MIN_CALLS` failures, cooldown elapsed.
fn ready_to_probe(config: CircuitConfig) -> Fixture {
    let (clock, registry, log) = registry(config);
    let b = registry.register("db").unwrap();
    assert_eq!(trip(&b), MIN_CALLS);
    clock.advance(COOLDOWN);
    Fixture {
        _clock: clock,
        _registry: registry,
        b,
        log,
    }
}

fn probe(b: &ComponentBreaker, outcome: Outcome) -> Recorded {
    let guard = b.acquire().into_result().unwrap();
    assert!(guard.is_probe());
    guard.record(outcome)
}

fn last_reason(log: &EventLog) -> (CircuitState, CircuitState, TransitionReason) {
    let t = log.transitions().pop().unwrap();
    (t.from, t.to, t.reason)
}

#[test]
fn required_successes_close_the_breaker() {
    let f = ready_to_probe(base());
    assert_eq!(probe(&f.b, Outcome::Success), Recorded::Counted);
    assert_eq!(probe(&f.b, Outcome::Success), Recorded::Counted);
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
    assert_eq!(probe(&f.b, Outcome::Success), Recorded::Counted);
    assert_eq!(f.b.state(), CircuitState::Closed);
    assert_eq!(
        last_reason(&f.log),
        (
            CircuitState::HalfOpen,
            CircuitState::Closed,
            TransitionReason::ProbesSucceeded { successes: 3 }
        )
    );
}

#[test]
fn one_failure_is_tolerated_the_second_reopens() {
    let f = ready_to_probe(base());
    probe(&f.b, Outcome::Failure);
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
    probe(&f.b, Outcome::Failure);
    assert_eq!(f.b.state(), CircuitState::Open);
    assert_eq!(
        last_reason(&f.log),
        (
            CircuitState::HalfOpen,
            CircuitState::Open,
            TransitionReason::ProbesFailed { failures: 2 }
        )
    );
}

#[test]
fn a_tolerated_failure_does_not_stop_the_close() {
    let f = ready_to_probe(base());
    probe(&f.b, Outcome::Failure);
    probe(&f.b, Outcome::Success);
    probe(&f.b, Outcome::Success);
    assert_eq!(f.b.state(), CircuitState::HalfOpen);
    probe(&f.b, Outcome::Success);
    assert_eq!(f.b.state(), CircuitState::Closed);
}

#[test]
fn zero_allowed_failures_reopens_on_the_first_failed_probe() {
    let f = ready_to_probe(CircuitConfig {
        half_open_allowed_failures: 0,
        ..base()
    });
    probe(&f.b, Outcome::Success);
    probe(&f.b, Outcome::Failure);
    assert_eq!(f.b.state(), CircuitState::Open);
    assert_eq!(
        last_reason(&f.log).2,
        TransitionReason::ProbesFailed { failures: 1 }
    );
}

#[test]
fn probes_still_in_flight_when_the_episode_decides_are_stale() {
    let f = ready_to_probe(base());
    let mut probes: Vec<_> = (0..3)
        .map(|_| f.b.acquire().into_result().unwrap())
        .collect();
    assert_eq!(
        probes.pop().unwrap().record(Outcome::Failure),
        Recorded::Counted
    );
    assert_eq!(
        probes.pop().unwrap().record(Outcome::Failure),
        Recorded::Counted
    );
    assert_eq!(f.b.state(), CircuitState::Open);
    // The third probe reports after the re-open: it cannot count toward anything.
    assert_eq!(
        probes.pop().unwrap().record(Outcome::Success),
        Recorded::Stale
    );
    assert_eq!(f.b.state(), CircuitState::Open);
}

fn close(f: &Fixture) {
    for _ in 0..3 {
        probe(&f.b, Outcome::Success);
    }
    assert_eq!(f.b.state(), CircuitState::Closed);
}

#[test]
fn closing_empties_the_window() {
    let f = ready_to_probe(base());
    // Each episode has its own window: the half-open one starts empty.
    assert_eq!(f.b.snapshot().window.calls, 0);
    assert_eq!(f.b.snapshot().failures, u64::from(MIN_CALLS));
    close(&f);
    let snap = f.b.snapshot();
    assert_eq!(snap.window.calls, 0);
    assert_eq!(snap.window.failures, 0);
    assert_eq!(snap.consecutive_failures, 0);
    // Lifetime totals keep everything: the tripping failures and the probes.
    assert_eq!(snap.failures, u64::from(MIN_CALLS));
    assert_eq!(snap.successes, 3);
}

#[test]
fn failures_from_before_the_close_do_not_re_trip() {
    let f = ready_to_probe(base());
    close(&f);
    // With the old failures still in the window this one would make 5 of 8 calls fail.
    f.b.acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(f.b.state(), CircuitState::Closed);
    assert_eq!(f.b.snapshot().window.calls, 1);

    // The window still works: MIN_CALLS fresh failures trip it again.
    for _ in 1..MIN_CALLS {
        f.b.acquire()
            .into_result()
            .unwrap()
            .record(Outcome::Failure);
    }
    assert_eq!(f.b.state(), CircuitState::Open);
}

#[test]
fn closing_resets_the_consecutive_failure_count() {
    let f = ready_to_probe(CircuitConfig {
        consecutive_failures_threshold: Some(MIN_CALLS),
        min_calls: 1000,
        ..base()
    });
    assert_eq!(
        f.log.transitions()[0].reason,
        TransitionReason::ConsecutiveFailures { count: MIN_CALLS }
    );
    close(&f);
    for _ in 1..MIN_CALLS {
        f.b.acquire()
            .into_result()
            .unwrap()
            .record(Outcome::Failure);
    }
    assert_eq!(f.b.state(), CircuitState::Closed);
    assert_eq!(f.b.snapshot().consecutive_failures, MIN_CALLS - 1);
    f.b.acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(f.b.state(), CircuitState::Open);
}
