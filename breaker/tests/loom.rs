#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![cfg(breaker_loom)]
//! Loom models of the engine's concurrency, run with the engine's loom shim (`loom_shim.rs`) switched to
//! loom (`RUSTFLAGS="--cfg breaker_loom"`, see `.ci/loom`):
//!
//! ```text
//! RUSTFLAGS="--cfg breaker_loom" cargo test -p breaker --test loom --release \
//!     --target-dir target/loom -- --nocapture --test-threads 1
//! ```
//!
//! Every model goes through the public API only. The registry's `DashMap`, `arc-swap` and
//! `once_cell` are not loom-instrumented, so each model registers its components *before* it
//! spawns threads and the threads then only touch the breakers themselves (the engine's
//! atomics, its transition lock and the fuse's locks), never the registry's map.
//!
//! Each model prints how many executions (interleavings) loom explored and how long it took.
//! `LOOM_MAX_PREEMPTIONS` overrides the per-model preemption bound.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use breaker::{
    CircuitConfig, CircuitError, CircuitState, ComponentBreaker, ComponentSnapshot, Event,
    FakeClock, FamilyConfig, GlobalCircuitBreaker, GlobalTripConditions, Outcome, Permit, Recorded,
};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

const COOLDOWN: Duration = Duration::from_secs(1);

