#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Rule 1 of issue 9 at every entry point: a refused input changes nothing (the registry's
//! defaults, every component's config, state and counts, the file in force, strictness),
//! and emits at most its one refusal event; under concurrency, a refused reload is never
//! visible. Waits on threads are bounded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, ComponentName, Event, FakeClock,
    GlobalCircuitBreaker, Outcome, RegistrySnapshot,
};
use breaker_suite::EventLog;

breaker::breakers! {
    /// Registered by name (a tower layer's `for_component`) before the manifest is declared.
    late_db { error_rate_threshold: 0.3, min_calls: 7 },
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

/// Runs `f` on its own thread and fails the test if it has not finished within 20 s (a
/// deadlock), instead of hanging the suite.
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(value) => value,
        Err(_) => panic!("{what}: did not finish within 20 s (deadlock?)"),
    }
}

/// Everything a refused input must leave as it was.
#[derive(Debug, Clone, PartialEq)]
struct World {
    defaults: CircuitConfig,
    components: Vec<ComponentName>,
    configs: BTreeMap<ComponentName, CircuitConfig>,
    snapshot: RegistrySnapshot,
    file: Option<std::path::PathBuf>,
    strict: bool,
}

fn world(registry: &GlobalCircuitBreaker) -> World {
    World {
        defaults: registry.config(),
        components: registry.components(),
        configs: registry
            .components()
            .into_iter()
            .map(|name| {
                let config = registry.component(&name).unwrap().config();
                (name, config)
            })
            .collect(),
        snapshot: registry.snapshot(),
        file: registry.config_file(),
        strict: registry.is_strict(),
    }
}

