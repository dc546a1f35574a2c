#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Component names made at run time are freed with the breakers that use them (issue 9,
//! Rule 2): registering and dropping 100,000 distinct names across registries that are then
//! dropped, and 100,000 standalone breakers that are dropped, returns the heap to its
//! baseline. Names used to be interned into a process-wide set and leaked (about 50 B per
//! distinct name, +50.2 MiB per million).
//!
//! Measured with the counting global allocator (`stats_alloc`) that tests/no_alloc.rs and
//! tests/memory_budget.rs use. The counts are process-wide, so this file holds a single test.

use std::alloc::System;
use std::sync::Arc;

use breaker::{
    CircuitConfig, CircuitError, ComponentBreaker, Event, FakeClock, GlobalCircuitBreaker, Outcome,
    Permit,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const REGISTRIES: usize = 10;
const PER_REGISTRY: usize = 10_000;
const STANDALONE: usize = 100_000;
/// What may stay allocated after everything is dropped, in all: lazily grown process-wide
/// buffers (thread-locals, `tracing`'s callsite registry) that the warm-up did not reach.
/// A leak of even 1 B per name (200,000 names) is far above it.
const SLACK: i64 = 16 << 10;

/// Net heap bytes `f` leaves allocated. `stats_alloc` already books a `realloc`'s growth and
/// shrinkage in `bytes_allocated` and `bytes_deallocated` (`bytes_reallocated` is their net
/// again), so it is not added a second time.
fn net_bytes(f: impl FnOnce()) -> i64 {
    let region = Region::new(GLOBAL);
    f();
    let c = region.change();
    c.bytes_allocated as i64 - c.bytes_deallocated as i64
}

/// Some of the components on the one-failure config trip: fewer than one in ten, too few to
/// open the global fuse.
fn trips(i: usize) -> bool {
    i % 10 == 1 && !i.is_multiple_of(3)
}

/// Everything a name can go through in a registry: `register`, `register_with`,
/// `reload_component`, a file section (for registered and not-yet-registered components),
/// calls, a refusal carrying the name, a missing component, hooks, snapshots and the
/// Prometheus export. The registry and everything it handed out are dropped at the end.
fn registry_round(round: usize, clock: &FakeClock) {
    let registry = GlobalCircuitBreaker::builder()
        .clock(clock.clone())
        .on_event(|event| {
            // Hooks see the names; holding them past the hook is the hook's business.
            if let Event::StateChanged(t) = event {
                assert!(!t.component.is_empty());
            }
        })
        .build()
        .unwrap();
    let tripping = CircuitConfig {
        consecutive_failures_threshold: Some(1),
        ..CircuitConfig::DEFAULT
    };
    let mut file = String::new();
    for i in 0..PER_REGISTRY {
        let name = format!("r{round}-component-{i:05}");
        let breaker = match i % 3 {
            0 => registry.register(&name).unwrap(),
            1 => registry.register_with(&name, tripping).unwrap(),
            _ => {
                let b = registry.register(&name).unwrap();
                registry.reload_component(&name, tripping).unwrap();
                b
            }
        };
        if i % 100 == 0 {
            file.push_str(&format!("[components.{name}]\nmin_calls = 3\n"));
            file.push_str(&format!(
                "[components.r{round}-later-{i:05}]\nmin_calls = 4\n"
            ));
        }
        assert_eq!(breaker.name(), name.as_str());
        match breaker.acquire() {
            Permit::Allowed(g) => {
                g.record(if trips(i) {
                    Outcome::Failure
                } else {
                    Outcome::Success
                });
            }
            Permit::Rejected(e) => panic!("{e}"),
        }
        if trips(i) {
            // Tripped: the refusal names the component.
            match registry.acquire(&name) {
                Permit::Rejected(e @ CircuitError::Open { .. }) => {
                    assert_eq!(e.component(), name.as_str())
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        match registry.acquire(&format!("r{round}-missing-{i:05}")) {
            Permit::Rejected(CircuitError::ComponentMissing { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    registry.reload_from_str(&file).unwrap();
    assert_eq!(registry.components().len(), PER_REGISTRY);
    assert_eq!(registry.snapshot().components.len(), PER_REGISTRY);
    assert!(
        breaker::metrics::encode(&registry, breaker::metrics::Format::OpenMetrics)
            .ends_with("# EOF\n")
    );
    drop(registry);
}

/// A standalone breaker, its name, a call and its snapshot, dropped.
fn standalone(i: usize, clock: &FakeClock) {
    let name = format!("standalone-{i:06}");
    let breaker =
        ComponentBreaker::new(&name, CircuitConfig::DEFAULT, Arc::new(clock.clone())).unwrap();
    assert_eq!(breaker.name(), name.as_str());
    if let Permit::Allowed(g) = breaker.acquire() {
        g.record(Outcome::Success);
    }
    assert_eq!(breaker.snapshot().component, name.as_str());
}

#[test]
fn names_of_dropped_registries_and_breakers_are_freed() {
    let clock = FakeClock::new();
    // Warm the process-wide lazies (stripe cap, thread-locals, tracing callsites) first.
    registry_round(usize::MAX, &clock);
    standalone(usize::MAX, &clock);

    let in_registries = net_bytes(|| {
        for round in 0..REGISTRIES {
            registry_round(round, &clock);
        }
    });
    let standalone_bytes = net_bytes(|| {
        for i in 0..STANDALONE {
            standalone(i, &clock);
        }
    });
    println!(
        "{} names in {REGISTRIES} dropped registries: {in_registries} B left; \
         {STANDALONE} dropped standalone breakers: {standalone_bytes} B left",
        REGISTRIES * PER_REGISTRY
    );
    assert!(
        in_registries <= SLACK,
        "{in_registries} B still allocated after {} names were registered in registries that \
         were dropped ({:.1} B per name)",
        REGISTRIES * PER_REGISTRY,
        in_registries as f64 / (REGISTRIES * PER_REGISTRY) as f64
    );
    assert!(
        standalone_bytes <= SLACK,
        "{standalone_bytes} B still allocated after {STANDALONE} standalone breakers were \
         dropped ({:.1} B per name)",
        standalone_bytes as f64 / STANDALONE as f64
    );
}