/// Runs `f` under loom with `bound` preemptions (unless `LOOM_MAX_PREEMPTIONS` is set) and
/// prints the number of executions explored and the time taken.
fn model<F>(name: &str, bound: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    // The window picks a stripe from a std thread-local hint that loom's threads share (they
    // run on one OS thread) and that survives from one execution to the next; with more than
    // one stripe allowed, the stripe a call lands on would differ between executions of the
    // same schedule, which loom rejects as a nondeterministic model. One CPU means one stripe.
    assert_eq!(
        std::thread::available_parallelism().map_or(1, usize::from),
        1,
        "run the loom models on one CPU (`taskset -c 0`, see .ci/loom) so windows keep one stripe"
    );
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(bound);
    }
    builder.max_branches = 100_000;
    let executions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    let started = Instant::now();
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    let line = format!(
        "loom model {name}: {} executions, preemption bound {:?}, {:.2?}",
        executions.load(std::sync::atomic::Ordering::Relaxed),
        builder.preemption_bound,
        started.elapsed()
    );
    eprintln!("{line}");
    if let Some(path) = std::env::var_os("LOOM_REPORT") {
        use std::io::Write as _;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// One ignored call, so that the window's stripe is allocated before any thread is spawned.
///
/// Stripes are published through `once_cell::race::OnceBox`, whose atomics loom does not
/// see: a stripe allocated inside one model thread and used by another would be reported as
/// a causality violation that cannot happen with the real (acquire/release) `OnceBox`.
fn warm_up(b: &ComponentBreaker) {
    b.acquire().into_result().unwrap().record(Outcome::Ignored);
}

/// A config that trips on the first failure and has `max_concurrent` probe slots. One window
/// bucket: every bucket is a handful of relaxed atomics, and loom explores every value each
/// relaxed load may return, so fewer buckets keep the models small without changing the
/// code paths.
fn config(max_concurrent: u32, required: u32, allowed_failures: u32) -> CircuitConfig {
    CircuitConfig {
        window_buckets: 1,
        min_calls: 100,
        consecutive_failures_threshold: Some(1),
        open_cooldown: COOLDOWN,
        open_cooldown_max: COOLDOWN * 100,
        half_open_max_concurrent: max_concurrent,
        half_open_required_successes: required,
        half_open_allowed_failures: allowed_failures,
        half_open_max_wait: None,
        ..CircuitConfig::DEFAULT
    }
}

/// Opens `b` with one failure (the config trips on it) and lets the cooldown pass.
fn trip_and_cool(b: &ComponentBreaker, clock: &FakeClock) {
    b.acquire().into_result().unwrap().record(Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
    clock.advance(COOLDOWN);
}

/// Every transition bumps the generation by one.
fn assert_generation_counts_transitions(snap: &ComponentSnapshot) {
    let transitions: u64 = snap.transitions.iter().map(|t| t.count).sum();
    assert_eq!(snap.generation, transitions, "{snap:?}");
}

fn transitions(snap: &ComponentSnapshot, from: CircuitState, to: CircuitState) -> u64 {
    snap.transitions
        .iter()
        .filter(|t| t.from == from && t.to == to)
        .map(|t| t.count)
        .sum()
}

/// How a probe ends in the admission models.
#[derive(Debug, Clone, Copy)]
enum End {
    Success,
    Failure,
    Ignored,
    Dropped,
    Panicked,
}

/// Acquires; while admitted, bumps `in_flight` and checks it never exceeds `max`; then ends
/// the call as `end`. Returns whether it was admitted.
fn probe(b: &ComponentBreaker, in_flight: &AtomicUsize, max: usize, end: End) -> bool {
    let guard = match b.acquire() {
        Permit::Allowed(guard) => guard,
        Permit::Rejected(e) => {
            assert!(
                matches!(e, CircuitError::HalfOpenExhausted { .. }),
                "unexpected rejection {e:?}"
            );
            return false;
        }
    };
    assert!(guard.is_probe());
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    assert!(now <= max, "{now} probes in flight, at most {max} allowed");
    in_flight.fetch_sub(1, Ordering::SeqCst);
    match end {
        End::Success => assert_eq!(guard.record(Outcome::Success), Recorded::Counted),
        End::Failure => assert_eq!(guard.record(Outcome::Failure), Recorded::Counted),
        End::Ignored => assert_eq!(guard.record(Outcome::Ignored), Recorded::Counted),
        End::Dropped => drop(guard),
        End::Panicked => {
            // `resume_unwind` unwinds without running the panic hook (no noise); the guard
            // is dropped while the thread is panicking.
            let result = catch_unwind(AssertUnwindSafe(move || {
                let _guard = guard;
                resume_unwind(Box::new("probe blew up"));
            }));
            assert!(result.is_err());
        }
    }
    true
}

/// Three threads race for two probe slots, entering `HalfOpen` together; each ends its probe
/// as `ends[i]`. Nothing decides the episode (required 3, many failures allowed), so
/// afterwards every slot must be free again.
fn half_open_admission(ends: [End; 3]) {
    const MAX: u32 = 2;
    let clock = FakeClock::new();
    let b = Arc::new(
        ComponentBreaker::new(
            "loom_half_open",
            config(MAX, MAX, 1000),
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    trip_and_cool(&b, &clock);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = ends[1..]
        .iter()
        .map(|&end| {
            let b = Arc::clone(&b);
            let in_flight = Arc::clone(&in_flight);
            thread::spawn(move || probe(&b, &in_flight, MAX as usize, end))
        })
        .collect();
    let mut admitted = usize::from(probe(&b, &in_flight, MAX as usize, ends[0]));
    for h in handles {
        admitted += usize::from(h.join().unwrap());
    }
    assert!(admitted >= MAX as usize, "{admitted} admitted");
    let snap = b.snapshot();
    assert_generation_counts_transitions(&snap);
    // Exactly one Open -> HalfOpen, however many callers saw the cooldown elapse.
    assert_eq!(
        transitions(&snap, CircuitState::Open, CircuitState::HalfOpen),
        1
    );
    // Counts are conserved: the setup failure plus one call per admission.
    assert_eq!(snap.calls, 1 + admitted as u64, "{snap:?}");
    assert_eq!(snap.rejections.total(), 3 - admitted as u64, "{snap:?}");

    if b.state() == CircuitState::HalfOpen {
        // Every slot came back: MAX probes are admitted again, and one more is refused.
        assert_eq!(snap.half_open_in_flight, 0, "{snap:?}");
        let probes: Vec<_> = (0..MAX)
            .map(|_| b.acquire().into_result().unwrap())
            .collect();
        assert!(probes.iter().all(|p| p.is_probe()));
        assert!(matches!(
            b.acquire().into_result().unwrap_err(),
            CircuitError::HalfOpenExhausted { .. }
        ));
    }
}

#[test]
fn half_open_admission_success_ignored_dropped() {
    model("half_open_admission_success_ignored_dropped", 2, || {
        half_open_admission([End::Success, End::Ignored, End::Dropped]);
    });
}

#[test]
fn half_open_admission_failure_panic_dropped() {
    model("half_open_admission_failure_panic_dropped", 2, || {
        half_open_admission([End::Failure, End::Panicked, End::Dropped]);
    });
}

/// A registry with one component `api` and an event log.
fn registry_with(config: CircuitConfig) -> (GlobalCircuitBreaker, FakeClock, Log) {
    let clock = FakeClock::new();
    let log = Log::default();
    let sink = log.clone();
    let registry = GlobalCircuitBreaker::builder()
        .config(config)
        .clock(clock.clone())
        .on_event(move |e| sink.push(e))
        .build()
        .unwrap();
    (registry, clock, log)
}

/// Events, collected outside loom's view (the hook runs outside every engine lock).
#[derive(Clone, Default)]
struct Log(Arc<StdMutex<Vec<Event>>>);

impl Log {
    fn push(&self, e: &Event) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e.clone());
    }

    fn moves(&self, component: &str) -> Vec<(CircuitState, CircuitState)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|e| match e {
                Event::StateChanged(t) if t.component == component => Some((t.from, t.to)),
                _ => None,
            })
            .collect()
    }

    fn reloads(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|e| matches!(e, Event::ConfigReloaded { .. }))
            .count()
    }
}

