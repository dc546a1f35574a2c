#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Zero heap allocations per call in steady state, on every call path: by hand (manifest
//! handle, registry lookup by name, `call`, `run_protected`), `#[circuit_breaker]` sync and
//! async, success, failure (including the trip check), open rejection, forced-open
//! rejection, half-open probes, a dropped guard, and several threads on one breaker.
//!
//! The global allocator is `stats_alloc`'s counting wrapper around the system allocator (the
//! workspace forbids `unsafe`, so we use a crate that provides it safely). Each path is first
//! warmed up (the first use registers the manifest, allocates the calling thread's stripe and
//! its thread-locals), then run 10,000 times inside a counting region (several threads: until
//! one counted round allocates nothing, see the comment there). The counts are global,
//! not per thread, so this file holds a single test: nothing else runs while it measures.

use std::alloc::System;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Barrier;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use breaker::{
    circuit_breaker, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, FakeClock,
    GlobalCircuitBreaker, Outcome, Permit, SystemClock,
};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

breaker::breakers! {
    by_hand,
    by_name,
    helper,
    threads,
    macro_sync,
    macro_async,
    open_by_hand {
        consecutive_failures_threshold: Some(1),
        open_cooldown: Duration::from_secs(86_400),
        open_cooldown_max: Duration::from_secs(86_400),
    },
    open_macro {
        consecutive_failures_threshold: Some(1),
        open_cooldown: Duration::from_secs(86_400),
        open_cooldown_max: Duration::from_secs(86_400),
    },
    open_macro_async {
        consecutive_failures_threshold: Some(1),
        open_cooldown: Duration::from_secs(86_400),
        open_cooldown_max: Duration::from_secs(86_400),
    },
    forced,
    half_open {
        consecutive_failures_threshold: Some(1),
        open_cooldown: Duration::from_millis(1),
        half_open_max_wait: None,
    },
    half_open_macro {
        consecutive_failures_threshold: Some(1),
        open_cooldown: Duration::from_millis(1),
        half_open_max_wait: None,
    },
    healthy_a,
    healthy_b,
    healthy_c,
}

const CALLS: u64 = 10_000;

/// What a `breakers!` family entry generates.
static FAMILY: breaker::FamilyHandle =
    breaker::__private::family_handle("no_alloc_family", None, &[], None, &[]);

static CLOCK: once_cell::sync::Lazy<FakeClock> = once_cell::sync::Lazy::new(FakeClock::new);

#[derive(Debug)]
enum CallFailed {
    Dependency,
    Refused(#[allow(dead_code)] CircuitError),
}

impl From<CircuitError> for CallFailed {
    fn from(e: CircuitError) -> Self {
        CallFailed::Refused(e)
    }
}

fn is_dependency(e: &CallFailed) -> bool {
    matches!(e, CallFailed::Dependency)
}

/// Fails on `i % 10 == 9`.
fn dependency(i: u64) -> Result<u64, CallFailed> {
    if black_box(i) % 10 == 9 {
        Err(CallFailed::Dependency)
    } else {
        Ok(i)
    }
}

#[circuit_breaker(component = "macro_sync")]
fn protected(i: u64) -> Result<u64, CallFailed> {
    dependency(i)
}

#[circuit_breaker(component = "macro_async")]
async fn protected_async(i: u64) -> Result<u64, CallFailed> {
    dependency(i)
}

#[circuit_breaker(component = "open_macro")]
fn refused(_i: u64) -> Result<u64, CallFailed> {
    Err(CallFailed::Dependency)
}

#[circuit_breaker(component = "open_macro_async")]
async fn refused_async(_i: u64) -> Result<u64, CallFailed> {
    Err(CallFailed::Dependency)
}

#[circuit_breaker(component = "half_open_macro", ignore_if = is_dependency)]
fn probe(_i: u64) -> Result<u64, CallFailed> {
    Err(CallFailed::Dependency)
}

/// Polls a future that never waits, with a no-op waker (no executor, no allocation).
fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the test futures never wait"),
    }
}

fn by_hand_call(handle: &'static breaker::ComponentHandle, i: u64) -> Result<u64, CallFailed> {
    match handle.acquire() {
        Permit::Allowed(guard) => {
            let out = dependency(i);
            guard.record_result(&out);
            out
        }
        Permit::Rejected(e) => Err(e.into()),
    }
}

/// Runs `path` for warm-up, then `CALLS` times while counting; returns the allocations seen
/// (allocations + reallocations) and the bytes.
fn count(path: &mut dyn FnMut(u64)) -> (usize, usize) {
    for i in 0..1_000 {
        path(i);
    }
    let region = Region::new(GLOBAL);
    for i in 0..CALLS {
        path(i);
    }
    let change = region.change();
    (
        change.allocations + change.reallocations,
        change.bytes_allocated,
    )
}

