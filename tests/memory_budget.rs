#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Memory per component, measured with a counting global allocator (`stats_alloc`; the
//! workspace forbids `unsafe`), against the formula and the budget that README.md ("Cost and
//! memory") and BENCHMARKS.md document:
//!
//! ```text
//! per component = Arc<ComponentBreaker> + Arc<CircuitConfig> + 8 B x max_stripes
//!               + stripes in use x (128 B + window_buckets x 40 B)
//!               + registry entry, name and fuse membership (about 150 B)
//! ```
//!
//! `max_stripes` is the core count rounded up to a power of two (at most 64); a component
//! used by one thread at a time keeps one stripe. The budget (BENCHMARKS.md): 10,000 such
//! components in at most 20 MiB (2 KiB each) on machines with up to 16 cores, and at most the
//! formula + 256 B each on any machine.
//!
//! The counts are process-wide, so this file holds a single test.

use std::alloc::System;
use std::hint::black_box;
use std::mem::size_of;
use std::sync::Barrier;

use breaker::{CircuitConfig, ComponentBreaker, GlobalCircuitBreaker, Outcome, Permit};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const COMPONENTS: usize = 10_000;
/// The documented budget for 10,000 components (up to 16 cores).
const BUDGET_10K: i64 = 20 << 20;
/// Registry map entry, name, fuse membership and the maps' spare capacity, per
/// component (documented as "about 150 B"; this is the bound the test holds it to).
const REGISTRY_SLACK: i64 = 256;

/// A family key beyond a component's formula: its name (family and key, with the displayed
/// `family[key]`), its slot in the family's map and its share of the family (the shards, the
/// overflow breaker).
const FAMILY_SLACK: i64 = 512;

fn max_stripes() -> i64 {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .next_power_of_two()
        .min(64) as i64
}

/// An `Arc<T>`'s allocation: its two counters padded to `T`'s alignment, then `T`.
fn arc_bytes<T>() -> i64 {
    let align = std::mem::align_of::<T>().max(8);
    (16usize.div_ceil(align) * align + size_of::<T>()) as i64
}

fn stripe_bytes(buckets: u32) -> i64 {
    128 + 40 * i64::from(buckets)
}

/// The formula, without the registry's share.
fn formula(buckets: u32, stripes: i64) -> i64 {
    arc_bytes::<ComponentBreaker>()
        + arc_bytes::<CircuitConfig>()
        + 8 * max_stripes()
        + stripes * stripe_bytes(buckets)
}

/// Net heap bytes `f` leaves allocated.
fn net_bytes(f: impl FnOnce()) -> i64 {
    let region = Region::new(GLOBAL);
    f();
    let c = region.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64 + c.bytes_reallocated as i64
}

fn call_once(breaker: &ComponentBreaker) {
    match breaker.acquire() {
        Permit::Allowed(g) => {
            black_box(g.record(Outcome::Success));
        }
        Permit::Rejected(e) => panic!("{e}"),
    }
}

/// Registers `names` in a fresh registry with `config`, calls each once (so each has its one
/// stripe), and returns the registry and the net bytes it took.
fn fleet(names: &[String], config: CircuitConfig) -> (GlobalCircuitBreaker, i64) {
    let mut registry = None;
    let bytes = net_bytes(|| {
        let r = GlobalCircuitBreaker::new(config).unwrap();
        for name in names {
            call_once(&r.register(name).unwrap());
        }
        registry = Some(r);
    });
    (registry.unwrap(), bytes)
}