/// resilience4j #1432: several callers see the cooldown elapse at once. Exactly one of them
/// moves the breaker to `HalfOpen` (one event), and together they get exactly
/// `half_open_max_concurrent` probes: all permits are held until every caller has tried.
#[test]
fn open_to_half_open_under_concurrent_acquires() {
    model("open_to_half_open_under_concurrent_acquires", 3, || {
        let (registry, clock, log) = registry_with(config(2, 2, 0));
        let b = registry.register("api").unwrap();
        trip_and_cool(&b, &clock);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&b);
                thread::spawn(move || b.acquire_owned())
            })
            .collect();
        let mut permits = vec![b.acquire_owned()];
        permits.extend(handles.into_iter().map(|h| h.join().unwrap()));
        let admitted = permits.iter().filter(|p| p.is_allowed()).count();
        assert_eq!(admitted, 2, "{permits:?}");
        for p in &permits {
            match p {
                Permit::Allowed(g) => assert!(g.is_probe()),
                Permit::Rejected(e) => {
                    assert!(matches!(e, CircuitError::HalfOpenExhausted { .. }), "{e:?}")
                }
            }
        }
        assert_eq!(
            log.moves("api"),
            [
                (CircuitState::Closed, CircuitState::Open),
                (CircuitState::Open, CircuitState::HalfOpen)
            ]
        );
        let snap = b.snapshot();
        assert_eq!(snap.half_open_in_flight, 2);
        assert_eq!(snap.rejections.half_open_exhausted, 1);
        assert_generation_counts_transitions(&snap);
        drop(permits);
        assert_eq!(b.snapshot().half_open_in_flight, 0);
    });
}

/// Concurrent failures that each meet a trip rule (consecutive failures and the error rate)
/// open the breaker exactly once, with exactly one event, and every call is counted once:
/// as a failure, or as a rejection if the breaker had opened before it was admitted.
#[test]
fn closed_to_open_under_concurrent_failures() {
    model("closed_to_open_under_concurrent_failures", 3, || {
        let (registry, _clock, log) = registry_with(CircuitConfig {
            window_buckets: 1,
            min_calls: 2,
            error_rate_threshold: 0.5,
            consecutive_failures_threshold: Some(2),
            ..CircuitConfig::DEFAULT
        });
        let b = registry.register("api").unwrap();
        warm_up(&b);
        let fail = |b: &ComponentBreaker| match b.acquire() {
            Permit::Allowed(g) => {
                g.record(Outcome::Failure);
                true
            }
            Permit::Rejected(e) => {
                assert!(matches!(e, CircuitError::Open { .. }), "{e:?}");
                false
            }
        };
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let b = Arc::clone(&b);
                thread::spawn(move || fail(&b))
            })
            .collect();
        let mut admitted = u64::from(fail(&b));
        for h in handles {
            admitted += u64::from(h.join().unwrap());
        }
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(
            log.moves("api"),
            [(CircuitState::Closed, CircuitState::Open)]
        );
        let snap = b.snapshot();
        assert_generation_counts_transitions(&snap);
        assert_eq!(snap.failures, admitted);
        assert_eq!(snap.calls, 1 + admitted);
        assert_eq!(snap.rejections.open, 3 - admitted);
        assert!(admitted >= 2);
    });
}

