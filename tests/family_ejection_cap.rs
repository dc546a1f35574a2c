#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The ejection cap (`max_open_ratio`, Envoy's `max_ejection_percent`): past it, a key whose
//! trip rule fires stays Closed, the family counts it and says so once per episode; the cap
//! holds under concurrency (a slot is reserved atomically before the transition).

use std::sync::{Arc, Barrier};

use breaker::{CircuitConfig, CircuitState, Event, FamilyConfig, Outcome};
use breaker_suite::registry;

const KEYS: CircuitConfig = CircuitConfig {
    consecutive_failures_threshold: Some(1),
    ..CircuitConfig::DEFAULT
};

fn capped(
    ratio: f32,
) -> (
    breaker::FakeClock,
    breaker::GlobalCircuitBreaker,
    breaker_suite::EventLog,
    Arc<breaker::Family>,
) {
    let (clock, registry, log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                max_open_ratio: ratio,
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    (clock, registry, log, family)
}

#[test]
fn past_the_cap_a_tripping_key_stays_closed() {
    let (_clock, _registry, log, family) = capped(0.25);
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    for k in &keys {
        family
            .acquire(k)
            .into_result()
            .unwrap()
            .record(Outcome::Success);
    }
    for k in &keys {
        family
            .acquire(k)
            .into_result()
            .unwrap()
            .record(Outcome::Failure);
    }
    let open = keys
        .iter()
        .filter(|k| family.key(k).unwrap().state() == CircuitState::Open)
        .count();
    assert_eq!(open, 2, "25 % of 8 keys");
    assert_eq!(family.unhealthy_keys(), 2);
    assert_eq!(family.capped_trips(), 6);
    assert_eq!(family.snapshot().capped_trips, 6);
    let events = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::FamilyCapped { .. }))
        .count();
    assert_eq!(events, 1, "one event per capped episode");
    // A capped key keeps serving.
    assert!(family.acquire("k7").is_allowed());
}

#[test]
fn at_least_one_key_may_always_open() {
    let (_clock, _registry, _log, family) = capped(0.01);
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(family.key("a").unwrap().state(), CircuitState::Open);
    family
        .acquire("b")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(family.key("b").unwrap().state(), CircuitState::Closed);
}

#[test]
fn without_a_cap_every_key_may_open() {
    let (_clock, _registry, _log, family) = capped(1.0);
    for i in 0..10 {
        family
            .acquire(&format!("k{i}"))
            .into_result()
            .unwrap()
            .record(Outcome::Failure);
    }
    assert_eq!(family.unhealthy_keys(), 10);
    assert_eq!(family.capped_trips(), 0);
}

#[test]
fn the_cap_holds_under_concurrency() {
    for round in 0..20 {
        let (_clock, _registry, _log, family) = capped(0.5);
        let keys: Vec<String> = (0..16).map(|i| format!("k{i}")).collect();
        for k in &keys {
            drop(family.key(k).unwrap());
        }
        let barrier = Arc::new(Barrier::new(keys.len()));
        let threads: Vec<_> = keys
            .iter()
            .cloned()
            .map(|k| {
                let family = Arc::clone(&family);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let guard = family.acquire(&k).into_result().unwrap();
                    barrier.wait();
                    guard.record(Outcome::Failure);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let open = keys
            .iter()
            .filter(|k| family.key(k).unwrap().state() == CircuitState::Open)
            .count();
        assert_eq!(open, 8, "round {round}: exactly half of 16 keys");
        assert_eq!(family.unhealthy_keys(), 8);
        assert_eq!(family.capped_trips(), 8);
    }
}

#[test]
fn the_episode_ends_when_a_key_heals() {
    let (clock, _registry, log, family) = capped(0.5);
    for k in ["a", "b"] {
        drop(family.key(k).unwrap());
    }
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    family
        .acquire("b")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(family.capped_trips(), 1);
    clock.advance(KEYS.open_cooldown);
    // a heals through its probes; the next capped trip starts a new episode.
    for _ in 0..KEYS.half_open_required_successes {
        family
            .acquire("a")
            .into_result()
            .unwrap()
            .record(Outcome::Success);
    }
    assert_eq!(family.key("a").unwrap().state(), CircuitState::Closed);
    family
        .acquire("b")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(
        family.key("b").unwrap().state(),
        CircuitState::Open,
        "a slot is free again"
    );
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(
        family.key("a").unwrap().state(),
        CircuitState::Closed,
        "capped again"
    );
    let episodes = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::FamilyCapped { .. }))
        .count();
    assert_eq!(episodes, 2);
}
