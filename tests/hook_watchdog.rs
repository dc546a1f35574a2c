#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Hooks run outside every lock and every once-only initialisation, on every path that emits
//! an event: a hook that calls back into the registry (acquires the same component or
//! handle, takes a snapshot, registers another component) never hangs the operation that
//! fired it. Each operation runs on its own thread and must finish within a deadline.
//!
//! Only `handle_initialisation` uses the process-wide registry.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, FakeClock, GlobalCircuitBreaker, GlobalTripConditions, Outcome,
    Permit,
};

breaker::breakers! {
    /// Needs two probes: conflicts with registries that allow one, so declaring it reports.
    watched_api { half_open_required_successes: 2 },
}

const DEADLINE: Duration = Duration::from_secs(20);
const COOLDOWN: Duration = Duration::from_secs(10);

/// One probe at a time: `watched_api` conflicts with these defaults.
const DEFAULTS: CircuitConfig = CircuitConfig {
    min_calls: 2,
    open_cooldown: COOLDOWN,
    half_open_max_concurrent: 1,
    half_open_required_successes: 1,
    global_trip_conditions: GlobalTripConditions {
        component_open_ratio: 0.5,
        min_components: 3,
        min_calls: 0,
    },
    ..CircuitConfig::DEFAULT
};

/// Runs `f` on its own thread and waits at most `DEADLINE` for it.
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(DEADLINE).unwrap_or_else(|e| {
        panic!("{what} did not complete within {DEADLINE:?} ({e}): a hook deadlocked it")
    })
}

struct Fixture {
    registry: Arc<GlobalCircuitBreaker>,
    clock: FakeClock,
    /// How many events the re-entrant hook handled.
    seen: Arc<AtomicUsize>,
}

impl Fixture {
    fn seen(&self) -> usize {
        self.seen.load(SeqCst)
    }
}

/// A registry with a hook that, on every event (the first 200), acquires `component`, takes
/// a snapshot, reads the config and registers `hook_other`.
fn fixture(component: &'static str) -> Fixture {
    fixture_on(DEFAULTS, component)
}

fn fixture_on(defaults: CircuitConfig, component: &'static str) -> Fixture {
    let clock = FakeClock::new();
    let registry = Arc::new(
        GlobalCircuitBreaker::builder()
            .config(defaults)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let seen = reenter(&registry, component);
    Fixture {
        registry,
        clock,
        seen,
    }
}

fn reenter(registry: &Arc<GlobalCircuitBreaker>, component: &'static str) -> Arc<AtomicUsize> {
    let weak: Weak<GlobalCircuitBreaker> = Arc::downgrade(registry);
    let seen = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&seen);
    registry.on_event(move |_| {
        let Some(registry) = weak.upgrade() else {
            return;
        };
        // Bounded: the calls below may themselves emit events.
        if count.fetch_add(1, SeqCst) >= 200 {
            return;
        }
        if let Permit::Allowed(guard) = breaker::Breaker::acquire(&*registry, component) {
            guard.record(Outcome::Ignored);
        }
        let _ = registry.snapshot();
        let _ = registry.config();
        let _ = registry.component(component).map(|b| b.config());
        let _ = registry.register("hook_other");
        let _ = breakers::watched_api.in_registry(&registry).state();
    });
    seen
}

fn fail_twice(registry: &GlobalCircuitBreaker, name: &str) {
    let b = registry.component(name).unwrap();
    for _ in 0..2 {
        if let Permit::Allowed(g) = b.acquire() {
            g.record(Outcome::Failure);
        }
    }
}

/// Runs `op` against the fixture's registry under the deadline and checks the hook ran.
fn check(f: &Fixture, what: &str, op: impl FnOnce(&GlobalCircuitBreaker) + Send + 'static) {
    let before = f.seen();
    let registry = Arc::clone(&f.registry);
    within_deadline(what, move || op(&registry));
    assert!(
        f.seen() > before,
        "{what} emitted no event, so it tested nothing"
    );
}

#[test]
fn register_and_the_fuse_derivation_it_triggers() {
    // The hook registers `hook_other` and `watched_api` at the first event: with `a` and
    // `b` tripped that is 2 of 4 unhealthy, below `min_components`; `c` makes 2 of 5.
    let f = fixture_on(
        CircuitConfig {
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: 0.4,
                min_components: 5,
                min_calls: 0,
            },
            ..DEFAULTS
        },
        "a",
    );
    f.registry.register("a").unwrap();
    f.registry.register("b").unwrap();
    fail_twice(&f.registry, "a");
    fail_twice(&f.registry, "b");
    assert_eq!(f.registry.components().len(), 4);
    assert_eq!(f.registry.global().state(), CircuitState::Closed);
    let f_seen = f.seen();
    let registry = Arc::clone(&f.registry);
    within_deadline("register", move || {
        registry.register("c").unwrap();
    });
    assert!(f.seen() > f_seen);
    assert_eq!(f.registry.global().state(), CircuitState::Open);
}