#[test]
fn memory_per_component_follows_the_formula_and_10k_fit_the_budget() {
    // Warm the process-wide lazies (stripe cap, thread-locals) first.
    let (_, _) = fleet(&["warm-up".to_owned()], CircuitConfig::DEFAULT);

    // 10,000 components with the default 10 buckets, one stripe each.
    let names: Vec<String> = (0..COMPONENTS).map(|i| format!("svc-{i:05}")).collect();
    let (registry, bytes) = fleet(&names, CircuitConfig::DEFAULT);
    let per = bytes / COMPONENTS as i64;
    let expected = formula(10, 1);
    let stripes: usize = registry
        .snapshot()
        .components
        .iter()
        .map(|c| c.stripes)
        .sum();
    println!(
        "10,000 components, 10 buckets: {bytes} B in all ({:.1} MiB), {per} B each; formula \
         without the registry's share: {expected} B (breaker {} B, config {} B, {} stripe slots, \
         one stripe of {} B); {stripes} stripes allocated",
        bytes as f64 / (1 << 20) as f64,
        arc_bytes::<ComponentBreaker>(),
        arc_bytes::<CircuitConfig>(),
        max_stripes(),
        stripe_bytes(10)
    );
    assert_eq!(
        stripes, COMPONENTS,
        "one stripe per component used by one thread"
    );
    if max_stripes() <= 16 {
        assert!(
            bytes <= BUDGET_10K,
            "10,000 components take {bytes} B, over the documented 20 MiB"
        );
    }
    assert!(
        per >= expected && per <= expected + REGISTRY_SLACK,
        "{per} B per component, the formula says {expected} B + at most {REGISTRY_SLACK} B"
    );
    drop(registry);

    // The bucket term: 100 buckets cost 90 x 40 B more per component than 10.
    let small: Vec<String> = (0..1_000).map(|i| format!("wide-{i:04}")).collect();
    let wide = CircuitConfig {
        window_buckets: 100,
        ..CircuitConfig::DEFAULT
    };
    let (registry, bytes) = fleet(&small, wide);
    let per_wide = bytes / small.len() as i64;
    println!(
        "1,000 components, 100 buckets: {per_wide} B each; formula {} B",
        formula(100, 1)
    );
    assert!(
        per_wide >= formula(100, 1) && per_wide <= formula(100, 1) + REGISTRY_SLACK,
        "{per_wide} B per component with 100 buckets, the formula says {} B",
        formula(100, 1)
    );
    drop(registry);

    // The stripe term: a component hammered by every core grows stripes (at most
    // max_stripes), each one 128 B + buckets x 40 B.
    let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
    let hot = registry.register("hot").unwrap();
    call_once(&hot);
    let threads = (max_stripes() as usize).max(2);
    let barrier = Barrier::new(threads);
    let grown = net_bytes(|| {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..200_000 {
                        call_once(&hot);
                    }
                });
            }
        });
    });
    let stripes = hot.snapshot().stripes as i64;
    println!(
        "one component hammered by {threads} threads: {stripes} stripes (cap {}), {grown} B grown \
         (thread spawns included)",
        max_stripes()
    );
    assert!(stripes >= 1 && stripes <= max_stripes());
    // Thread spawns allocate too but give it back when the threads end; what stays is the
    // stripes (a thread's leftovers, if any, are small).
    assert!(
        grown <= (stripes - 1) * stripe_bytes(10) + 4096,
        "{grown} B grown for {} new stripes",
        stripes - 1
    );

    // A full keyed family: 1,000 keys, one call each. Each key is a component's breaker plus
    // its name (family and key) and its slot in the family's map; the family's own share
    // (shards, the overflow breaker) is counted in the total.
    const FAMILY_KEYS: u32 = 1_000;
    let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
    let mut family = None;
    let family_bytes = net_bytes(|| {
        let f = registry
            .register_family(
                "budget_hosts",
                breaker::FamilyConfig {
                    max_keys: FAMILY_KEYS,
                    ..breaker::FamilyConfig::DEFAULT
                },
            )
            .unwrap();
        for i in 0..FAMILY_KEYS {
            match f.acquire(&format!("host-{i:04}.example.com")) {
                breaker::Permit::Allowed(g) => {
                    g.record(breaker::Outcome::Success);
                }
                breaker::Permit::Rejected(e) => panic!("{e}"),
            }
        }
        family = Some(f);
    });
    let family = family.unwrap();
    assert_eq!(family.live(), FAMILY_KEYS);
    let per_key = family_bytes / i64::from(FAMILY_KEYS);
    println!(
        "a full family of {FAMILY_KEYS} keys: {family_bytes} B ({:.2} MiB), {per_key} B per key \
         (a component's formula: {} B)",
        family_bytes as f64 / (1 << 20) as f64,
        formula(10, 1)
    );
    assert!(
        per_key <= formula(10, 1) + FAMILY_SLACK,
        "{per_key} B per key, over the formula {} B + {FAMILY_SLACK} B",
        formula(10, 1)
    );
}
