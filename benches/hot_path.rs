#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Single-thread cost per call, every subject in the same run (scenarios 1-4 of BENCHMARKS.md):
//!
//! 1. `closed_success`: closed, every call succeeds.
//! 2. `closed_10pct_failures`: closed, `i % 10 == 9` fails (never enough to open).
//! 3. `open_rejection`: open, the call is refused (the body never runs).
//! 4. `half_open_probe`: half-open, a probe slot is taken and given back.
//!
//! Subjects: `floor` (one atomic load + one `fetch_add`), `engine/by_hand` (manifest handle,
//! `acquire` + `record`), `engine/macro` and `engine/macro_async` (`#[circuit_breaker]`),
//! `engine/run_protected` (the engine's own future helper), `failsafe/*` (1.3, default config
//! and consecutive-failures policy, `CircuitBreaker::call` and its futures twin) and
//! `recloser/*` (1.4, `Recloser::call`, `AsyncRecloser::call`). Async subjects are polled once
//! with a no-op waker (they complete at once), so no executor is measured.
//!
//! `cargo bench --bench hot_path` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use recloser::AsyncRecloser;

mod common;
use common::*;

common::bench_manifest!();

/// Benchmarks `f(i)` with `i` counting up from 1 (the failure pattern keys on it).
fn bench<O>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, mut f: impl FnMut(u64) -> O) {
    g.bench_function(id, |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(f(black_box(i)))
        })
    });
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g
}

fn closed(c: &mut Criterion) {
    prepare();
    closed_group(
        c,
        "closed_success",
        succeed,
        &breakers::hand_ok,
        macro_ok,
        macro_ok_async,
    );
    closed_group(
        c,
        "closed_10pct_failures",
        one_in_ten,
        &breakers::hand_mixed,
        macro_mixed,
        macro_mixed_async,
    );
    assert_closed(&[
        &breakers::hand_ok,
        &breakers::macro_ok,
        &breakers::macro_ok_async,
        &breakers::hand_mixed,
        &breakers::macro_mixed,
        &breakers::macro_mixed_async,
    ]);
}

/// One closed scenario. Every argument is a function item (not a pointer), so each subject
/// is monomorphised and inlined like the user's own code would be.
fn closed_group<B, S, A, F>(
    c: &mut Criterion,
    name: &str,
    body: B,
    hand: &'static breaker::ComponentHandle,
    macro_sync: S,
    macro_async: A,
) where
    B: Fn(u64) -> Result<u64, BenchError> + Copy,
    S: Fn(u64) -> Result<u64, BenchError>,
    A: Fn(u64) -> F,
    F: std::future::Future<Output = Result<u64, BenchError>>,
{
    let mut g = group(c, name);
    let floor = Floor::new(false);
    bench(&mut g, "floor", |i| floor.call(i, body));
    bench(&mut g, "engine/by_hand", |i| by_hand(hand, i, body));
    bench(&mut g, "engine/macro", &macro_sync);
    bench(&mut g, "engine/macro_async", |i| ready(macro_async(i)));
    bench(&mut g, "engine/run_protected", |i| {
        ready(by_hand_async(hand, i, body))
    });
    let fd = failsafe_default();
    bench(&mut g, "failsafe/default", |i| failsafe_call(&fd, i, body));
    let fc = failsafe_consecutive(5, Duration::from_secs(30));
    bench(&mut g, "failsafe/consecutive", |i| {
        failsafe_call(&fc, i, body)
    });
    bench(&mut g, "failsafe/default_async", |i| {
        ready(failsafe_call_async(&fd, i, body))
    });
    let r = recloser_default();
    bench(&mut g, "recloser/default", |i| recloser_call(&r, i, body));
    let ar = AsyncRecloser::from(recloser_default());
    bench(&mut g, "recloser/default_async", |i| {
        ready(recloser_call_async(&ar, i, body))
    });
    g.finish();
    assert!(fd.is_call_permitted() && fc.is_call_permitted());
    assert!(recloser_call(&r, 0, succeed).is_ok());
}

fn open(c: &mut Criterion) {
    prepare();
    let mut g = group(c, "open_rejection");
    let floor = Floor::new(true);
    bench(&mut g, "floor", |i| floor.call(i, fail));
    bench(&mut g, "engine/by_hand", |i| {
        by_hand(&breakers::hand_open, i, fail)
    });
    bench(&mut g, "engine/by_hand_forced_open", |i| {
        by_hand(&breakers::hand_forced, i, fail)
    });
    bench(&mut g, "engine/macro", macro_open);
    bench(&mut g, "engine/macro_async", |i| ready(macro_open_async(i)));
    // The bodies always fail, so a peer whose open time ran out re-opens on its first probe.
    let fd = failsafe_default();
    trip_failsafe(&fd, 5);
    bench(&mut g, "failsafe/default", |i| failsafe_call(&fd, i, fail));
    let fc = failsafe_consecutive(1, LONG);
    trip_failsafe(&fc, 1);
    bench(&mut g, "failsafe/consecutive", |i| {
        failsafe_call(&fc, i, fail)
    });
    bench(&mut g, "failsafe/consecutive_async", |i| {
        ready(failsafe_call_async(&fc, i, fail))
    });
    let r = recloser_default();
    trip_recloser(&r, 101);
    bench(&mut g, "recloser/default", |i| recloser_call(&r, i, fail));
    let rt = recloser_tripping(LONG);
    trip_recloser(&rt, 2);
    bench(&mut g, "recloser/tripping", |i| recloser_call(&rt, i, fail));
    let ar = AsyncRecloser::from(recloser_tripping(LONG));
    for i in 0..2 {
        let _ = ready(recloser_call_async(&ar, i, fail));
    }
    bench(&mut g, "recloser/tripping_async", |i| {
        ready(recloser_call_async(&ar, i, fail))
    });
    g.finish();
}

fn half_open(c: &mut Criterion) {
    prepare();
    let mut g = group(c, "half_open_probe");
    // The floor's "admission and release": the same load + fetch_add.
    let floor = Floor::new(false);
    bench(&mut g, "floor", |i| floor.call(i, fail));
    bench(&mut g, "engine/by_hand", |i| {
        probe_by_hand(&breakers::hand_half_open, i)
    });
    bench(&mut g, "engine/macro", macro_half_open);
    // failsafe and recloser have no bounded probe admission to hold open: failsafe's
    // half-open lets every call through and closes on the first success; recloser's admits
    // every call until its half-open ring fills, then decides. See BENCHMARKS.md.
    g.finish();
    assert_eq!(
        breakers::hand_half_open.state(),
        breaker::CircuitState::HalfOpen
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = closed, open, half_open
}
criterion_main!(benches);