/// For every entry point, a refused input leaves the registry's defaults, every component's
/// config, state and counts, the file in force and strictness as they were, and emits at
/// most its one refusal event.
#[test]
fn every_refused_input_changes_nothing_at_any_entry_point() {
    let (_clock, registry, log) = arc_registry_on(CircuitConfig {
        min_calls: 4,
        half_open_max_concurrent: 2,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(
        &path,
        "[defaults]\nmin_calls = 5\n\n[components.pinned]\nhalf_open_max_concurrent = 1\n\n\
         [components.unborn]\nhalf_open_max_concurrent = 1\n",
    )
    .unwrap();
    registry.reload_from_path(&path).unwrap();
    let pinned = registry.register("pinned").unwrap();
    let own = registry
        .register_with(
            "own",
            CircuitConfig {
                min_calls: 3,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap();
    breakers::declare(&registry).unwrap();
    record(&pinned, Outcome::Failure, 2);
    record(&own, Outcome::Success, 3);
    record(&own, Outcome::Failure, 3);
    assert_eq!(own.state(), CircuitState::Open);

    let two_probes = CircuitConfig {
        half_open_max_concurrent: 2,
        half_open_required_successes: 2,
        ..CircuitConfig::DEFAULT
    };
    let invalid = CircuitConfig {
        error_rate_threshold: 1.5,
        ..CircuitConfig::DEFAULT
    };
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let subdir = dir.path().join("sub");
    std::fs::create_dir(&subdir).unwrap();

    type Op = Box<dyn Fn(&Arc<GlobalCircuitBreaker>) -> bool>;
    let ops: Vec<(&str, Op)> = vec![
        ("register(\"\")", Box::new(|r| r.register("").is_err())),
        (
            "register(\"__x\")",
            Box::new(|r| r.register("__x").is_err()),
        ),
        (
            "register(\"a b\")",
            Box::new(|r| r.register("a b").is_err()),
        ),
        (
            "register_with(new, invalid)",
            Box::new(move |r| r.register_with("fresh", invalid).is_err()),
        ),
        (
            "register_with(new, conflicts with its section)",
            Box::new(move |r| r.register_with("unborn", two_probes).is_err()),
        ),
        (
            "register_with(existing, conflicts)",
            Box::new(move |r| r.register_with("pinned", two_probes).is_err()),
        ),
        (
            "register_with(existing manifest, invalid)",
            Box::new(move |r| r.register_with("late_db", invalid).is_err()),
        ),
        (
            "reload_component(missing)",
            Box::new(|r| {
                r.reload_component("missing", CircuitConfig::DEFAULT)
                    .is_err()
            }),
        ),
        (
            "reload_component(existing, invalid)",
            Box::new(move |r| r.reload_component("own", invalid).is_err()),
        ),
        (
            "reload_component(existing, conflicts)",
            Box::new(move |r| r.reload_component("pinned", two_probes).is_err()),
        ),
        (
            "reload(invalid)",
            Box::new(move |r| r.reload(invalid).is_err()),
        ),
        (
            "reload(conflicts with an unregistered section)",
            Box::new(move |r| r.reload(two_probes).is_err()),
        ),
        (
            "reload_from_str(garbage)",
            Box::new(|r| r.reload_from_str("[defaults\nmin_calls =").is_err()),
        ),
        (
            "reload_from_str(unknown field)",
            Box::new(|r| r.reload_from_str("[defaults]\nmin_callz = 1\n").is_err()),
        ),
        (
            "reload_from_str(bad value, after good keys)",
            Box::new(|r| {
                r.reload_from_str("[defaults]\nmin_calls = 50\n[components.own]\nmin_calls = 0\n")
                    .is_err()
            }),
        ),
        (
            "reload_from_str(section conflicts with code)",
            Box::new(|r| {
                r.reload_from_str("[components.own]\nhalf_open_required_successes = 9\n")
                    .is_err()
            }),
        ),
        (
            "reload_from_str(fuse section in a component)",
            Box::new(|r| {
                r.reload_from_str(
                    "[components.own]\nglobal_trip_conditions = { min_components = 1 }\n",
                )
                .is_err()
            }),
        ),
        (
            "reload_from_str(strict typo)",
            Box::new(|r| {
                let was = r.is_strict();
                r.set_strict(true);
                let refused = r
                    .reload_from_str("[components.pinnd]\nmin_calls = 2\n")
                    .is_err();
                r.set_strict(was);
                refused
            }),
        ),
        (
            "reload_from_path(missing)",
            Box::new(|r| r.reload_from_path("/nonexistent/breakers.toml").is_err()),
        ),
        (
            "reload_from_path(a directory)",
            Box::new(move |r| r.reload_from_path(&subdir).is_err()),
        ),
        (
            "watch(missing)",
            Box::new(|r| breaker::watch(Arc::clone(r), "/nonexistent/breakers.toml").is_err()),
        ),
        (
            "watch(empty file)",
            Box::new(move |r| breaker::watch(Arc::clone(r), &empty).is_err()),
        ),
    ];
    for (what, op) in ops {
        let before = world(&registry);
        let events = log.events().len();
        assert!(op(&registry), "{what} was accepted");
        assert_eq!(world(&registry), before, "{what} changed something");
        let new: Vec<_> = log.events()[events..].to_vec();
        assert!(
            new.iter()
                .all(|e| matches!(e, Event::ConfigRefused { .. } | Event::FileRefused { .. }))
                && new.len() <= 1,
            "{what} emitted {new:?}"
        );
    }
    assert_eq!(registry.config_file().as_deref(), Some(path.as_path()));
}

/// Reloads (accepted and refused) racing registrations and calls: no refused value is ever
/// visible, and afterwards every component has the layering's config.
#[test]
fn reloads_racing_registrations_and_calls_never_show_a_refused_value() {
    let base = CircuitConfig {
        min_calls: 3,
        half_open_max_concurrent: 2,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    };
    let (_clock, registry, _log) = arc_registry_on(base);
    // Every good file pins `pin` to one probe, so the bad code reload (two probes required)
    // is refused whenever it runs.
    let good_a = "[defaults]\nmin_calls = 7\n[components.pin]\nhalf_open_max_concurrent = 1\n\
                  [components.n3]\nmin_calls = 33\n";
    let good_b = "[defaults]\nmin_calls = 8\n[components.pin]\nhalf_open_max_concurrent = 1\n";
    let bad_file =
        "[defaults]\nmin_calls = 99\n[components.n5]\nhalf_open_required_successes = 5\n";
    let bad_code = CircuitConfig {
        min_calls: 98,
        half_open_max_concurrent: 2,
        half_open_required_successes: 2,
        ..CircuitConfig::DEFAULT
    };
    registry.reload_from_str(good_a).unwrap();
    let seen_bad = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let done = within_deadline("the race", {
        let registry = Arc::clone(&registry);
        let seen_bad = Arc::clone(&seen_bad);
        let stop = Arc::clone(&stop);
        move || {
            let sweeps = AtomicUsize::new(0);
            std::thread::scope(|s| {
                s.spawn(|| {
                    for i in 0..200 {
                        let file = if i % 2 == 0 { good_a } else { good_b };
                        registry.reload_from_str(file).unwrap();
                        assert!(registry.reload_from_str(bad_file).is_err());
                        assert!(registry.reload(bad_code).is_err());
                        registry
                            .reload(CircuitConfig {
                                min_calls: 3 + (i % 2),
                                ..base
                            })
                            .unwrap();
                    }
                });
                s.spawn(|| {
                    for i in 0..60 {
                        registry.register(&format!("n{i}")).unwrap();
                        if i % 10 == 0 {
                            registry
                                .register_with(
                                    &format!("w{i}"),
                                    CircuitConfig {
                                        min_calls: 40,
                                        ..base
                                    },
                                )
                                .unwrap();
                        }
                    }
                });
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        for name in registry.components() {
                            let b = registry.component(&name).unwrap();
                            let c = b.config();
                            if c.min_calls == 99
                                || c.min_calls == 98
                                || c.half_open_required_successes == 5
                            {
                                seen_bad.fetch_add(1, Ordering::Relaxed);
                            }
                            let permit = b.acquire();
                            if let breaker::Permit::Allowed(g) = permit {
                                g.record(Outcome::Success);
                            }
                        }
                        let d = registry.config();
                        if d.min_calls == 99 || d.min_calls == 98 {
                            seen_bad.fetch_add(1, Ordering::Relaxed);
                        }
                        sweeps.fetch_add(1, Ordering::Relaxed);
                    }
                });
                // The reloader and the registrar finish first; the reader then makes two more
                // whole sweeps over the final set of components (not a fixed pause) and stops.
                while registry.components().len() < 66 {
                    std::thread::yield_now();
                }
                let after = sweeps.load(Ordering::Relaxed) + 2;
                while sweeps.load(Ordering::Relaxed) < after {
                    std::thread::yield_now();
                }
                stop.store(true, Ordering::Relaxed);
            });
            true
        }
    });
    assert!(done);
    assert_eq!(
        seen_bad.load(Ordering::Relaxed),
        0,
        "a refused value was visible"
    );

    // A final known state, then the layering of it for every component.
    registry.reload(base).unwrap();
    registry.reload_from_str(good_a).unwrap();
    for name in registry.components() {
        let c = registry.component(&name).unwrap().config();
        let expected = match name.as_str() {
            "pin" => 7,
            "n3" => 33,
            w if w.starts_with('w') => 40,
            _ => 7,
        };
        assert_eq!(c.min_calls, expected, "{name}");
    }
}
