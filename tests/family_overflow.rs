#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Overflow: a full family with nothing evictable serves new keys with its one overflow
//! breaker, which still protects them; one event when the episode starts, one when it ends.

use std::time::Duration;

use breaker::{CircuitConfig, CircuitState, Event, FamilyConfig, Outcome, Permit};
use breaker_suite::registry;

const KEYS: CircuitConfig = CircuitConfig {
    consecutive_failures_threshold: Some(3),
    ..CircuitConfig::DEFAULT
};

#[test]
fn new_keys_share_the_overflow_breaker_which_still_protects() {
    let (clock, registry, log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                max_keys: 2,
                idle_ttl: Duration::from_secs(60),
                ..FamilyConfig::DEFAULT
            },
            KEYS,
        )
        .unwrap();
    let a = family.key("a").unwrap();
    let b = family.key("b").unwrap();
    // Full, and nothing evictable (both are held).
    let c = family.key("c").unwrap();
    let d = family.key("d").unwrap();
    assert!(c.is_overflow() && d.is_overflow());
    assert!(std::sync::Arc::ptr_eq(c.breaker(), d.breaker()));
    assert_eq!(c.name().as_str(), "hosts[__overflow__]");
    assert_eq!(family.live(), 2);
    assert!(family.is_overflowing());
    let started: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::FamilyOverflow { active: true, .. }))
        .collect();
    assert_eq!(started.len(), 1, "one event per episode, not per call");
    drop((c, d));

    // It protects: failures through overflow keys trip the overflow breaker.
    for _ in 0..3 {
        match family.acquire("x") {
            Permit::Allowed(g) => {
                g.record(Outcome::Failure);
            }
            Permit::Rejected(e) => panic!("{e}"),
        }
    }
    assert_eq!(family.overflow().state(), CircuitState::Open);
    assert!(!family.acquire("y").is_allowed());
    assert!(family.acquire("a").is_allowed(), "live keys are unaffected");
    let snapshot = family.snapshot();
    assert!(snapshot.overflowing);
    assert_eq!(snapshot.overflow_calls, 2 + 3 + 1);
    assert_eq!(snapshot.overflow.component, "hosts[__overflow__]");
    assert_eq!(snapshot.overflow.failures, 3);

    // The episode ends when a new key gets its own breaker again.
    drop((a, b));
    clock.advance(Duration::from_secs(120));
    let e = family.key("e").unwrap();
    assert!(!e.is_overflow());
    assert!(!family.is_overflowing());
    let ended = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::FamilyOverflow { active: false, .. }))
        .count();
    assert_eq!(ended, 1);
}
