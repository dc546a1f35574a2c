#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Keys created and evicted concurrently: two threads creating the same key get one breaker; a
//! guard keeps its key alive and its outcome is counted; a key evicted while a thread is about
//! to acquire it is re-created cleanly.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use breaker::{CircuitConfig, FamilyConfig, Outcome};
use breaker_suite::registry;

const TTL: Duration = Duration::from_secs(60);

fn family() -> (
    breaker::FakeClock,
    breaker::GlobalCircuitBreaker,
    Arc<breaker::Family>,
) {
    let (clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family(
            "hosts",
            FamilyConfig {
                idle_ttl: TTL,
                max_keys: 8,
                ..FamilyConfig::DEFAULT
            },
        )
        .unwrap();
    (clock, registry, family)
}

#[test]
fn two_threads_creating_the_same_key_get_one_breaker() {
    for round in 0..50 {
        let (_clock, _registry, family) = family();
        let barrier = Arc::new(Barrier::new(4));
        let key = format!("k{round}");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let family = Arc::clone(&family);
                let barrier = Arc::clone(&barrier);
                let key = key.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    Arc::clone(family.key(&key).unwrap().breaker())
                })
            })
            .collect();
        let breakers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            breakers.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])),
            "round {round}"
        );
        assert_eq!(family.live(), 1);
    }
}

#[test]
fn a_guard_keeps_its_key_alive_and_its_outcome_is_counted() {
    let (clock, _registry, family) = family();
    let guard = family.acquire("a").into_result().unwrap();
    clock.advance(TTL * 10);
    assert_eq!(family.evict_idle(), 0, "a call in flight blocks eviction");
    assert_eq!(family.live(), 1);
    guard.record(Outcome::Success);
    assert_eq!(
        family.key("a").unwrap().snapshot().successes,
        1,
        "the outcome counted"
    );
    clock.advance(TTL * 10);
    assert_eq!(family.evict_idle(), 1);
    assert_eq!(family.live(), 0);
}

#[test]
fn an_evicted_key_is_re_created_cleanly() {
    let (clock, _registry, family) = family();
    family
        .acquire("a")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    let old = Arc::downgrade(family.key("a").unwrap().breaker());
    clock.advance(TTL * 2);
    assert_eq!(family.evict_idle(), 1);
    assert!(old.upgrade().is_none(), "the evicted breaker was freed");
    // The thread that was about to acquire gets a fresh breaker, counted from zero.
    let fresh = family.key("a").unwrap();
    assert_eq!(fresh.snapshot().calls, 0);
    fresh
        .acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(family.key("a").unwrap().snapshot().failures, 1);
    assert_eq!(family.live(), 1);
    assert_eq!(family.evictions(), 1);
}

#[test]
fn eviction_racing_acquires_never_loses_an_outcome() {
    let (clock, _registry, family) = family();
    let barrier = Arc::new(Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|t| {
            let family = Arc::clone(&family);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut recorded = 0u64;
                for i in 0..2_000 {
                    let key = format!("k{}", (i + t) % 4);
                    let guard = family.acquire(&key).into_result().unwrap();
                    // While the guard is held, the key's breaker is the one in the map.
                    let live = family.get(&key).expect("a held key is never evicted");
                    assert!(std::ptr::eq(&*live, guard.breaker()));
                    drop(live);
                    guard.record(Outcome::Success);
                    recorded += 1;
                }
                recorded
            })
        })
        .collect();
    barrier.wait();
    for _ in 0..2_000 {
        clock.advance(TTL * 2);
        family.evict_idle();
    }
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 4_000);
    assert!(family.live() <= 4);
}
