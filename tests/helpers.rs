#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The convenience API around the core: `call` / `run_protected` on a component and on the
//! registry, lookups by name, the `io::Error` conversion, `Send`-ness, snapshot counts,
//! registration rules.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use breaker::{
    BuildError, CallError, CallGuard, CircuitConfig, CircuitError, CircuitState, ComponentBreaker,
    FakeClock, GlobalCircuitBreaker, Outcome, RegistryError,
};
use breaker_suite::{call, registry, trip};

/// Three calls before the rate rule may trip; at 100 % failures the third trips.
const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 3,
    ..CircuitConfig::DEFAULT
};

fn open(component: &str) -> CircuitError {
    CircuitError::Open {
        component: component.to_owned().into(),
        retry_after: CircuitConfig::DEFAULT.open_cooldown,
    }
}

#[test]
fn component_call_classifies_ok_as_success_and_err_as_failure() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("svc").unwrap();
    assert_eq!(b.call(|| Ok::<u8, &str>(1)), Ok(1));
    assert_eq!(b.snapshot().successes, 1);
    assert_eq!(
        b.call(|| Err::<u8, _>("boom")),
        Err(CallError::Inner("boom"))
    );
    let snap = b.snapshot();
    assert_eq!((snap.successes, snap.failures), (1, 1));
    assert_eq!(b.state(), CircuitState::Closed);
    // The second failure makes 2 of 3 calls: tripped.
    assert_eq!(
        b.call(|| Err::<u8, _>("boom")),
        Err(CallError::Inner("boom"))
    );
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn component_call_when_open_rejects_without_running() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("svc").unwrap();
    assert_eq!(trip(&b), 3);
    let mut ran = false;
    let out = b.call(|| {
        ran = true;
        Ok::<(), ()>(())
    });
    assert!(!ran);
    assert_eq!(out, Err(CallError::Rejected(open("svc"))));
    assert_eq!(out.unwrap_err().rejection(), Some(&open("svc")));
}

#[test]
fn registry_call_classifies_and_rejects_by_name() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("svc").unwrap();
    assert_eq!(registry.call("svc", || Ok::<u8, u8>(1)), Ok(1));
    assert_eq!(
        registry.call("svc", || Err::<u8, u8>(2)),
        Err(CallError::Inner(2))
    );
    assert_eq!(
        registry
            .call("svc", || Err::<u8, u8>(3))
            .unwrap_err()
            .into_inner(),
        Some(3)
    );
    assert_eq!(b.state(), CircuitState::Open);
    let snap = b.snapshot();
    assert_eq!((snap.successes, snap.failures), (1, 2));

    let mut ran = false;
    let out = registry.call("svc", || {
        ran = true;
        Ok::<u8, u8>(0)
    });
    assert!(!ran);
    assert_eq!(out, Err(CallError::Rejected(open("svc"))));
}

#[test]
fn registry_call_on_an_unknown_name_is_component_missing() {
    let (_clock, registry, _log) = registry(CONFIG);
    let mut ran = false;
    let out = registry.call("ghost", || {
        ran = true;
        Ok::<(), ()>(())
    });
    assert!(!ran);
    assert_eq!(
        out,
        Err(CallError::Rejected(CircuitError::ComponentMissing {
            component: "ghost".into()
        }))
    );
}

#[tokio::test]
async fn run_protected_classifies_ok_and_err_and_rejects_when_open() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("svc").unwrap();
    assert_eq!(b.run_protected(async { Ok::<u8, u8>(1) }).await, Ok(1));
    assert_eq!(
        registry
            .run_protected("svc", async { Ok::<u8, u8>(2) })
            .await,
        Ok(2)
    );
    assert_eq!(
        b.run_protected(async { Err::<u8, u8>(3) }).await,
        Err(CallError::Inner(3))
    );
    assert_eq!(
        registry
            .run_protected("svc", async { Err::<u8, u8>(4) })
            .await,
        Err(CallError::Inner(4))
    );
    let snap = b.snapshot();
    assert_eq!((snap.successes, snap.failures), (2, 2));
    assert_eq!(b.state(), CircuitState::Open);

    let mut ran = false;
    let out = b
        .run_protected(async {
            ran = true;
            Ok::<u8, u8>(5)
        })
        .await;
    assert_eq!(out, Err(CallError::Rejected(open("svc"))));
    let out = registry
        .run_protected("svc", async { Ok::<u8, u8>(6) })
        .await;
    assert_eq!(out, Err(CallError::Rejected(open("svc"))));
    assert!(!ran, "a refused future must not be polled");
}

#[test]
fn breaker_acquire_by_name() {
    let (_clock, registry, _log) = registry(CONFIG);
    registry.register("svc").unwrap();
    let guard = registry.acquire("svc").into_result().unwrap();
    assert_eq!(guard.breaker().name(), "svc");
    guard.record(Outcome::Success);
    assert_eq!(registry.component("svc").unwrap().snapshot().successes, 1);

    assert_eq!(
        registry.acquire("nope").into_result().unwrap_err(),
        CircuitError::ComponentMissing {
            component: "nope".into()
        }
    );
}