/// Two probes decide the episode concurrently (one fails, one succeeds, either is enough):
/// exactly one transition leaves `HalfOpen`, and the backoff bookkeeping matches it.
#[test]
fn half_open_decides_once() {
    model("half_open_decides_once", 3, || {
        let clock = FakeClock::new();
        let b = Arc::new(
            ComponentBreaker::new("loom_decide", config(2, 1, 0), Arc::new(clock.clone())).unwrap(),
        );
        trip_and_cool(&b, &clock);
        let first = b.acquire_owned().into_result().unwrap();
        let second = b.acquire_owned().into_result().unwrap();
        let h = thread::spawn(move || second.record(Outcome::Success));
        let mine = first.record(Outcome::Failure);
        let theirs = h.join().unwrap();
        // Whichever recorded first decided; the other may have come after the transition.
        assert!(mine == Recorded::Counted || theirs == Recorded::Counted);
        let snap = b.snapshot();
        assert_generation_counts_transitions(&snap);
        let closed = transitions(&snap, CircuitState::HalfOpen, CircuitState::Closed);
        let reopened = transitions(&snap, CircuitState::HalfOpen, CircuitState::Open);
        assert_eq!(closed + reopened, 1, "{snap:?}");
        match snap.state {
            CircuitState::Closed => assert_eq!(closed, 1),
            CircuitState::Open => {
                assert_eq!(reopened, 1);
                // One re-open: the cooldown doubled.
                assert_eq!(snap.retry_after, Some(COOLDOWN * 2));
            }
            other => panic!("unexpected state {other:?}"),
        }
    });
}

/// `half_open_max_wait` expires while a probe is still out: an acquire times the episode out
/// while the probe reports success. Exactly one of them ends the episode.
#[test]
fn half_open_timeout_races_a_probe() {
    model("half_open_timeout_races_a_probe", 3, || {
        let clock = FakeClock::new();
        let b = Arc::new(
            ComponentBreaker::new(
                "loom_timeout",
                CircuitConfig {
                    half_open_max_wait: Some(COOLDOWN),
                    ..config(1, 1, 0)
                },
                Arc::new(clock.clone()),
            )
            .unwrap(),
        );
        trip_and_cool(&b, &clock);
        let probe = b.acquire_owned().into_result().unwrap();
        clock.advance(COOLDOWN);
        let h = thread::spawn(move || probe.record(Outcome::Success));
        let permit = b.acquire();
        let recorded = h.join().unwrap();
        let snap = b.snapshot();
        assert_generation_counts_transitions(&snap);
        let closed = transitions(&snap, CircuitState::HalfOpen, CircuitState::Closed);
        let timed_out = transitions(&snap, CircuitState::HalfOpen, CircuitState::Open);
        assert_eq!(closed + timed_out, 1, "{snap:?}");
        match permit {
            // The probe closed the breaker first: a plain call.
            Permit::Allowed(g) => {
                assert_eq!(closed, 1);
                assert!(!g.is_probe());
                drop(g);
            }
            // The acquire saw the episode overrun and re-opened it (the probe's success may
            // still have counted if it was recorded before the transition, but it did not
            // decide anything).
            Permit::Rejected(CircuitError::Open { .. }) => {
                assert_eq!(timed_out, 1);
                let _ = recorded;
            }
            // The acquire read `HalfOpen` just before the probe's success closed it: the
            // episode had decided, and callers are refused until the state says so.
            Permit::Rejected(CircuitError::HalfOpenExhausted { .. }) => {
                assert_eq!(closed, 1);
                assert_eq!(recorded, Recorded::Counted);
            }
            Permit::Rejected(e) => panic!("unexpected rejection {e:?}"),
        }
    });
}

