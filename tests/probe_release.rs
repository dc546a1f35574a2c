#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! However a half-open probe ends (dropped guard, panic, `Outcome::Ignored`, cancelled future)
//! its slot comes back; a panic counts as a failure.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use breaker::{
    CallError, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, FakeClock,
    GlobalCircuitBreaker, Outcome, Recorded, TransitionReason,
};
use breaker_suite::{registry, trip, EventLog};
use futures::FutureExt;

const COOLDOWN: Duration = Duration::from_secs(10);

struct Fixture {
    clock: FakeClock,
    registry: GlobalCircuitBreaker,
    b: Arc<ComponentBreaker>,
    log: EventLog,
}

/// Tripped, cooldown elapsed; one probe slot, one success closes.
fn ready_to_probe(allowed_failures: u32) -> Fixture {
    ready_to_probe_with(CircuitConfig {
        half_open_allowed_failures: allowed_failures,
        ..CircuitConfig::DEFAULT
    })
}

fn ready_to_probe_with(base: CircuitConfig) -> Fixture {
    let (clock, registry, log) = registry(CircuitConfig {
        min_calls: 2,
        open_cooldown: COOLDOWN,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..base
    });
    let b = registry.register("rest").unwrap();
    assert_eq!(trip(&b), 2);
    clock.advance(COOLDOWN);
    Fixture {
        clock,
        registry,
        b,
        log,
    }
}

/// The single slot is free: a probe is admitted (and given back at once).
fn assert_slot_free(b: &ComponentBreaker) {
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert_eq!(b.snapshot().half_open_in_flight, 0);
    let probe = b.acquire().into_result().unwrap();
    assert!(probe.is_probe());
    assert_eq!(probe.record(Outcome::Ignored), Recorded::Counted);
}

fn assert_slot_taken(b: &ComponentBreaker) {
    assert_eq!(b.snapshot().half_open_in_flight, 1);
    assert!(matches!(
        b.acquire().into_result().unwrap_err(),
        CircuitError::HalfOpenExhausted { .. }
    ));
}

fn panicking_call(b: &ComponentBreaker) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), ()> { panic!("probe blew up") })
    }));
    let payload = result.expect_err("the panic propagates out of call");
    assert_eq!(breaker_suite::panic_message(&*payload), "probe blew up");
}

#[test]
fn a_dropped_probe_guard_releases_its_slot() {
    let f = ready_to_probe(0);
    let probe = f.b.acquire().into_result().unwrap();
    assert_slot_taken(&f.b);
    drop(probe);
    assert_slot_free(&f.b);
    // A drop tells nothing about the dependency: ignored, not failed.
    let snap = f.b.snapshot();
    assert_eq!(snap.failures, 2);
    assert_eq!(snap.ignored, 2);
}

#[test]
fn an_ignored_probe_releases_its_slot() {
    let f = ready_to_probe(0);
    let probe = f.b.acquire().into_result().unwrap();
    assert_slot_taken(&f.b);
    assert_eq!(probe.record(Outcome::Ignored), Recorded::Counted);
    assert_slot_free(&f.b);
    assert_eq!(f.b.snapshot().failures, 2);
}

#[test]
fn a_panicking_probe_releases_its_slot() {
    let f = ready_to_probe(1);
    panicking_call(&f.b);
    assert_slot_free(&f.b);
}

#[test]
fn a_panicking_probe_is_recorded_as_a_failure() {
    let f = ready_to_probe(1);
    panicking_call(&f.b);
    assert_eq!(f.b.snapshot().failures, 3);
    // One failure is tolerated; the panic was it, so the next failure re-opens.
    f.b.acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(f.b.state(), CircuitState::Open);
    assert_eq!(
        f.log.transitions().pop().unwrap().reason,
        TransitionReason::ProbesFailed { failures: 2 }
    );
}

#[test]
fn a_panicking_probe_reopens_with_no_allowed_failures() {
    let f = ready_to_probe(0);
    panicking_call(&f.b);
    assert_eq!(f.b.state(), CircuitState::Open);
    assert_eq!(
        f.log.transitions().pop().unwrap().reason,
        TransitionReason::ProbesFailed { failures: 1 }
    );
}

#[test]
fn a_cancelled_run_protected_future_releases_its_slot() {
    let f = ready_to_probe(0);
    {
        let mut fut = pin!(f
            .b
            .run_protected(futures::future::pending::<Result<(), ()>>()));
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        // The future holds the probe while it waits.
        assert_slot_taken(&f.b);
    }
    assert_slot_free(&f.b);
    assert_eq!(
        f.b.snapshot().failures,
        2,
        "a cancellation is not a failure"
    );
}

#[test]
fn a_cancelled_registry_run_protected_future_releases_its_slot() {
    let f = ready_to_probe(0);
    let fut = f
        .registry
        .run_protected("rest", futures::future::pending::<Result<(), ()>>());
    assert!(fut.now_or_never().is_none());
    // It was admitted as a probe and, dropped, counted as a cancelled (ignored) call.
    assert_eq!(f.b.snapshot().ignored, 1);
    assert_slot_free(&f.b);
}

#[tokio::test]
async fn a_completed_run_protected_probe_records_its_result() {
    let f = ready_to_probe(0);
    let out: Result<u8, CallError<()>> = f.b.run_protected(async { Ok(7) }).await;
    assert_eq!(out, Ok(7));
    assert_eq!(f.b.state(), CircuitState::Closed);
}

#[test]
fn a_cancelled_probe_that_was_already_slow_counts_as_a_failure() {
    let f = ready_to_probe_with(CircuitConfig {
        slow_call_threshold: Some(Duration::from_secs(1)),
        ..CircuitConfig::DEFAULT
    });
    let mut fut = Box::pin(f.b.run_protected(futures::future::pending::<Result<(), ()>>()));
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    f.clock.advance(Duration::from_secs(1));
    // Dropping the future now is the slow failure it would have become.
    drop(fut);
    assert_eq!(f.b.state(), CircuitState::Open);
    assert_eq!(f.b.snapshot().failures, 3);
    assert_eq!(
        f.log.transitions().pop().unwrap().reason,
        TransitionReason::ProbesFailed { failures: 1 }
    );
}