#[test]
fn circuit_errors_convert_to_io_errors() {
    let refusals = [
        open("svc"),
        CircuitError::HalfOpenExhausted {
            component: "svc".into(),
        },
        CircuitError::GlobalOpen {
            component: "svc".into(),
            retry_after: Duration::from_secs(1),
        },
        CircuitError::ForcedOpen {
            component: "svc".into(),
        },
    ];
    for refusal in refusals {
        let text = refusal.to_string();
        let e = io::Error::from(refusal);
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(e.to_string(), text);
    }
    let missing = io::Error::from(CircuitError::ComponentMissing {
        component: "svc".into(),
    });
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);

    fn through_question_mark(registry: &GlobalCircuitBreaker) -> io::Result<()> {
        let _guard = registry.acquire("absent").into_result()?;
        Ok(())
    }
    let (_clock, registry, _log) = registry(CONFIG);
    assert_eq!(
        through_question_mark(&registry).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn guards_and_protected_futures_are_send() {
    fn send_type<T: Send>() {}
    send_type::<CallGuard<'static>>();
    send_type::<GlobalCircuitBreaker>();
    send_type::<Arc<ComponentBreaker>>();

    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("svc").unwrap();
    let guard = b.acquire().into_result().unwrap();
    assert_send(&guard);
    drop(guard);
    let owned = b.acquire_owned().into_result().unwrap();
    assert_send(&owned);
    drop(owned);

    let fut = b.run_protected(async { Ok::<(), ()>(()) });
    assert_send(&fut);
    drop(fut);
    let fut = registry.run_protected("svc", async { Ok::<(), ()>(()) });
    assert_send(&fut);
    drop(fut);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owned_guard_travels_to_a_spawned_task() {
    let (_clock, registry, _log) = registry(CONFIG);
    let b = registry.register("svc").unwrap();
    let guard = b.acquire_owned().into_result().unwrap();
    let recorded = tokio::spawn(async move { guard.record(Outcome::Success) })
        .await
        .unwrap();
    assert_eq!(recorded, breaker::Recorded::Counted);
    assert_eq!(b.snapshot().successes, 1);
}

#[test]
fn snapshot_counts_calls_and_rejections_by_reason() {
    let (clock, registry, _log) = registry(CONFIG);
    let b = registry.register("svc").unwrap();
    for outcome in [Outcome::Success, Outcome::Success, Outcome::Ignored] {
        call(&b, outcome);
    }
    drop(b.acquire().into_result().unwrap()); // a cancelled call counts as ignored
    for _ in 0..2 {
        call(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), CircuitState::Open);
    for _ in 0..3 {
        assert!(!b.acquire().is_allowed());
    }
    clock.advance(CircuitConfig::DEFAULT.open_cooldown);
    let probes: Vec<_> = (0..3).map(|_| b.acquire().into_result().unwrap()).collect();
    assert!(!b.acquire().is_allowed()); // half-open exhausted
    drop(probes);
    b.force_open();
    assert!(!b.acquire().is_allowed());
    assert!(!b.acquire().is_allowed());

    let snap = b.snapshot();
    assert_eq!(snap.successes, 2);
    assert_eq!(snap.failures, 2);
    assert_eq!(snap.ignored, 2 + 3);
    assert_eq!(snap.calls, snap.successes + snap.failures + snap.ignored);
    assert_eq!(snap.calls, 9);
    // Field by field, not a struct literal: the snapshot structs are to become
    // `#[non_exhaustive]` (issue 10), and outside the crate a literal would not compile.
    let r = snap.rejections;
    assert_eq!(
        (r.open, r.half_open_exhausted, r.global_open, r.forced_open),
        (3, 1, 0, 2)
    );
    assert_eq!(snap.rejections.total(), 6);
    assert_eq!(registry.snapshot().component("svc"), Some(&snap));
}

#[test]
fn register_is_idempotent() {
    let (_clock, registry, _log) = registry(CONFIG);
    let first = registry.register("svc").unwrap();
    assert_eq!(trip(&first), 3);
    let again = registry.register("svc").unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(
        again.state(),
        CircuitState::Open,
        "state survives re-registration"
    );
    assert_eq!(registry.components(), ["svc"]);
    assert_eq!(registry.snapshot().components.len(), 1);
}

#[test]
fn invalid_names_are_refused() {
    let (_clock, registry, _log) = registry(CONFIG);
    for name in ["", "__x", "a b"] {
        match registry.register(name) {
            Err(RegistryError::InvalidName { name: refused, .. }) => assert_eq!(refused, name),
            other => panic!("{name:?}: expected InvalidName, got {other:?}"),
        }
        assert!(matches!(
            ComponentBreaker::new(name, CircuitConfig::DEFAULT, Arc::new(FakeClock::new())),
            Err(BuildError::InvalidName { .. })
        ));
    }
    assert!(registry.components().is_empty());
    let ok = registry.register("ok-name_1.v2:x").unwrap();
    assert_eq!(ok.name(), "ok-name_1.v2:x");
    assert_eq!(registry.components(), ["ok-name_1.v2:x"]);
}

#[test]
fn names_longer_than_128_bytes_are_refused() {
    let (_clock, registry, _log) = registry(CONFIG);
    let long = "n".repeat(129);
    assert!(matches!(
        registry.register(&long).unwrap_err(),
        RegistryError::InvalidName { .. }
    ));
    let longest = "n".repeat(128);
    assert_eq!(
        registry.register(&longest).unwrap().name().as_str(),
        longest
    );
    assert_eq!(registry.components(), [longest]);
}