/// A reload (new thresholds, a new rolling window so the bucket width changes and the window
/// is re-bucketed, slow-call detection turned on) runs while a failing call records. No count
/// is lost, exactly one reload event is emitted, and afterwards the new config is in force.
#[test]
fn config_swap_during_calls() {
    model("config_swap_during_calls", 3, || {
        let before = CircuitConfig {
            window_buckets: 1,
            min_calls: 3,
            ..CircuitConfig::DEFAULT
        };
        let after = CircuitConfig {
            window_buckets: 1,
            min_calls: 1,
            rolling_window: Duration::from_secs(20),
            slow_call_threshold: Some(Duration::from_secs(5)),
            error_rate_threshold: 0.5,
            ..CircuitConfig::DEFAULT
        };
        let (registry, _clock, log) = registry_with(before);
        let b = registry.register("api").unwrap();
        warm_up(&b);
        let registry = Arc::new(registry);
        let reloader = {
            let registry = Arc::clone(&registry);
            thread::spawn(move || registry.reload(after).unwrap())
        };
        b.acquire().into_result().unwrap().record(Outcome::Failure);
        reloader.join().unwrap();
        assert_eq!(log.reloads(), 1);
        assert_eq!(b.config(), after);
        let snap = b.snapshot();
        assert_generation_counts_transitions(&snap);
        assert_eq!((snap.calls, snap.failures, snap.ignored), (2, 1, 1));
        assert!(snap.window.calls <= 1);
        match snap.state {
            // The failure was evaluated under the new `min_calls: 1`.
            CircuitState::Open => assert_eq!(
                log.moves("api"),
                [(CircuitState::Closed, CircuitState::Open)]
            ),
            // Evaluated under the old config (or it raced the reload and went to the totals
            // only): the new `min_calls: 1` is in force now, so one more failure trips.
            CircuitState::Closed => {
                b.acquire().into_result().unwrap().record(Outcome::Failure);
                assert_eq!(b.state(), CircuitState::Open);
            }
            other => panic!("unexpected state {other:?}"),
        }
    });
}

/// Fuse conditions: two components, both must be unhealthy.
fn fuse_registry(ratio: f32) -> (GlobalCircuitBreaker, FakeClock, Log) {
    registry_with(CircuitConfig {
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: ratio,
            min_components: 2,
            min_calls: 0,
        },
        ..config(1, 1, 0)
    })
}

/// After the dust settles, the fuse is what the table says for the components' final
/// states, and its tally matches them.
fn assert_fuse_derived(registry: &GlobalCircuitBreaker, log: &Log, ratio: f32) {
    let snap = registry.snapshot();
    let unhealthy = snap
        .components
        .iter()
        .filter(|c| c.state.is_unhealthy())
        .count();
    assert_eq!(snap.unhealthy as usize, unhealthy, "{snap:?}");
    let open = unhealthy as f32 / snap.components.len() as f32 >= ratio;
    let expected = if open {
        CircuitState::Open
    } else {
        CircuitState::Closed
    };
    assert_eq!(registry.global().state(), expected, "{snap:?}");
    // The fuse's events alternate and end in its state.
    let moves = log.moves(breaker::GLOBAL);
    for pair in moves.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "{moves:?}");
    }
    assert_eq!(moves.last().map_or(CircuitState::Closed, |m| m.1), expected);
    assert_generation_counts_transitions(&snap.global);
}

/// One component trips while the other is reset: the fuse (both unhealthy) may open for a
/// moment, but ends closed, with a tally of exactly one unhealthy component.
#[test]
fn fuse_derivation_trip_and_reset() {
    model("fuse_derivation_trip_and_reset", 3, || {
        let (registry, _clock, log) = fuse_registry(1.0);
        let a = registry.register("a").unwrap();
        let b = registry.register("b").unwrap();
        a.acquire().into_result().unwrap().record(Outcome::Failure);
        let h = {
            let b = Arc::clone(&b);
            thread::spawn(move || {
                if let Permit::Allowed(g) = b.acquire() {
                    g.record(Outcome::Failure);
                }
            })
        };
        a.reset();
        h.join().unwrap();
        assert_eq!(a.state(), CircuitState::Closed);
        assert_eq!(b.state(), CircuitState::Open);
        assert_fuse_derived(&registry, &log, 1.0);
    });
}

