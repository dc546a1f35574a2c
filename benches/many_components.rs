#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Scenario 6: 10,000 components registered in the process-wide registry, one thread, calls
//! spread over all of them in a fixed pseudo-random order (so neither the map nor the
//! breakers stay in cache the way one hot component does).
//!
//! - `by_name`: `registry().acquire(name)` (`Breaker::acquire`: one map lookup and a
//!   reference-count increment per call), then `record`.
//! - `call_by_name`: `registry().call(name, f)`, the helper.
//! - `handle`: what a manifest handle does after its first use: it holds its component's
//!   `Arc<ComponentBreaker>` and acquires from it, with no lookup. A 10,000-entry `breakers!`
//!   manifest is impractical to write out, so each component's breaker is resolved once, as
//!   the handle's `OnceCell` does, and held in a `Vec`.
//! - `one_by_name` / `one_handle`: by name, and through a real `breakers!` handle
//!   (`breakers::hot`, registered in the same 10,000-component registry), on one hot component.
//!
//! `cargo bench --bench many_components`

use std::hint::black_box;
use std::time::Duration;

use std::sync::Arc;

use breaker::{ComponentBreaker, Outcome, Permit};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const COMPONENTS: usize = 10_000;

breaker::breakers! {
    /// One real manifest handle, for `one_handle`.
    hot,
}

struct Fleet {
    names: Vec<&'static str>,
    breakers: Vec<Arc<ComponentBreaker>>,
    /// A fixed permutation of 0..COMPONENTS: the visiting order.
    order: Vec<u32>,
}

fn fleet() -> Fleet {
    let registry = breaker::registry();
    let names: Vec<&'static str> = (0..COMPONENTS)
        .map(|i| &*Box::leak(format!("component-{i:05}").into_boxed_str()))
        .collect();
    for name in &names {
        registry.register(name).unwrap();
    }
    let breakers = names
        .iter()
        .map(|name| registry.component(name).unwrap())
        .collect();
    breakers::declare(registry).unwrap();
    // Fisher-Yates with xorshift: deterministic, and no rand dependency.
    let mut order: Vec<u32> = (0..COMPONENTS as u32).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    assert_eq!(registry.components().len(), COMPONENTS + 1);
    Fleet {
        names,
        breakers,
        order,
    }
}

#[inline(always)]
fn record(permit: Permit<'_>) {
    match permit {
        Permit::Allowed(guard) => {
            black_box(guard.record(Outcome::Success));
        }
        Permit::Rejected(e) => panic!("refused: {e}"),
    }
}

fn many(c: &mut Criterion) {
    let fleet = fleet();
    let registry = breaker::registry();
    let mut g = c.benchmark_group("many_components");
    g.throughput(Throughput::Elements(1));

    let next = |k: &mut usize| {
        *k = (*k + 1) % COMPONENTS;
        fleet.order[*k] as usize
    };

    g.bench_function("by_name", |b| {
        let mut k = 0;
        b.iter(|| record(registry.acquire(black_box(fleet.names[next(&mut k)]))))
    });
    g.bench_function("call_by_name", |b| {
        let mut k = 0;
        b.iter(|| {
            black_box(registry.call(black_box(fleet.names[next(&mut k)]), || {
                Ok::<_, std::io::Error>(black_box(1u64))
            }))
        })
    });
    g.bench_function("handle", |b| {
        let mut k = 0;
        b.iter(|| record(black_box(&fleet.breakers[next(&mut k)]).acquire()))
    });
    g.bench_function("one_by_name", |b| {
        b.iter(|| record(registry.acquire(black_box("hot"))))
    });
    g.bench_function("one_handle", |b| {
        b.iter(|| record(black_box(&breakers::hot).acquire()))
    });
    g.finish();

    let snapshot = registry.snapshot();
    let stripes: usize = snapshot.components.iter().map(|c| c.stripes).sum();
    println!(
        "{} components, {} stripes allocated in all (one per component touched by one thread)",
        snapshot.components.len(),
        stripes
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = many
}
criterion_main!(benches);
