#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Hooks run outside every lock and every once-only initialisation, on every path that emits
//! an event: a hook that calls back into the registry (acquires the same component or
//! handle, takes a snapshot, registers another component) never hangs the operation that
//! fired it. Each operation runs on its own thread and must finish within a deadline.
//!
//! Only `handle_initialisation` uses the process-wide registry.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, Event, FakeClock, GlobalCircuitBreaker,
    GlobalTripConditions, Outcome, Permit,
};
use breaker_suite::eventually;
use breaker_suite::{fuse_at_half_of_three, EventLog};

breaker::breakers! {
    /// Needs two probes: conflicts with registries that allow one, so declaring it reports.
    watched_api { half_open_required_successes: 2 },
}

const DEADLINE: Duration = Duration::from_secs(20);
const COOLDOWN: Duration = Duration::from_secs(10);

/// One probe at a time: `watched_api` conflicts with these defaults.
const DEFAULTS: CircuitConfig = fuse_at_half_of_three(COOLDOWN);

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
    check(&f, "breakers::declare", |r| {
        breakers::declare(r).unwrap();
    });
    // Over a name registered on the defaults: `ConfigReloaded` (and the conflict's
    // `ConfigRefused`) for a breaker that already exists.
    let f = fixture("watched_api");
    f.registry.register("watched_api").unwrap();
    check(&f, "breakers::declare over a registered name", |r| {
        breakers::declare(r).unwrap();
    });
    // Over a whole config in code: `ManifestEntryIgnored`.
    let f = fixture("watched_api");
    f.registry.register_with("watched_api", DEFAULTS).unwrap();
    check(&f, "breakers::declare over register_with", |r| {
        breakers::declare(r).unwrap();
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

// ---------------------------------------------------------------------------------------------
// A hook that calls back in every way, from every event; hooks on the watcher's thread; panicking hooks.
// ---------------------------------------------------------------------------------------------

/// Components the hooks below use, declared from inside a hook or by the operations.
mod callbacks {
    breaker::breakers! {
        /// Registered by name (a tower layer's `for_component`) before the manifest is declared.
        late_db { error_rate_threshold: 0.3, min_calls: 7 },
        /// Needs two probes: conflicts with defaults that allow one.
        two_probes { half_open_required_successes: 2 },
    }
}

fn arc_registry_on(config: CircuitConfig) -> (FakeClock, Arc<GlobalCircuitBreaker>, EventLog) {
    let (clock, registry, log) = breaker_suite::registry(config);
    (clock, Arc::new(registry), log)
}

fn record(b: &ComponentBreaker, outcome: Outcome, times: u32) {
    for _ in 0..times {
        breaker_suite::call(b, outcome);
    }
}

/// One hook, on every event, calls back into the registry in every way it can: acquires the
/// event's component, snapshots, reads the config and the file, registers another component,
/// reloads that component, and on `FileReloaded` / `FileRefused` loads another file itself (a
/// bounded number of times). Every operation that emits an event runs under a deadline.
#[test]
fn a_hook_that_calls_back_into_the_registry_from_every_event_never_hangs() {
    let (clock, registry, _log) = arc_registry_on(CircuitConfig {
        min_calls: 2,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        consecutive_failures_threshold: Some(2),
        global_trip_conditions: breaker::GlobalTripConditions {
            component_open_ratio: 0.5,
            min_components: 1,
            min_calls: 0,
        },
        ..CircuitConfig::DEFAULT
    });
    let calls = Arc::new(AtomicUsize::new(0));
    let weak = Arc::downgrade(&registry);
    {
        let calls = Arc::clone(&calls);
        registry.on_event(move |event| {
            let Some(r) = weak.upgrade() else { return };
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n > 400 {
                return;
            }
            let component = match event {
                Event::StateChanged(t) => Some(t.component.clone()),
                Event::ConfigReloaded { component } | Event::ConfigRefused { component, .. } => {
                    component.clone()
                }
                _ => None,
            };
            if let Some(c) = component.filter(|c| *c != breaker::GLOBAL) {
                if let Ok(g) = breaker::Breaker::acquire(&*r, &c).into_result() {
                    g.record(Outcome::Success);
                }
                let _ = r.component(&c).map(|b| b.snapshot());
            }
            let _ = (
                r.snapshot(),
                r.config(),
                r.config_file(),
                r.components(),
                r.is_strict(),
            );
            let _ = r.global().snapshot();
            let side = r.register("hook_side").unwrap();
            let _ = side.acquire();
            if n.is_multiple_of(7) {
                let _ = r.reload_component("hook_side", r.config());
            }
            if matches!(
                event,
                Event::FileReloaded { .. } | Event::FileRefused { .. }
            ) && n < 50
            {
                let _ = r.reload_from_str("[defaults]\nmin_calls = 2\n");
                let _ = r.reload_from_str("[defaults]\nmin_calls = 0\n");
            }
            let _ = callbacks::breakers::late_db.in_registry(&r);
        });
    }
    let r = Arc::clone(&registry);
    within_deadline("every path that emits", move || {
        let a = r.register("a").unwrap();
        r.register_with("b", r.config()).unwrap();
        r.reload(r.config()).unwrap();
        r.reload_component("b", r.config()).unwrap();
        let _ = r.reload_component(
            "b",
            CircuitConfig {
                min_calls: 0,
                ..CircuitConfig::DEFAULT
            },
        );
        r.reload_from_str("[defaults]\nmin_calls = 2\n").unwrap();
        let _ = r.reload_from_str("[defaults]\nmin_calls = 0\n");
        callbacks::breakers::declare(&r).unwrap();
        record(&a, Outcome::Failure, 2); // opens a, then the fuse
        clock.advance(Duration::from_secs(600));
        record(&a, Outcome::Success, 1); // half-open, probe, closed
        a.force_open();
        a.disable();
        a.reset();
        r.global().force_open();
        r.global().reset();
    });
    assert!(calls.load(Ordering::SeqCst) > 10);
}

/// A hook that loads a file from inside the watcher's own `FileReloaded` (on notify's thread)
/// must not hang the watcher: the next edit still reloads.
#[test]
fn a_hook_that_reloads_from_inside_the_watchers_event_does_not_stall_the_watcher() {
    let (_clock, registry, log) = arc_registry_on(CircuitConfig::DEFAULT);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, "[defaults]\nmin_calls = 5\n").unwrap();
    let weak = Arc::downgrade(&registry);
    let nested = Arc::new(AtomicUsize::new(0));
    let test_thread = std::thread::current().id();
    thread_local! {
        static INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    {
        let nested = Arc::clone(&nested);
        let path = path.clone();
        registry.on_event(move |e| {
            let on_watcher = std::thread::current().id() != test_thread;
            if let (Event::FileReloaded { path: Some(p), .. }, Some(r)) = (e, weak.upgrade()) {
                if p == &path && on_watcher && !INSIDE.with(std::cell::Cell::get) {
                    INSIDE.with(|i| i.set(true));
                    nested.fetch_add(1, Ordering::SeqCst);
                    let _ = r.reload_from_path(&path);
                    let _ = r.reload_from_str("[defaults]\nmin_calls = 0\n");
                    INSIDE.with(|i| i.set(false));
                }
            }
        });
    }
    let (_watcher, _) = breaker::watch_with(
        Arc::clone(&registry),
        &path,
        breaker::WatchOptions::new().debounce(Duration::from_millis(100)),
    )
    .unwrap();
    let tmp = dir.path().join("breakers.toml.new");
    std::fs::write(&tmp, "[defaults]\nmin_calls = 6\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || registry.config().min_calls == 6),
        "{:?}",
        log.events()
    );
    std::fs::write(&tmp, "[defaults]\nmin_calls = 7\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(eventually(Duration::from_secs(10), || registry
        .config()
        .min_calls
        == 7));
    // The hook's own `reload_from_path` may put 7 in force before the watcher reads it;
    // the watcher still reloads it (its last bytes were 6), on its thread.
    assert!(
        eventually(Duration::from_secs(10), || nested.load(Ordering::SeqCst)
            >= 2),
        "the hook ran on the watcher's thread for both edits"
    );
}

/// A hook that stops the watch from inside the watcher's own `FileRefused` (drops the
/// `ConfigWatcher` on notify's thread, "stop watching after a bad file") returns, and no
/// later edit is loaded.
#[test]
fn a_hook_that_drops_the_watcher_from_inside_its_event_returns() {
    let (_clock, registry, _log) = arc_registry_on(CircuitConfig::DEFAULT);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, "[defaults]\nmin_calls = 5\n").unwrap();
    let slot: Arc<std::sync::Mutex<Option<breaker::ConfigWatcher>>> = Arc::default();
    let dropped = Arc::new(AtomicBool::new(false));
    {
        let (slot, dropped) = (Arc::clone(&slot), Arc::clone(&dropped));
        registry.on_event(move |e| {
            if matches!(e, Event::FileRefused { .. }) {
                let watcher = slot.lock().unwrap().take();
                drop(watcher);
                dropped.store(true, Ordering::SeqCst);
            }
        });
    }
    let (watcher, _) = breaker::watch_with(
        Arc::clone(&registry),
        &path,
        breaker::WatchOptions::new().debounce(Duration::from_millis(100)),
    )
    .unwrap();
    *slot.lock().unwrap() = Some(watcher);
    let tmp = dir.path().join("next.toml");
    std::fs::write(&tmp, "[defaults]\nmin_calls = 0\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || dropped.load(Ordering::SeqCst)),
        "the hook that drops the watcher never returned"
    );
    std::fs::write(&tmp, "[defaults]\nmin_calls = 9\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    assert!(!eventually(Duration::from_millis(600), || registry
        .config()
        .min_calls
        == 9));
    assert_eq!(registry.config().min_calls, 5);
}