/// One component trips while the other recovers through a probe (half-open components keep
/// probing while the fuse is open): the fuse may open while both are unhealthy, and ends
/// closed.
#[test]
fn fuse_derivation_trip_and_recover() {
    model("fuse_derivation_trip_and_recover", 3, || {
        let (registry, clock, log) = fuse_registry(1.0);
        let a = registry.register("a").unwrap();
        let b = registry.register("b").unwrap();
        trip_and_cool(&a, &clock);
        let h = {
            let b = Arc::clone(&b);
            thread::spawn(move || match b.acquire() {
                Permit::Allowed(g) => {
                    g.record(Outcome::Failure);
                }
                Permit::Rejected(e) => {
                    assert!(matches!(e, CircuitError::GlobalOpen { .. }), "{e:?}")
                }
            })
        };
        // `a` is open with its cooldown over: this acquire moves it to HalfOpen and probes,
        // whatever the fuse says.
        let probe = a.acquire().into_result().unwrap();
        assert!(probe.is_probe());
        probe.record(Outcome::Success);
        h.join().unwrap();
        assert_eq!(a.state(), CircuitState::Closed);
        assert_eq!(b.state(), CircuitState::Open);
        assert_fuse_derived(&registry, &log, 1.0);
    });
}

/// Reads the fuse's state, then acquires from `member`: once the fuse has been seen open, the
/// call must be refused with `GlobalOpen`.
fn admit_unless_seen_open(registry: &GlobalCircuitBreaker, member: &ComponentBreaker) {
    let fuse_was_open = registry.global().state() == CircuitState::Open;
    match member.acquire() {
        Permit::Allowed(guard) => {
            assert!(
                !fuse_was_open,
                "{} admitted a call after the fuse was seen open",
                member.name()
            );
            guard.record(Outcome::Ignored);
        }
        Permit::Rejected(e) => assert!(matches!(e, CircuitError::GlobalOpen { .. }), "{e:?}"),
    }
}

/// The fuse's gate: the fuse opening (a component trips) races a `Closed` admission of an
/// old member and a new member's registration followed by its first admission. The fuse
/// holds its gate over every member before it publishes `Open`, and a member registered
/// meanwhile takes the gate under the members' lock, so no admission happens after the fuse
/// is observably open and the member registered; once the dust settles, both members are
/// gated. (Holding the gates only after publishing `Open` fails the first check; a member
/// added during the sweep without taking the gate fails the second.) The registration runs
/// on the main thread while the others run, which touches the registry's map; no other
/// thread does, so loom not seeing the map loses nothing.
#[test]
fn fuse_gate_races_a_registration_and_an_admission() {
    model("fuse_gate_races_a_registration_and_an_admission", 3, || {
        // One unhealthy component of two (or three, with the new one) opens the fuse.
        let (registry, _clock, log) = registry_with(CircuitConfig {
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: 0.3,
                min_components: 2,
                min_calls: 0,
            },
            ..config(1, 1, 0)
        });
        let registry = Arc::new(registry);
        let a = registry.register("a").unwrap();
        let b = registry.register("b").unwrap();
        warm_up(&a);
        warm_up(&b);
        let tripper = {
            let a = Arc::clone(&a);
            thread::spawn(move || {
                a.acquire().into_result().unwrap().record(Outcome::Failure);
            })
        };
        // A member that was there all along, while the fuse may be sweeping its members.
        let observer = {
            let (registry, b) = (Arc::clone(&registry), Arc::clone(&b));
            thread::spawn(move || admit_unless_seen_open(&registry, &b))
        };
        // A member registered while the fuse may be opening (its registration re-derives
        // the fuse, after the trip's derivation or before it).
        let c = registry.register("c").unwrap();
        admit_unless_seen_open(&registry, &c);
        tripper.join().unwrap();
        observer.join().unwrap();
        assert_eq!(a.state(), CircuitState::Open);
        assert_eq!(registry.global().state(), CircuitState::Open);
        for member in [&b, &c] {
            assert!(
                matches!(
                    member.acquire(),
                    Permit::Rejected(CircuitError::GlobalOpen { .. })
                ),
                "{} is not gated by the open fuse",
                member.name()
            );
        }
        assert_fuse_derived(&registry, &log, 0.3);
    });
}

