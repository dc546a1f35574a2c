#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Scenario 5: many threads (or tokio tasks) on ONE shared breaker, closed, every call
//! succeeding. Criterion's throughput is the total over all threads (elements/s = calls/s).
//!
//! - `threads/<subject>/<T>`: T OS threads, each running `iters / T` calls after a barrier;
//!   timed from the barrier until the last thread is joined.
//! - `tasks/<subject>/<N>`: N tokio tasks on a multi-thread runtime (one worker per core),
//!   each running `iters / N` calls of the async path; timed from the first spawn until the
//!   last task is joined.
//!
//! T runs over 1, 2, 4, 8, 16, 32, 64, capped by default at twice the core count (more
//! threads than that on a shared breaker measures the OS scheduler, not the breaker). Override
//! with `BREAKER_BENCH_THREADS=1,2,4,8,16,32,64` and `BREAKER_BENCH_TASKS=64,128,256`.
//!
//! `cargo bench --bench contention`

use std::future::Future;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use recloser::AsyncRecloser;

mod common;
use common::*;

common::bench_manifest!();

const ALL_THREADS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
const ALL_TASKS: [usize; 3] = [64, 128, 256];

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn from_env(var: &str) -> Option<Vec<usize>> {
    let list = std::env::var(var).ok()?;
    let parsed: Vec<usize> = list
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();
    (!parsed.is_empty()).then_some(parsed)
}

/// The thread counts to run: `BREAKER_BENCH_THREADS`, or 1..=64 capped at 2 x cores.
pub fn thread_counts() -> Vec<usize> {
    from_env("BREAKER_BENCH_THREADS").unwrap_or_else(|| {
        let cap = (2 * cores()).max(2);
        ALL_THREADS.into_iter().filter(|&t| t <= cap).collect()
    })
}

fn task_counts() -> Vec<usize> {
    from_env("BREAKER_BENCH_TASKS").unwrap_or_else(|| ALL_TASKS.to_vec())
}

/// Runs `iters` calls of `f` spread over `threads` threads; returns the wall time, scaled to
/// exactly `iters` calls.
pub fn run_threads<F: Fn(u64) + Sync>(threads: usize, iters: u64, f: &F) -> Duration {
    let per = (iters / threads as u64).max(1);
    let barrier = Barrier::new(threads + 1);
    let mut start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                let base = t * per;
                for i in 0..per {
                    f(black_box(base + i));
                }
            });
        }
        barrier.wait();
        start = Instant::now();
    });
    let elapsed = start.elapsed();
    elapsed.mul_f64(iters as f64 / (per * threads as u64) as f64)
}

fn threads_bench<F: Fn(u64) + Sync>(g: &mut BenchmarkGroup<'_, WallTime>, id: &str, f: F) {
    for t in thread_counts() {
        g.bench_with_input(BenchmarkId::new(id, t), &t, |b, &t| {
            b.iter_custom(|iters| run_threads(t, iters, &f))
        });
    }
}

fn threads(c: &mut Criterion) {
    prepare();
    let mut g = c.benchmark_group("threads");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    let floor = Floor::new(false);
    threads_bench(&mut g, "floor", |i| {
        let _ = black_box(floor.call(i, succeed));
    });
    threads_bench(&mut g, "engine_by_hand", |i| {
        let _ = black_box(by_hand(&breakers::hand_ok, i, succeed));
    });
    threads_bench(&mut g, "engine_macro", |i| {
        let _ = black_box(macro_ok(i));
    });
    let fd = failsafe_default();
    threads_bench(&mut g, "failsafe_default", |i| {
        let _ = black_box(failsafe_call(&fd, i, succeed));
    });
    let fc = failsafe_consecutive(5, Duration::from_secs(30));
    threads_bench(&mut g, "failsafe_consecutive", |i| {
        let _ = black_box(failsafe_call(&fc, i, succeed));
    });
    let r = recloser_default();
    threads_bench(&mut g, "recloser_default", |i| {
        let _ = black_box(recloser_call(&r, i, succeed));
    });
    g.finish();
    assert_closed(&[&breakers::hand_ok, &breakers::macro_ok]);
    println!(
        "stripes in use on the shared breaker: {} (cap: cores rounded up to a power of two, <= 64)",
        breakers::hand_ok.snapshot().stripes
    );
}

/// Runs `iters` calls of `f` spread over `tasks` tokio tasks on `rt`.
fn run_tasks<F, Fut>(rt: &tokio::runtime::Runtime, tasks: usize, iters: u64, f: &F) -> Duration
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let per = (iters / tasks as u64).max(1);
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks as u64)
            .map(|t| {
                let f = f.clone();
                tokio::spawn(async move {
                    let base = t * per;
                    for i in 0..per {
                        f(black_box(base + i)).await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start
            .elapsed()
            .mul_f64(iters as f64 / (per * tasks as u64) as f64)
    })
}

fn tasks_bench<F, Fut>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    id: &str,
    f: F,
) where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    for n in task_counts() {
        g.bench_with_input(BenchmarkId::new(id, n), &n, |b, &n| {
            b.iter_custom(|iters| run_tasks(rt, n, iters, &f))
        });
    }
}

fn tasks(c: &mut Criterion) {
    prepare();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .build()
        .unwrap();
    let mut g = c.benchmark_group("tasks");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    // Leaked, so each task's closure holds a plain `&'static` (no reference count per call
    // that the subject itself would not pay).
    let floor: &'static Floor = Box::leak(Box::new(Floor::new(false)));
    tasks_bench(&mut g, &rt, "floor", move |i| async move {
        let _ = black_box(floor.call(i, succeed));
    });
    tasks_bench(&mut g, &rt, "engine_macro_async", |i| async move {
        let _ = black_box(macro_ok_async(i).await);
    });
    tasks_bench(&mut g, &rt, "engine_run_protected", |i| async move {
        let _ = black_box(by_hand_async(&breakers::hand_ok, i, succeed).await);
    });
    let fd: &'static FailsafeDefault = Box::leak(Box::new(failsafe_default()));
    tasks_bench(&mut g, &rt, "failsafe_default_async", move |i| async move {
        let _ = black_box(failsafe_call_async(fd, i, succeed).await);
    });
    let ar: &'static AsyncRecloser = Box::leak(Box::new(AsyncRecloser::from(recloser_default())));
    tasks_bench(&mut g, &rt, "recloser_default_async", move |i| async move {
        let _ = black_box(recloser_call_async(ar, i, succeed).await);
    });
    g.finish();
    assert_closed(&[&breakers::hand_ok, &breakers::macro_ok_async]);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = threads, tasks
}
criterion_main!(benches);
