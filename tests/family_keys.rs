#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Each key of a keyed family is a full breaker of the same engine: the core rules hold per
//! key, one key's trip leaves its siblings alone, and the name knows family and key.

use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitError, CircuitState, FamilyConfig, Outcome, Permit, TransitionReason,
};
use breaker_suite::registry;

const COOLDOWN: Duration = Duration::from_secs(10);

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    error_rate_threshold: 0.5,
    open_cooldown: COOLDOWN,
    half_open_max_concurrent: 2,
    half_open_required_successes: 2,
    ..CircuitConfig::DEFAULT
};

fn call(family: &breaker::Family, key: &str, outcome: Outcome) {
    match family.acquire(key) {
        Permit::Allowed(guard) => {
            guard.record(outcome);
        }
        Permit::Rejected(e) => panic!("`{key}` refused: {e}"),
    }
}

fn family_with(
    config: CircuitConfig,
) -> (
    breaker::FakeClock,
    breaker::GlobalCircuitBreaker,
    std::sync::Arc<breaker::Family>,
) {
    let (clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family_with("hosts", FamilyConfig::DEFAULT, config)
        .unwrap();
    (clock, registry, family)
}

#[test]
fn one_key_trips_and_its_siblings_keep_serving() {
    let (_clock, _registry, family) = family_with(CONFIG);
    for _ in 0..4 {
        call(&family, "bad.example", Outcome::Failure);
        call(&family, "good.example", Outcome::Success);
    }
    let bad = family.key("bad.example").unwrap();
    assert_eq!(bad.state(), CircuitState::Open);
    assert_eq!(bad.name().family(), Some("hosts"));
    assert_eq!(bad.name().key(), Some("bad.example"));
    assert_eq!(bad.name().as_str(), "hosts[bad.example]");
    assert_eq!(
        family.key("good.example").unwrap().state(),
        CircuitState::Closed
    );
    assert!(family.acquire("good.example").is_allowed());
    assert!(family.acquire("other.example").is_allowed());
    match family.acquire("bad.example") {
        Permit::Rejected(CircuitError::Open { component, .. }) => {
            assert_eq!(component, "hosts[bad.example]");
        }
        other => panic!("expected Open, got {other:?}"),
    }
    assert_eq!(family.live(), 3);
    assert_eq!(family.unhealthy_keys(), 1);
}

/// The core rules of the engine, each through a key.
#[test]
fn every_core_rule_holds_per_key() {
    // Trip by rate.
    let (_clock, _r, family) = family_with(CONFIG);
    for outcome in [
        Outcome::Success,
        Outcome::Success,
        Outcome::Failure,
        Outcome::Failure,
    ] {
        call(&family, "k", outcome);
    }
    assert_eq!(
        family.key("k").unwrap().state(),
        CircuitState::Open,
        "error rate 0.5 over 4 calls"
    );

    // Consecutive failures, without min_calls.
    let (_clock, _r, family) = family_with(CircuitConfig {
        consecutive_failures_threshold: Some(3),
        min_calls: 1000,
        ..CONFIG
    });
    for _ in 0..3 {
        call(&family, "k", Outcome::Failure);
    }
    assert_eq!(
        family.key("k").unwrap().state(),
        CircuitState::Open,
        "3 in a row"
    );

    // Cooldown -> half-open -> probes -> closed.
    let (clock, _r, family) = family_with(CONFIG);
    for _ in 0..4 {
        call(&family, "k", Outcome::Failure);
    }
    assert!(!family.acquire("k").is_allowed());
    clock.advance(COOLDOWN);
    let p1 = family.acquire("k").into_result().unwrap();
    let p2 = family.acquire("k").into_result().unwrap();
    assert!(p1.is_probe() && p2.is_probe());
    assert_eq!(family.key("k").unwrap().state(), CircuitState::HalfOpen);
    assert!(matches!(
        family.acquire("k"),
        Permit::Rejected(CircuitError::HalfOpenExhausted { .. })
    ));
    p1.record(Outcome::Success);
    p2.record(Outcome::Success);
    assert_eq!(family.key("k").unwrap().state(), CircuitState::Closed);

    // A failed probe re-opens, with backoff.
    for _ in 0..4 {
        call(&family, "k", Outcome::Failure);
    }
    clock.advance(COOLDOWN);
    family
        .acquire("k")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    let key = family.key("k").unwrap();
    assert_eq!(key.state(), CircuitState::Open);
    assert_eq!(key.retry_after(), Some(COOLDOWN * 2));
    drop(key);

    // Slow calls.
    let (clock, _r, family) = family_with(CircuitConfig {
        slow_call_threshold: Some(Duration::from_millis(100)),
        slow_call_rate_threshold: 0.5,
        ..CONFIG
    });
    for _ in 0..4 {
        let guard = family.acquire("k").into_result().unwrap();
        clock.advance(Duration::from_millis(150));
        guard.record(Outcome::Success);
    }
    let key = family.key("k").unwrap();
    assert_eq!(key.state(), CircuitState::Open);
    assert!(key
        .snapshot()
        .transitions
        .iter()
        .any(|t| t.to == CircuitState::Open));
    drop(key);

    // Manual control.
    let (_clock, _r, family) = family_with(CONFIG);
    family.key("k").unwrap().force_open();
    assert!(matches!(
        family.acquire("k"),
        Permit::Rejected(CircuitError::ForcedOpen { .. })
    ));
    assert!(family.acquire("sibling").is_allowed());
    family.key("k").unwrap().disable();
    for _ in 0..10 {
        call(&family, "k", Outcome::Failure);
    }
    assert_eq!(family.key("k").unwrap().state(), CircuitState::Disabled);
    family.key("k").unwrap().reset();
    assert_eq!(family.key("k").unwrap().state(), CircuitState::Closed);
}

#[test]
fn transitions_name_the_family_and_key() {
    let (_clock, registry, log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family_with("hosts", FamilyConfig::DEFAULT, CONFIG)
        .unwrap();
    for _ in 0..4 {
        call(&family, "a", Outcome::Failure);
    }
    let opened = log
        .transitions()
        .into_iter()
        .find(|t| t.to == CircuitState::Open)
        .expect("the key's transition reached the hooks");
    assert_eq!(opened.component, "hosts[a]");
    assert_eq!(opened.component.key(), Some("a"));
    assert!(matches!(opened.reason, TransitionReason::ErrorRate { .. }));
}

#[test]
fn a_key_keeps_its_breaker_across_calls() {
    let (_clock, _r, family) = family_with(CONFIG);
    let a = family.key("a").unwrap();
    let again = family.key("a").unwrap();
    assert!(std::sync::Arc::ptr_eq(a.breaker(), again.breaker()));
    assert!(!a.is_overflow());
    assert_eq!(family.live(), 1);
}