/// Manual control races calls: `force_open`, `reset` and a failing call. Nothing deadlocks,
/// every transition bumps the generation once, and the breaker ends in a state one of them
/// explains.
#[test]
fn manual_control_during_calls() {
    model("manual_control_during_calls", 2, || {
        let clock = FakeClock::new();
        let b = Arc::new(
            ComponentBreaker::new("loom_manual", config(1, 1, 0), Arc::new(clock)).unwrap(),
        );
        let forcer = {
            let b = Arc::clone(&b);
            thread::spawn(move || b.force_open())
        };
        let caller = {
            let b = Arc::clone(&b);
            thread::spawn(move || match b.acquire() {
                Permit::Allowed(g) => {
                    g.record(Outcome::Failure);
                    true
                }
                Permit::Rejected(_) => false,
            })
        };
        b.reset();
        forcer.join().unwrap();
        let admitted = caller.join().unwrap();
        let snap = b.snapshot();
        assert_generation_counts_transitions(&snap);
        assert_eq!(snap.calls + snap.rejections.total(), 1);
        assert_eq!(snap.failures, u64::from(admitted));
        assert!(
            matches!(
                snap.state,
                CircuitState::Closed | CircuitState::Open | CircuitState::ForcedOpen
            ),
            "{snap:?}"
        );
        // reset always transitions, force_open at most once.
        assert_eq!(
            transitions(&snap, CircuitState::Closed, CircuitState::Closed)
                + transitions(&snap, CircuitState::ForcedOpen, CircuitState::Closed)
                + transitions(&snap, CircuitState::Open, CircuitState::Closed),
            1,
            "{snap:?}"
        );
    });
}

/// Issue 9: lifetime totals are `retired + buckets`, and a writer that claims a bucket for a
/// new epoch moves the bucket's counts into `retired`. A snapshot racing that move must never
/// report less than an earlier snapshot did (Prometheus reads a drop as a counter reset), nor
/// more than was recorded (the move must not be seen twice).
///
/// One 10 s bucket holding the warm-up call; 10 s later a success claims it, retiring the
/// warm-up call, while the main thread takes two snapshots.
#[test]
fn totals_stay_monotonic_while_a_bucket_retires() {
    model("totals_stay_monotonic_while_a_bucket_retires", 2, || {
        let clock = FakeClock::new();
        let b = Arc::new(
            ComponentBreaker::new(
                "loom_totals",
                CircuitConfig {
                    rolling_window: Duration::from_secs(10),
                    ..config(1, 1, 0)
                },
                Arc::new(clock.clone()),
            )
            .unwrap(),
        );
        warm_up(&b);
        clock.advance(Duration::from_secs(10));
        let writer = {
            let b = Arc::clone(&b);
            thread::spawn(move || b.acquire().into_result().unwrap().record(Outcome::Success))
        };
        let first = b.snapshot();
        let second = b.snapshot();
        writer.join().unwrap();
        let last = b.snapshot();
        for (earlier, later) in [(&first, &second), (&second, &last)] {
            assert!(
                earlier.calls <= later.calls && earlier.ignored <= later.ignored,
                "a total went down: {} then {} calls, {} then {} ignored",
                earlier.calls,
                later.calls,
                earlier.ignored,
                later.ignored
            );
        }
        assert!(second.calls <= 2, "over-reported: {second:?}");
        assert_eq!((last.successes, last.ignored, last.calls), (1, 1, 2));
    });
}

/// Issue 9: a reload that changes the bucket width races a call. The call may miss the window
/// (it overlapped the reload) but not the totals, and afterwards no bucket refuses calls.
///
/// Regression: the racer computed its epoch with the old width (at 15 s: epoch 1 of 10 s)
/// after the reload had restarted the window at epoch 0 of the new width, tagged the bucket
/// with it, and every later call saw a "newer" bucket and went to the totals only.
#[test]
fn geometry_reload_races_a_call() {
    model("geometry_reload_races_a_call", 3, || {
        let before = CircuitConfig {
            window_buckets: 1,
            min_calls: 100,
            ..CircuitConfig::DEFAULT
        };
        let after = CircuitConfig {
            rolling_window: Duration::from_secs(20),
            ..before
        };
        let (registry, clock, _log) = registry_with(before);
        let b = registry.register("api").unwrap();
        warm_up(&b);
        clock.advance(Duration::from_secs(15));
        let registry = Arc::new(registry);
        let reloader = {
            let registry = Arc::clone(&registry);
            thread::spawn(move || registry.reload(after).unwrap())
        };
        b.acquire().into_result().unwrap().record(Outcome::Success);
        reloader.join().unwrap();
        let raced = b.snapshot();
        assert_eq!((raced.calls, raced.successes), (2, 1), "{raced:?}");
        assert!(raced.window.calls <= 1, "{raced:?}");
        b.acquire().into_result().unwrap().record(Outcome::Success);
        let snap = b.snapshot();
        assert_eq!(snap.calls, 3);
        assert_eq!(
            snap.window.calls,
            raced.window.calls + 1,
            "a bucket dropped a call recorded after the reload: {snap:?}"
        );
    });
}