/// A hook that panics on every event: the operation that fired it completes (a trip, a
/// reload, a manifest's first use in a registry), later hooks still see the event, and the
/// registry keeps working.
#[test]
fn a_panicking_hook_neither_stops_the_operation_nor_the_other_hooks() {
    let (_clock, registry, log) = arc_registry_on(CircuitConfig {
        min_calls: 1,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    });
    registry.on_event(|_| panic!("hook bug"));
    let after = EventLog::attach(&registry);
    let r = Arc::clone(&registry);
    within_deadline("operations with a panicking hook", move || {
        let b = r.register("p").unwrap();
        record(&b, Outcome::Failure, 1);
        assert_eq!(b.state(), CircuitState::Open);
        r.reload_from_str("[defaults]\nmin_calls = 2\n").unwrap();
        assert!(r.reload_from_str("[defaults]\nmin_calls = 0\n").is_err());
        let m = callbacks::breakers::two_probes.in_registry(&r);
        assert_eq!(m.config().half_open_required_successes, 2);
        r.register("q").unwrap();
    });
    assert_eq!(
        after.events().len(),
        log.events().len(),
        "every event reached the later hook"
    );
    assert!(after.events().iter().any(|e| matches!(
        e,
        Event::ConfigRefused {
            component: Some(c),
            ..
        } if c == "two_probes"
    )));
}
