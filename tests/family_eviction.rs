#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Eviction: a key is evicted only when it is Closed, has no failure in its window, holds no
//! guard and has been idle for `idle_ttl`; each condition alone blocks it. Eviction runs on
//! insert into a full family and on `evict_idle`, and frees the key's breaker.

use std::sync::Arc;
use std::time::Duration;

use breaker::{CircuitConfig, CircuitState, FamilyConfig, Outcome};
use breaker_suite::registry;

const TTL: Duration = Duration::from_secs(60);
/// `last_used` may lag by `idle_ttl / 16`; a key idle this long is surely idle for `idle_ttl`.
const IDLE: Duration = Duration::from_secs(64);
const WINDOW: Duration = Duration::from_secs(10);

const KEYS: CircuitConfig = CircuitConfig {
    rolling_window: WINDOW,
    min_calls: 100,
    open_cooldown: Duration::from_secs(3600),
    open_cooldown_max: Duration::from_secs(3600),
    half_open_max_wait: None,
    ..CircuitConfig::DEFAULT
};

fn family(
    max_keys: u32,
) -> (
    breaker::FakeClock,
    breaker::GlobalCircuitBreaker,
    Arc<breaker::Family>,
) {
    let (clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                idle_ttl: TTL,
                max_keys,
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    (clock, registry, family)
}

#[test]
fn an_idle_healthy_key_is_evicted_and_freed() {
    let (clock, _r, family) = family(10);
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    let weak = Arc::downgrade(family.key("a").unwrap().breaker());
    clock.advance(TTL / 2);
    assert_eq!(family.evict_idle(), 0, "not idle long enough");
    clock.advance(IDLE);
    assert_eq!(family.evict_idle(), 1);
    assert!(weak.upgrade().is_none());
    assert_eq!((family.live(), family.evictions()), (0, 1));
}

#[test]
fn never_evicted_early_even_though_last_used_is_coarse() {
    let (clock, _r, family) = family(10);
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    // Used again just under idle_ttl/16 later: `last_used` may not move...
    clock.advance(Duration::from_secs(3));
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    // ... yet the key is not evicted before idle_ttl after that last use.
    clock.advance(TTL - Duration::from_secs(1));
    assert_eq!(family.evict_idle(), 0);
}

#[test]
fn an_open_or_half_open_key_is_never_evicted() {
    let (clock, _r, family) = family(10);
    let key = family.key("a").unwrap();
    breaker_suite::trip(&key);
    assert_eq!(key.state(), CircuitState::Open);
    drop(key);
    clock.advance(IDLE * 100);
    assert_eq!(family.evict_idle(), 0, "open");
    // Half-open (the cooldown is over, a probe was taken and is recorded as ignored).
    let probe = family.acquire("a").into_result().unwrap();
    assert_eq!(family.key("a").unwrap().state(), CircuitState::HalfOpen);
    probe.record(Outcome::Ignored);
    clock.advance(IDLE * 100);
    assert_eq!(family.key("a").unwrap().state(), CircuitState::HalfOpen);
    assert_eq!(family.evict_idle(), 0, "half-open");
    // ForcedOpen and Disabled are not Closed either.
    family.key("a").unwrap().force_open();
    assert_eq!(family.evict_idle(), 0, "forced open");
    family.key("a").unwrap().disable();
    assert_eq!(family.evict_idle(), 0, "disabled");
    family.key("a").unwrap().reset();
    clock.advance(IDLE);
    assert_eq!(family.evict_idle(), 1, "closed, idle, clean: evicted");
}

#[test]
fn a_failure_in_the_window_blocks_eviction() {
    // Idle for longer than the TTL, with the failure still in the window: a TTL shorter
    // than the window.
    let (clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                idle_ttl: Duration::from_secs(2),
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    clock.advance(Duration::from_secs(3));
    assert_eq!(family.evict_idle(), 0, "its failure is still in the window");
    clock.advance(WINDOW);
    assert_eq!(family.evict_idle(), 1, "the failure left the window");
}

#[test]
fn a_held_key_ref_or_guard_blocks_eviction() {
    let (clock, _r, family) = family(10);
    let key = family.key("a").unwrap();
    clock.advance(IDLE);
    assert_eq!(family.evict_idle(), 0, "a KeyRef is held");
    let guard = key.acquire().into_result().unwrap();
    clock.advance(IDLE);
    assert_eq!(family.evict_idle(), 0, "a guard is held");
    drop(guard);
    assert_eq!(family.evict_idle(), 1);
}

#[test]
fn a_full_family_evicts_on_insert() {
    let (clock, _r, family) = family(4);
    for k in ["a", "b", "c", "d"] {
        family
            .acquire(k)
            .into_result()
            .unwrap()
            .record(Outcome::Success);
    }
    assert_eq!(family.live(), 4);
    clock.advance(IDLE);
    let e = family.key("e").unwrap();
    assert!(!e.is_overflow(), "an idle key made room");
    // The scan evicts every idle key of the shards it looks at (within the budget), so
    // possibly more than one.
    assert!((1..=4).contains(&family.live()), "{}", family.live());
    assert!(family.evictions() >= 1);
    assert!(family.get("e").is_some());
}

#[test]
fn a_full_family_never_exceeds_max_keys() {
    let (clock, _r, family) = family(16);
    for i in 0..1_000 {
        let k = family.key(&format!("k{i}")).unwrap();
        assert!(family.live() <= 16);
        drop(k);
        if i % 50 == 0 {
            clock.advance(IDLE);
        }
    }
    assert!(family.live() <= 16);
    assert!(family.evictions() > 0);
}