#[test]
fn register_with() {
    let f = fixture("rw");
    f.registry.register("rw").unwrap();
    check(&f, "register_with (accepted)", |r| {
        r.register_with("rw", DEFAULTS).unwrap();
    });
    check(&f, "register_with (refused)", |r| {
        let bad = CircuitConfig {
            min_calls: 0,
            ..DEFAULTS
        };
        r.register_with("rw", bad).unwrap_err();
    });
}

#[test]
fn declare_into_a_registry() {
    let f = fixture("watched_api");
    check(&f, "declare_manifest", |r| {
        breakers::watched_api.declare_manifest(r);
    });
}

#[test]
fn reload_and_reload_component() {
    let f = fixture("rl");
    f.registry.register("rl").unwrap();
    check(&f, "reload (accepted)", |r| r.reload(DEFAULTS).unwrap());
    check(&f, "reload (refused)", |r| {
        r.reload(CircuitConfig {
            min_calls: 0,
            ..DEFAULTS
        })
        .unwrap_err();
    });
    check(&f, "reload_component (accepted)", |r| {
        r.reload_component("rl", DEFAULTS).unwrap();
    });
    check(&f, "reload_component (refused)", |r| {
        r.reload_component(
            "rl",
            CircuitConfig {
                min_calls: 0,
                ..DEFAULTS
            },
        )
        .unwrap_err();
    });
}

#[test]
fn file_reloads() {
    let f = fixture("fl");
    f.registry.register("fl").unwrap();
    check(&f, "reload_from_str (accepted)", |r| {
        r.reload_from_str("[components.fl]\nmin_calls = 3\n")
            .unwrap();
    });
    check(&f, "reload_from_str (refused)", |r| {
        r.reload_from_str("[components.fl]\nmin_calls = 0\n")
            .unwrap_err();
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, "[defaults]\nmin_calls = 4\n").unwrap();
    let p = path.clone();
    check(&f, "reload_from_path (accepted)", move |r| {
        r.reload_from_path(&p).unwrap();
    });
    std::fs::write(&path, "[defaults]\nmin_calls = -1\n").unwrap();
    check(&f, "reload_from_path (refused)", move |r| {
        r.reload_from_path(&path).unwrap_err();
    });
}

#[test]
fn transitions_on_record_and_on_acquire() {
    let f = fixture("tr");
    f.registry.register("tr").unwrap();
    check(&f, "record (Closed -> Open)", |r| fail_twice(r, "tr"));
    f.clock.advance(COOLDOWN);
    check(&f, "acquire (Open -> HalfOpen)", |r| {
        if let Permit::Allowed(g) = r.component("tr").unwrap().acquire() {
            g.record(Outcome::Success);
        }
    });
}

#[test]
fn manual_control_of_a_component_and_of_the_fuse() {
    let f = fixture("mc");
    f.registry.register("mc").unwrap();
    check(&f, "force_open", |r| {
        r.component("mc").unwrap().force_open()
    });
    check(&f, "disable", |r| r.component("mc").unwrap().disable());
    check(&f, "reset", |r| r.component("mc").unwrap().reset());
    check(&f, "force_open the fuse", |r| r.global().force_open());
    check(&f, "reset the fuse", |r| r.global().reset());
}

/// The process-wide registry: the first use of a handle declares the manifest inside the
/// handle's once-only initialisation. `watched_api` conflicts with these defaults, so
/// declaring it emits `ConfigRefused`; the hook reads the same handle. It used to wait for
/// the initialisation it was called from, forever.
#[test]
fn handle_initialisation() {
    let seen = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&seen);
    let registry = GlobalCircuitBreaker::builder()
        .config(DEFAULTS)
        .clock(FakeClock::new())
        .on_event(move |_| {
            if count.fetch_add(1, SeqCst) < 50 {
                let _ = breakers::watched_api.state();
                let _ = breakers::watched_api.snapshot();
                let _ = breaker::registry().register("hook_other");
            }
        })
        .build()
        .unwrap();
    breaker::install(registry).unwrap();
    let state = within_deadline("the first use of a handle", || {
        breakers::watched_api.state()
    });
    assert_eq!(state, CircuitState::Closed);
    assert!(
        seen.load(SeqCst) > 0,
        "declaring watched_api emitted no event"
    );
    assert_eq!(
        breakers::watched_api.config().half_open_required_successes,
        2
    );
}
