#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! What the gate costs (issue 10): admission reads one gate word, beside the state word,
//! where it read the global fuse's state word before. Side by side in one run:
//!
//! - `gate_closed_success`: `acquire` + `record(Success)` on a `Closed` breaker, standalone
//!   (no owner, nothing can hold its gate) and as a member of a registry whose fuse is closed
//!   (the fuse could hold its gate; it does not).
//! - `gate_rejection`: the refusal paths, a member whose gate the open fuse holds
//!   (`GlobalOpen`, its owner asked for the verdict) next to a breaker refusing in its own
//!   `Open` state and one forced open.
//!
//! `cargo bench --bench gate` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitError, CircuitState, ComponentBreaker, GlobalCircuitBreaker,
    GlobalTripConditions, Outcome, Permit, SystemClock,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const DAY: Duration = Duration::from_secs(86_400);

/// Opens on its first failure and stays open for a day.
const TRIPPING: CircuitConfig = CircuitConfig {
    consecutive_failures_threshold: Some(1),
    open_cooldown: DAY,
    open_cooldown_max: DAY,
    ..CircuitConfig::DEFAULT
};

fn call(b: &ComponentBreaker) -> bool {
    match b.acquire() {
        Permit::Allowed(guard) => {
            black_box(guard.record(Outcome::Success));
            true
        }
        Permit::Rejected(e) => {
            black_box(e);
            false
        }
    }
}

fn trip(b: &ComponentBreaker) {
    if let Permit::Allowed(guard) = b.acquire() {
        guard.record(Outcome::Failure);
    }
    assert_eq!(b.state(), CircuitState::Open);
}

fn closed(c: &mut Criterion) {
    let standalone =
        ComponentBreaker::new("standalone", CircuitConfig::DEFAULT, Arc::new(SystemClock)).unwrap();
    let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
    let member = registry.register("member").unwrap();
    let mut g = c.benchmark_group("gate_closed_success");
    g.throughput(Throughput::Elements(1));
    g.bench_function("standalone", |b| b.iter(|| call(black_box(&standalone))));
    g.bench_function("member, fuse closed", |b| {
        b.iter(|| call(black_box(&member)))
    });
    g.finish();
    assert_eq!(registry.global().state(), CircuitState::Closed);
    assert!(call(&standalone) && call(&member));
}

fn rejection(c: &mut Criterion) {
    // Two components, one open: the fuse (ratio 0.5 of at least 2) opens and holds the
    // other's gate.
    let registry = GlobalCircuitBreaker::new(CircuitConfig {
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: 0.5,
            min_components: 2,
            min_calls: 0,
        },
        ..TRIPPING
    })
    .unwrap();
    let open = registry.register("open").unwrap();
    let gated = registry.register("gated").unwrap();
    trip(&open);
    assert_eq!(registry.global().state(), CircuitState::Open);
    assert!(matches!(
        gated.acquire(),
        Permit::Rejected(CircuitError::GlobalOpen { .. })
    ));
    let forced =
        ComponentBreaker::new("forced", CircuitConfig::DEFAULT, Arc::new(SystemClock)).unwrap();
    forced.force_open();

    let mut g = c.benchmark_group("gate_rejection");
    g.throughput(Throughput::Elements(1));
    g.bench_function("member, gate held by the open fuse", |b| {
        b.iter(|| call(black_box(&gated)))
    });
    g.bench_function("own state open", |b| b.iter(|| call(black_box(&open))));
    g.bench_function("forced open", |b| b.iter(|| call(black_box(&forced))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = closed, rejection
}
criterion_main!(benches);