/// A keyed family in a registry of its own, keys on `config(1, 1, 0)` with one bucket, an
/// idle TTL of one cooldown.
fn family_registry() -> (GlobalCircuitBreaker, Arc<breaker::Family>, FakeClock) {
    let (registry, clock, _log) = registry_with(config(1, 1, 0));
    let family = registry
        .register_family_with(
            "hosts",
            FamilyConfig {
                idle_ttl: COOLDOWN,
                ..FamilyConfig::DEFAULT
            },
            config(1, 1, 0),
        )
        .unwrap();
    (registry, family, clock)
}

/// Two threads create the same key at once: one breaker, one live key. (The calls are made
/// after the join: a stripe allocated by one model thread and used by another is a false
/// causality report, see `warm_up`.)
#[test]
fn family_create_vs_create() {
    model("family_create_vs_create", 3, || {
        let (_registry, family, _clock) = family_registry();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let family = Arc::clone(&family);
                thread::spawn(move || {
                    let key = family.key("k").unwrap();
                    Arc::clone(key.breaker())
                })
            })
            .collect();
        let breakers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(
            Arc::ptr_eq(&breakers[0], &breakers[1]),
            "one breaker per key"
        );
        assert_eq!(family.live(), 1);
        assert!(Arc::ptr_eq(&family.get("k").unwrap(), &breakers[0]));
    });
}

/// An idle key is evicted while a thread is about to acquire it, and while it holds the
/// guard as time passes: a held key is never evicted (it is in the map, the same breaker, for
/// as long as the guard lives), and eviction before the acquire means a clean re-creation. The
/// call's outcome is counted either way.
#[test]
fn family_evict_vs_acquire() {
    model("family_evict_vs_acquire", 3, || {
        let (_registry, family, clock) = family_registry();
        warm_up(family.key("k").unwrap().breaker());
        clock.advance(COOLDOWN * 4);
        let caller = {
            let (family, clock) = (Arc::clone(&family), clock.clone());
            thread::spawn(move || {
                let guard = family.acquire("k").into_result().unwrap();
                // Idle again for the eviction's clock, but held.
                clock.advance(COOLDOWN * 4);
                let live = family.get("k").expect("a held key is in the map");
                assert!(
                    std::ptr::eq(&*live, guard.breaker()),
                    "and it is the same breaker"
                );
                drop(live);
                guard.record(Outcome::Success)
            })
        };
        let evicted = family.evict_idle();
        assert_eq!(caller.join().unwrap(), Recorded::Counted);
        assert_eq!(family.evictions(), evicted as u64);
        match family.get("k") {
            Some(live) => assert_eq!(
                live.snapshot().successes,
                1,
                "the live key holds the outcome"
            ),
            None => assert_eq!(family.live(), 0, "evicted once the call was over"),
        }
    });
}

/// The count window (issue 14): a failure of the first episode races the `reset` that starts
/// the next. Whichever order loom picks (the record before the reset's new state word, between
/// its store of the ring's episode and its emptying of the ring, or after), the new episode's
/// window is empty and the totals hold both outcomes.
#[test]
fn count_window_reset_races_a_record() {
    model("count_window_reset_races_a_record", 3, || {
        let b = Arc::new(
            ComponentBreaker::new(
                "loom_count",
                CircuitConfig {
                    sample_weighting: breaker::SampleWeighting::Count,
                    window_calls: 2,
                    error_rate_threshold: 1.0,
                    ..CircuitConfig::DEFAULT
                },
                Arc::new(FakeClock::new()),
            )
            .unwrap(),
        );
        // Allocates the ring (OnceBox is not loom's) before any thread runs.
        b.acquire().into_result().unwrap().record(Outcome::Success);
        let guard = b.acquire_owned().into_result().unwrap();
        let writer = thread::spawn(move || guard.record(Outcome::Failure));
        b.reset();
        let recorded = writer.join().unwrap();
        let snap = b.snapshot();
        assert_eq!(snap.window.calls, 0, "{recorded:?} left {:?}", snap.window);
        assert_eq!((snap.successes, snap.failures), (1, 1), "{recorded:?}");
    });
}
