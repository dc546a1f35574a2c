#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A million distinct keys (what an attacker sending random hosts costs) keep a family's
//! memory bounded by `max_keys`: the heap after a million keys is the heap after the first
//! `max_keys`, give or take. Its own test binary: the counting allocator is global.

use std::alloc::System;
use std::time::Duration;

use breaker::{FakeClock, FamilyConfig, GlobalCircuitBreaker, Outcome};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MAX_KEYS: u32 = 1_000;

fn live_bytes(region: &Region<'_, System>) -> i64 {
    let s = region.change();
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

#[test]
fn a_million_distinct_keys_cost_max_keys_breakers() {
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let family = registry
        .register_family(
            "hosts",
            FamilyConfig {
                max_keys: MAX_KEYS,
                idle_ttl: Duration::from_secs(1),
                ..FamilyConfig::DEFAULT
            },
        )
        .unwrap();
    let region = Region::new(GLOBAL);
    let mut key = String::with_capacity(32);
    let mut after_fill = 0;
    let mut peak = 0;
    for i in 0..1_000_000u32 {
        key.clear();
        use std::fmt::Write;
        write!(key, "host-{i}.example").unwrap();
        family
            .acquire(&key)
            .into_result()
            .unwrap()
            .record(Outcome::Success);
        if i % 100 == 0 {
            // Keys go idle as time passes; the attacker keeps sending new ones.
            clock.advance(Duration::from_millis(200));
        }
        if i + 1 == MAX_KEYS {
            after_fill = live_bytes(&region);
        }
        if i % 10_000 == 0 {
            peak = peak.max(live_bytes(&region));
        }
    }
    let end = live_bytes(&region);
    assert!(family.live() <= MAX_KEYS);
    assert!(family.evictions() >= 999_000 - u64::from(MAX_KEYS));
    // Bounded: never more than twice the full family (the slack covers shard tables that grew
    // and a breaker made for a key that then went to overflow).
    assert!(after_fill > 0);
    assert!(
        peak <= after_fill * 2 && end <= after_fill * 2,
        "full family {after_fill} B, peak {peak} B, end {end} B"
    );
    println!("full family: {after_fill} B, peak {peak} B, after 1M keys {end} B");

    // Full of held keys, nothing evictable: a stream of new keys goes to the overflow
    // breaker without allocating a breaker per call.
    let full = registry
        .register_family(
            "held",
            FamilyConfig {
                max_keys: 4,
                ..FamilyConfig::DEFAULT
            },
        )
        .unwrap();
    let _held: Vec<_> = (0..4)
        .map(|i| full.key(&format!("h{i}")).unwrap())
        .collect();
    // The first overflow call starts the episode (its event allocates) and gives the overflow
    // breaker its counter stripe.
    assert!(full.key("warm-up").unwrap().is_overflow());
    full.acquire("warm-up")
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    let region = Region::new(GLOBAL);
    for i in 0..10_000u32 {
        key.clear();
        use std::fmt::Write;
        write!(key, "new-{i}").unwrap();
        full.acquire(&key)
            .into_result()
            .unwrap()
            .record(Outcome::Success);
    }
    let change = region.change();
    assert_eq!(
        change.allocations, 0,
        "overflow calls allocate nothing ({} allocations, {} B)",
        change.allocations, change.bytes_allocated
    );
    assert_eq!(full.overflow_calls(), 10_002);
}