fn trip_and_prepare() {
    // The process-wide registry runs on a fake clock, so the half-open components' cooldown
    // passes without sleeping; `system_clock` below covers the real clock's path.
    let registry = breaker::install(
        GlobalCircuitBreaker::builder()
            .clock(CLOCK.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    breakers::declare(registry).unwrap();
    for h in [
        &breakers::open_by_hand,
        &breakers::half_open,
        &breakers::half_open_macro,
    ] {
        if let Permit::Allowed(g) = h.acquire() {
            g.record(Outcome::Failure);
        }
    }
    // One failure each opens the two attribute components (`consecutive_failures_threshold` 1).
    assert!(matches!(refused(0), Err(CallFailed::Dependency)));
    assert!(matches!(
        ready(refused_async(0)),
        Err(CallFailed::Dependency)
    ));
    breakers::forced.force_open();
    CLOCK.advance(Duration::from_millis(5));
    for h in [&breakers::half_open, &breakers::half_open_macro] {
        match h.acquire() {
            Permit::Allowed(g) => {
                g.record(Outcome::Ignored);
            }
            Permit::Rejected(e) => panic!("{e}"),
        }
    }
    assert_eq!(breakers::open_by_hand.state(), CircuitState::Open);
    assert_eq!(breakers::open_macro.state(), CircuitState::Open);
    assert_eq!(breakers::open_macro_async.state(), CircuitState::Open);
    assert_eq!(breakers::half_open.state(), CircuitState::HalfOpen);
    assert_eq!(breakers::half_open_macro.state(), CircuitState::HalfOpen);
    assert_eq!(registry.global().state(), CircuitState::Closed);
}

#[test]
fn steady_state_calls_do_not_allocate() {
    trip_and_prepare();
    let registry = breaker::registry();
    let standalone = registry.component("helper").unwrap();
    let system_clock = std::sync::Arc::new(
        ComponentBreaker::new(
            "system_clock",
            CircuitConfig::DEFAULT,
            std::sync::Arc::new(SystemClock),
        )
        .unwrap(),
    );

    // A keyed family: calls on keys that are live already (eight of them, by `&str`).
    let family = registry
        .register_family("no_alloc_hosts", breaker::FamilyConfig::DEFAULT)
        .unwrap();
    let hosts: Vec<String> = (0..8).map(|i| format!("host-{i}.example")).collect();
    for host in &hosts {
        drop(family.key(host).unwrap());
    }
    let family_handle = &FAMILY;
    for host in &hosts {
        drop(family_handle.key(host).unwrap());
    }

    type Path<'a> = (&'static str, Box<dyn FnMut(u64) + 'a>);
    let mut paths: Vec<Path<'_>> = vec![
        (
            "family key by &str (Family::acquire), 10 % failures",
            Box::new(|i| match family.acquire(&hosts[(i % 8) as usize]) {
                Permit::Allowed(g) => {
                    black_box(g.record_result(&dependency(i)));
                }
                Permit::Rejected(e) => panic!("{e}"),
            }),
        ),
        (
            "family key through a manifest family handle (__private::acquire_keyed)",
            Box::new(|i| {
                match breaker::__private::acquire_keyed(&FAMILY, hosts[(i % 8) as usize].as_str()) {
                    Ok(g) => {
                        black_box(g.record_result(&dependency(i)));
                    }
                    Err(e) => panic!("{e}"),
                }
            }),
        ),
        (
            "by hand on the system clock (quanta), 10 % failures",
            Box::new(|i| match system_clock.acquire() {
                Permit::Allowed(g) => {
                    black_box(g.record_result(&dependency(i)));
                }
                Permit::Rejected(e) => panic!("{e}"),
            }),
        ),
        (
            "by hand (manifest handle), 10 % failures",
            Box::new(|i| {
                let _ = black_box(by_hand_call(&breakers::by_hand, i));
            }),
        ),
        (
            "by name (registry.acquire), 10 % failures",
            Box::new(|i| match registry.acquire("by_name") {
                Permit::Allowed(g) => {
                    black_box(g.record_result(&dependency(i)));
                }
                Permit::Rejected(e) => panic!("{e}"),
            }),
        ),
        (
            "registry.call by name",
            Box::new(|i| {
                let _ = black_box(registry.call("helper", || dependency(i)));
            }),
        ),
        (
            "ComponentBreaker::call",
            Box::new(move |i| {
                let _ = black_box(standalone.call(|| dependency(i)));
            }),
        ),
        (
            "run_protected (async, by hand)",
            Box::new(|i| {
                let _ = black_box(ready(
                    breakers::helper.run_protected(async move { dependency(i) }),
                ));
            }),
        ),
        (
            "guard dropped without an outcome",
            Box::new(|_| {
                drop(black_box(breakers::by_hand.acquire()));
            }),
        ),
        (
            "#[circuit_breaker] sync, 10 % failures",
            Box::new(|i| {
                let _ = black_box(protected(i));
            }),
        ),
        (
            "#[circuit_breaker] async, 10 % failures",
            Box::new(|i| {
                let _ = black_box(ready(protected_async(i)));
            }),
        ),
        (
            "open: rejection by hand",
            Box::new(|i| {
                let r = by_hand_call(&breakers::open_by_hand, i);
                assert!(matches!(r, Err(CallFailed::Refused(_))));
            }),
        ),
        (
            "open: rejection, #[circuit_breaker] sync",
            Box::new(|i| {
                assert!(matches!(refused(i), Err(CallFailed::Refused(_))));
            }),
        ),
        (
            "open: rejection, #[circuit_breaker] async",
            Box::new(|i| {
                assert!(matches!(
                    ready(refused_async(i)),
                    Err(CallFailed::Refused(_))
                ));
            }),
        ),
        (
            "forced open: rejection",
            Box::new(|i| {
                let _ = black_box(by_hand_call(&breakers::forced, i));
            }),
        ),
        (
            "half-open: probe admitted and released, by hand",
            Box::new(|_| match breakers::half_open.acquire() {
                Permit::Allowed(g) => {
                    black_box(g.record(Outcome::Ignored));
                }
                Permit::Rejected(e) => panic!("{e}"),
            }),
        ),
        (
            "half-open: probe admitted and released, #[circuit_breaker]",
            Box::new(|i| {
                assert!(matches!(probe(i), Err(CallFailed::Dependency)));
            }),
        ),
    ];

    // The counter itself works: a path that allocates once per call is seen doing so.
    let (control, _) = count(&mut |i| {
        black_box(Box::new(i));
    });
    assert!(
        control >= CALLS as usize,
        "the counting allocator missed allocations: {control}"
    );

    let mut report = Vec::new();
    for (name, path) in &mut paths {
        let (allocations, bytes) = count(path.as_mut());
        report.push((*name, allocations, bytes));
    }

    // Several threads on one breaker: spawned (which allocates) before counting, and run
    // until the stripes have grown, then counted while they call. A thread that collides
    // with another moves to another stripe (as `LongAdder` does), and a stripe's first use
    // allocates it once, ever: under a loaded machine that can still happen after the
    // warm-up. So the threads run up to ROUNDS counted rounds and one must allocate nothing,
    // while all the rounds together may allocate at most a few stripes: a path that
    // allocated per call would allocate in every round, thousands of times.
    const ROUNDS: usize = 5;
    let workers = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .max(2);
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let start = Barrier::new(workers + 1);
        let done = Barrier::new(workers + 1);
        let mut region = None;
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    for i in 0..20_000 {
                        let _ = black_box(by_hand_call(&breakers::threads, i));
                    }
                    start.wait();
                    for i in 0..CALLS {
                        let _ = black_box(by_hand_call(&breakers::threads, i));
                    }
                    done.wait();
                });
            }
            start.wait();
            region = Some(Region::new(GLOBAL));
            done.wait();
            let change = region.take().unwrap().change();
            rounds.push((
                change.allocations + change.reallocations,
                change.bytes_allocated,
            ));
        });
        if rounds.last().is_some_and(|&(n, _)| n == 0) {
            break;
        }
    }
    let grown: usize = rounds.iter().map(|&(n, _)| n).sum();
    println!("several threads on one breaker, rounds (allocations, bytes): {rounds:?}");
    // Stripe growth: each worker can move to a fresh stripe only a few times (the stripe set
    // is capped); 8 allocations per worker is far above that and far below per-call.
    assert!(
        grown <= 8 * workers,
        "several threads allocated {grown} times over {rounds:?}: more than stripe growth"
    );
    let last = rounds.last().copied().unwrap_or_default();
    report.push((
        "several threads on one breaker, 10 % failures",
        last.0,
        last.1,
    ));

    let allocating: Vec<_> = report.iter().filter(|(_, n, _)| *n > 0).collect();
    for (name, n, bytes) in &report {
        println!("{name}: {n} allocations ({bytes} B) in {CALLS} calls");
    }
    assert!(
        allocating.is_empty(),
        "paths that allocate in steady state: {allocating:?}"
    );
    for h in [
        &breakers::by_hand,
        &breakers::macro_sync,
        &breakers::threads,
    ] {
        assert_eq!(h.state(), CircuitState::Closed, "{}", h.name());
    }
}
