#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Roll-up: a family is ONE member of the global fuse, unhealthy when at least
//! `unhealthy_key_ratio` of at least `min_keys` live keys are Open or HalfOpen; the fuse's
//! verdict reaches every key (and the overflow breaker) through the gate.

use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitError, CircuitState, FamilyConfig, GlobalTripConditions, Outcome, Permit,
};
use breaker_suite::{registry, trip};

const KEYS: CircuitConfig = CircuitConfig {
    consecutive_failures_threshold: Some(1),
    open_cooldown: Duration::from_secs(10),
    half_open_max_concurrent: 1,
    half_open_required_successes: 1,
    ..CircuitConfig::DEFAULT
};

/// The fuse opens when 2 of at least 2 members are unhealthy.
const DEFAULTS: CircuitConfig = CircuitConfig {
    consecutive_failures_threshold: Some(1),
    global_trip_conditions: GlobalTripConditions {
        component_open_ratio: 1.0,
        min_components: 2,
        min_calls: 0,
    },
    ..CircuitConfig::DEFAULT
};

fn fail(family: &breaker::Family, key: &str) {
    family
        .acquire(key)
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
}

#[test]
fn a_family_counts_once_in_the_fuse_whatever_its_size() {
    let (_clock, registry, _log) = registry(DEFAULTS);
    let db = registry.register("db").unwrap();
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                // 2 of 5 still holds, so a new key (which lowers the share) keeps it.
                unhealthy_key_ratio: 0.4,
                min_keys: 4,
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    for k in ["a", "b", "c", "d"] {
        family
            .acquire(k)
            .into_result()
            .unwrap()
            .record(Outcome::Success);
    }
    fail(&family, "a");
    assert!(!family.is_unhealthy(), "1 of 4 keys");
    assert_eq!(registry.snapshot().unhealthy, 0);
    fail(&family, "b");
    assert!(family.is_unhealthy(), "2 of 4 keys: the ratio holds");
    assert_eq!(registry.snapshot().unhealthy, 1, "the family is one member");
    assert_eq!(
        registry.global().state(),
        CircuitState::Closed,
        "1 of 2 members"
    );
    trip(&db);
    assert_eq!(
        registry.global().state(),
        CircuitState::Open,
        "2 of 2 members"
    );

    // The fuse's verdict reaches the family's healthy keys, a key made while it holds, and
    // the overflow breaker.
    for key in ["c", "new"] {
        assert!(matches!(
            family.acquire(key),
            Permit::Rejected(CircuitError::GlobalOpen { .. })
        ));
    }
    assert_eq!(
        registry.global().state(),
        CircuitState::Open,
        "2 of 5 keys still >= 0.4"
    );
    assert!(matches!(
        family.overflow().acquire(),
        Permit::Rejected(CircuitError::GlobalOpen { .. })
    ));
}

#[test]
fn min_keys_keeps_a_small_family_healthy() {
    let (_clock, registry, _log) = registry(DEFAULTS);
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                min_keys: 3,
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    fail(&family, "a");
    fail(&family, "b");
    assert_eq!(family.unhealthy_keys(), 2);
    assert!(!family.is_unhealthy(), "2 live keys < min_keys 3");
    family
        .acquire("c")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    assert!(family.is_unhealthy(), "2 of 3 >= 0.5 once min_keys is met");
}

#[test]
fn the_family_recovers_out_of_the_fuse() {
    let (clock, registry, _log) = registry(DEFAULTS);
    let db = registry.register("db").unwrap();
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                min_keys: 1,
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    fail(&family, "a");
    trip(&db);
    assert_eq!(registry.global().state(), CircuitState::Open);
    clock.advance(Duration::from_secs(10));
    // Half-open keys probe through the fuse; a successful probe heals the family.
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    assert!(!family.is_unhealthy());
    assert_eq!(registry.global().state(), CircuitState::Closed);
    assert!(family.acquire("b").is_allowed());
}
