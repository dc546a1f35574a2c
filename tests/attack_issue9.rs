#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Adversarial review of the issue 9 fixes (Rule 1: one config path, all or nothing; Rule 3:
//! hooks never deadlock, panics always count; the watcher), written against the public API
//! only, as the attack that filed issue 9 was. Each test states the promise it checks (a
//! README line or an issue 9 bullet). Tests that fail are findings; they are kept failing on
//! purpose, not ignored.
//!
//! Every registry here is the test's own, on a `FakeClock`; no test sleeps for breaker time.
//! Waits on threads and on the file watcher are bounded (`recv_timeout`, polled deadlines).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, ComponentName, ConfigLayer, Event, FakeClock,
    GlobalCircuitBreaker, Outcome, RegistryError, RegistrySnapshot,
};
use breaker_suite::EventLog;

breaker::breakers! {
    /// Registered by name (a tower layer's `for_component`) before the manifest is declared.
    late_db { error_rate_threshold: 0.3, min_calls: 7 },
    /// Needs two probes: conflicts with defaults that allow one.
    two_probes { half_open_required_successes: 2 },
    /// Needs three probes: conflicts with defaults that allow two.
    three_probes { half_open_required_successes: 3 },
    /// Every optional field set to off.
    all_off { consecutive_failures_threshold: None, slow_call_threshold: None, half_open_max_wait: None },
}

// ---------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------

fn registry_on(config: CircuitConfig) -> (FakeClock, GlobalCircuitBreaker, EventLog) {
    breaker_suite::registry(config)
}

fn arc_registry_on(config: CircuitConfig) -> (FakeClock, Arc<GlobalCircuitBreaker>, EventLog) {
    let (clock, registry, log) = registry_on(config);
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

/// Polls `done` every 20 ms for at most `limit`.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

// ---------------------------------------------------------------------------------------------
// Rule 1, manifests: "4. the component's own config in code: the fields its `breakers!` entry
// names" (README, Config files); "compute the complete new configuration of every affected
// breaker from all layers, validate all of it" (issue 9).
// ---------------------------------------------------------------------------------------------

/// A service builds its tower layer with `CircuitBreakerLayer::for_component(&registry,
/// "late_db")` (which registers the name on the defaults) and the manifest is declared later.
/// Declaring is accepted, but the manifest's fields (`error_rate_threshold: 0.3, min_calls: 7`)
/// are dropped without a word: the component keeps the defaults, and no event says so.
#[test]
fn a_manifest_declared_after_a_registration_by_name_still_applies_its_fields() {
    let (_clock, registry, log) = registry_on(CircuitConfig::DEFAULT);
    let _layer = breaker::layer::CircuitBreakerLayer::for_component(&registry, "late_db").unwrap();
    breakers::late_db.declare_manifest(&registry);
    let b = breakers::late_db.in_registry(&registry);
    let config = b.config();
    let refused = log.events().iter().any(|e| {
        matches!(
            e,
            Event::ConfigRefused {
                component: Some(c),
                ..
            } if c == "late_db"
        )
    });
    assert!(
        (config.error_rate_threshold, config.min_calls) == (0.3, 7) || refused,
        "the manifest entry's fields are silently dropped: late_db runs on {:?} / {} \
         (manifest says 0.3 / 7) and no event says why",
        config.error_rate_threshold,
        config.min_calls
    );
}

/// `in_registry` (what `#[circuit_breaker(registry = ..)]` calls on every use) returns at once
/// when the name is already registered, so if a tower layer registered `late_db` by name
/// first, the manifest is never declared: its other components are not registered (README:
/// "The first use of any handle of a manifest registers every component of that manifest")
/// and strict mode, "on by default once a `breakers!` manifest has been declared", stays off.
#[test]
fn a_first_use_through_in_registry_declares_the_manifest_even_if_the_name_was_registered() {
    let (_clock, registry, _log) = registry_on(CircuitConfig::DEFAULT);
    registry.register("late_db").unwrap();
    let _ = breakers::late_db.in_registry(&registry);
    assert_eq!(
        registry.components(),
        vec!["all_off", "late_db", "three_probes", "two_probes"],
        "the manifest's first use registers all of it"
    );
    assert!(registry.is_strict(), "a manifest was used in this registry");
}

/// The registry's defaults allow one probe, the manifest entry needs two, and the file's
/// section for it raises `half_open_max_concurrent` to 2: all layers together are valid. Yet
/// the entry was checked against the defaults before the file's section was put on top, so it
/// falls back to `CircuitConfig::DEFAULT` + its fields: it loses the registry's `min_calls: 5`
/// (runs on 20) and a `ConfigRefused` blames a conflict that the file resolved.
#[test]
fn a_file_section_that_resolves_a_manifest_conflict_keeps_the_registry_defaults() {
    let defaults = CircuitConfig {
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        min_calls: 5,
        ..CircuitConfig::DEFAULT
    };
    let (_clock, registry, log) = registry_on(defaults);
    registry
        .reload_from_str("[components.two_probes]\nhalf_open_max_concurrent = 2\n")
        .unwrap();
    let b = breakers::two_probes.in_registry(&registry);
    let c = b.config();
    assert_eq!(
        (c.half_open_max_concurrent, c.half_open_required_successes),
        (2, 2)
    );
    let refused: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::ConfigRefused {
                    component: Some(c),
                    ..
                } if c == "two_probes"
            )
        })
        .collect();
    assert_eq!(
        (c.min_calls, refused.len()),
        (5, 0),
        "registry defaults + entry + file section is a valid config; got min_calls {} and \
         {refused:?}",
        c.min_calls
    );
}

/// README: the manifest conflict rule "never makes a reload fail". The entry
/// `three_probes { half_open_required_successes: 3 }` runs over defaults with a 9 s window, and
/// the file's `[components.three_probes] window_buckets = 3` (3 s buckets) is accepted. A code
/// reload that lowers `half_open_max_concurrent` to 2 makes the entry fall back to
/// `CircuitConfig::DEFAULT`'s 10 s window, which 3 buckets cannot divide, and the reload is
/// refused, with an error that blames `rolling_window = 10s (from the built-in defaults)`, a
/// value neither the old nor the new defaults have.
#[test]
fn a_manifest_conflict_never_makes_a_code_reload_fail() {
    let nine = CircuitConfig {
        rolling_window: Duration::from_secs(9),
        ..CircuitConfig::DEFAULT
    };
    let (_clock, registry, _log) = registry_on(nine);
    let b = breakers::three_probes.in_registry(&registry);
    registry
        .reload_from_str("[components.three_probes]\nwindow_buckets = 3\n")
        .unwrap();
    assert_eq!(b.config().window_buckets, 3);
    let fewer_probes = CircuitConfig {
        half_open_max_concurrent: 2,
        half_open_required_successes: 1,
        ..nine
    };
    let result = registry.reload(fewer_probes);
    assert!(
        result.is_ok(),
        "the manifest conflict rule made a reload fail: {}",
        result.unwrap_err()
    );
}

/// "A field a layer sets to off (`None` in a manifest entry, `"off"` in a file) is set to off,
/// not inherited", for every optional field, in a manifest, a file's `[defaults]` and a file's
/// `[components.<name>]` over a config in code that sets them all. (Held.)
#[test]
fn off_means_off_for_every_optional_field_in_every_layer() {
    let on = CircuitConfig {
        consecutive_failures_threshold: Some(2),
        slow_call_threshold: Some(Duration::from_secs(1)),
        half_open_max_wait: Some(Duration::from_secs(5)),
        ..CircuitConfig::DEFAULT
    };
    let off = |c: CircuitConfig| {
        (
            c.consecutive_failures_threshold,
            c.slow_call_threshold,
            c.half_open_max_wait,
        )
    };
    let (_clock, registry, _log) = registry_on(on);
    let manifest = breakers::all_off.in_registry(&registry);
    assert_eq!(off(manifest.config()), (None, None, None), "manifest");
    let code = registry.register_with("code", on).unwrap();
    let follower = registry.register("follower").unwrap();
    registry
        .reload_from_str(
            "[defaults]\nconsecutive_failures_threshold = \"off\"\nslow_call_threshold = \
             \"off\"\nhalf_open_max_wait = \"off\"\n\n[components.code]\n\
             consecutive_failures_threshold = false\nslow_call_threshold = \"never\"\n\
             half_open_max_wait = \"none\"\n",
        )
        .unwrap();
    assert_eq!(
        off(follower.config()),
        (None, None, None),
        "file [defaults]"
    );
    assert_eq!(off(code.config()), (None, None, None), "file section");
    assert_eq!(off(manifest.config()), (None, None, None), "manifest, file");
    // And the other way: a file that sets them over an off manifest entry does not reach it.
    registry
        .reload_from_str(
            "[defaults]\nconsecutive_failures_threshold = 4\nslow_call_threshold = \"2s\"\n\
             half_open_max_wait = \"3s\"\n",
        )
        .unwrap();
    assert_eq!(
        off(manifest.config()),
        (None, None, None),
        "manifest beats defaults"
    );
    assert_eq!(
        off(follower.config()),
        (
            Some(4),
            Some(Duration::from_secs(2)),
            Some(Duration::from_secs(3))
        )
    );
    // 0 is refused with the README's rule, not read as off.
    let err = registry
        .reload_from_str("[defaults]\nconsecutive_failures_threshold = 0\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("\"off\" turns it off"), "{err}");
}

/// The layering order, field by field: built-in < registry defaults < file `[defaults]` /
/// `[global]` < manifest < file `[components.<name>]`; a field a layer does not name stays
/// inherited; `[global]` beats `[defaults].global_trip_conditions`; a code reload of the
/// defaults under a file keeps the file's keys on top; removing a section later puts the
/// component back on the defaults. (Held.)
#[test]
fn layers_apply_field_by_field_in_the_documented_order() {
    let code = CircuitConfig {
        min_calls: 11,
        open_cooldown: Duration::from_secs(12),
        ..CircuitConfig::DEFAULT
    };
    let (_clock, registry, _log) = registry_on(code);
    let late = breakers::late_db.in_registry(&registry);
    let plain = registry.register("plain").unwrap();
    registry
        .reload_from_str(
            "[defaults]\nmin_calls = 21\nerror_rate_threshold = 0.9\n\
             global_trip_conditions = { min_components = 4, component_open_ratio = 0.25 }\n\n\
             [global]\nmin_components = 5\n\n[components.late_db]\nerror_rate_threshold = 0.4\n",
        )
        .unwrap();
    let d = registry.config();
    assert_eq!(
        (d.min_calls, d.open_cooldown),
        (21, Duration::from_secs(12))
    );
    assert_eq!(d.global_trip_conditions.min_components, 5, "[global] wins");
    assert_eq!(d.global_trip_conditions.component_open_ratio, 0.25);
    let l = late.config();
    assert_eq!((l.min_calls, l.error_rate_threshold), (7, 0.4));
    assert_eq!(l.open_cooldown, Duration::from_secs(12), "inherited");
    assert_eq!(plain.config().error_rate_threshold, 0.9);

    // A code reload under the file: the file's [defaults] keys stay on top.
    registry
        .reload(CircuitConfig {
            min_calls: 3,
            open_cooldown: Duration::from_secs(13),
            ..CircuitConfig::DEFAULT
        })
        .unwrap();
    assert_eq!(plain.config().min_calls, 21);
    assert_eq!(plain.config().open_cooldown, Duration::from_secs(13));

    // A later file without the section: back to the manifest over the defaults.
    registry
        .reload_from_str("[defaults]\nmin_calls = 8\n")
        .unwrap();
    let l = late.config();
    assert_eq!((l.min_calls, l.error_rate_threshold), (7, 0.3));
    assert_eq!(plain.config().min_calls, 8);
    assert_eq!(registry.config().global_trip_conditions.min_components, 3);
}

/// `[global]` takes effect at the reload that sets it: the fuse is re-derived then, not at
/// the next component transition; a later file without `[global]` gives the code's conditions
/// back. (Held.)
#[test]
fn the_fuse_follows_global_at_the_reload_that_sets_it() {
    let (_clock, registry, _log) = registry_on(CircuitConfig {
        min_calls: 1,
        ..CircuitConfig::DEFAULT
    });
    let sick = registry.register("sick").unwrap();
    for name in ["ok1", "ok2", "ok3"] {
        registry.register(name).unwrap();
    }
    record(&sick, Outcome::Failure, 1);
    assert_eq!(sick.state(), CircuitState::Open);
    assert_eq!(registry.global().state(), CircuitState::Closed, "1 of 4");
    registry
        .reload_from_str("[global]\ncomponent_open_ratio = 0.25\n")
        .unwrap();
    assert_eq!(
        registry.global().state(),
        CircuitState::Open,
        "1 of 4 >= 0.25"
    );
    registry
        .reload_from_str("[defaults]\nmin_calls = 1\n")
        .unwrap();
    assert_eq!(registry.global().state(), CircuitState::Closed);
}

/// Strict mode: on once a manifest is declared (a typo is refused at its header's line with
/// the closest name, and changes nothing); `builder().strict(false)` keeps it off even then,
/// and the typo is reported in `FileReport::unknown_components`. (Held.)
#[test]
fn strict_mode_refuses_a_typo_with_the_closest_name_unless_turned_off() {
    let (_clock, registry, log) = registry_on(CircuitConfig::DEFAULT);
    assert!(!registry.is_strict());
    breakers::late_db.declare_manifest(&registry);
    assert!(registry.is_strict());
    let before = world(&registry);
    let events = log.events().len();
    let err = registry
        .reload_from_str("[defaults]\nmin_calls = 3\n\n[components.late_dbb]\nmin_calls = 2\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(4));
    assert!(err.to_string().contains("did you mean `late_db`?"), "{err}");
    assert_eq!(world(&registry), before);
    assert!(matches!(
        &log.events()[events..],
        [Event::FileRefused { .. }]
    ));

    let lax = GlobalCircuitBreaker::builder()
        .clock(FakeClock::new())
        .strict(false)
        .build()
        .unwrap();
    breakers::late_db.declare_manifest(&lax);
    assert!(!lax.is_strict());
    let report = lax
        .reload_from_str("[components.late_dbb]\nmin_calls = 2\n")
        .unwrap();
    assert_eq!(report.unknown_components, vec!["late_dbb".to_owned()]);
}

/// A file section for a component registered later is validated when loaded (as a follower
/// of the defaults), applies on `register`, and a `register_with` that conflicts with it is
/// refused with the section's line and registers nothing. (Held.)
#[test]
fn a_section_for_a_later_component_is_validated_and_applied_when_it_registers() {
    let (_clock, registry, log) = registry_on(CircuitConfig {
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    });
    let err = registry
        .reload_from_str("\n[components.later]\nerror_rate_threshold = 1.5\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(3));
    registry
        .reload_from_str(
            "# tuning\n[components.later]\n\nhalf_open_max_concurrent = 1\nmin_calls = 4\n",
        )
        .unwrap();
    let before = world(&registry);
    let events = log.events().len();
    let refused = registry
        .register_with(
            "later",
            CircuitConfig {
                half_open_max_concurrent: 2,
                half_open_required_successes: 2,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap_err();
    let RegistryError::Config(e) = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(e.line(), Some(4), "{refused}");
    assert_eq!(e.component(), Some("later"));
    assert_eq!(world(&registry), before);
    assert_eq!(log.events().len(), events, "{:?}", &log.events()[events..]);
    let later = registry.register("later").unwrap();
    assert_eq!(later.config().min_calls, 4);
}

// ---------------------------------------------------------------------------------------------
// Rule 1, error messages: "every refusal names the field, the value, the rule and (for files)
// the line of the key in THAT file; never a line that file does not contain" (task brief, from
// issue 9 and README "Config files").
// ---------------------------------------------------------------------------------------------

/// `[defaults.global_trip_conditions]` is the table form of the README's inline
/// `global_trip_conditions = { .. }`. A refused key under it is reported at the table's
/// header line, not at its own line: here line 2 (`[defaults.global_trip_conditions]`) for a
/// key on line 5.
#[test]
fn a_key_under_a_table_header_is_reported_at_its_own_line() {
    let (_clock, registry, _log) = registry_on(CircuitConfig::DEFAULT);
    let text = "# the fuse, per registry\n[defaults.global_trip_conditions]\nmin_calls = 3\n\n\
                min_components = 0\n";
    let err = registry.reload_from_str(text).unwrap_err();
    assert!(err.to_string().contains("min_components = 0"), "{err}");
    assert_eq!(
        err.line(),
        Some(5),
        "`{err}` points at line {:?}: {:?}",
        err.line(),
        err.line().and_then(|l| text.lines().nth(l - 1))
    );
}

/// The same table written with dotted keys, `global_trip_conditions.min_components = 5`
/// under `[defaults]`, is valid TOML and means exactly the inline table the file accepts; it
/// is refused as a parse error, `invalid type: string "min_components", expected a borrowed
/// string`, which names neither the field's rule nor anything the user wrote wrong.
#[test]
fn dotted_keys_for_the_fuse_in_defaults_mean_the_same_as_an_inline_table() {
    let (_clock, registry, _log) = registry_on(CircuitConfig::DEFAULT);
    registry
        .reload_from_str("[defaults]\nglobal_trip_conditions = { min_components = 5 }\n")
        .unwrap();
    assert_eq!(registry.config().global_trip_conditions.min_components, 5);
    let dotted =
        registry.reload_from_str("[defaults]\nglobal_trip_conditions.min_components = 6\n");
    assert!(
        dotted.is_ok(),
        "a valid file is refused: {}",
        dotted.unwrap_err()
    );
    assert_eq!(registry.config().global_trip_conditions.min_components, 6);
}

/// README: "`file:line: [section] key = value`", and the file's message builder says "where
/// `key = value` is always a line of the file". A refusal in `[global]` quotes
/// `global_trip_conditions.min_components = 0`, a key the file does not have: its line 3 is
/// `min_components = 0`.
#[test]
fn a_refusal_in_global_quotes_the_key_as_the_file_writes_it() {
    let (_clock, registry, _log) = registry_on(CircuitConfig::DEFAULT);
    let text = "[global]\ncomponent_open_ratio = 0.5\nmin_components = 0\n";
    let err = registry.reload_from_str(text).unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert!(
        err.to_string().contains("[global] min_components = 0"),
        "`{err}` quotes a key that line 3 (`{}`) does not have",
        text.lines().nth(2).unwrap()
    );
}

/// A wrong type for an optional duration (`half_open_max_wait = 5`, seconds without a unit,
/// the commonest slip) is refused with serde's `data did not match any variant of untagged
/// enum Repr`: an internal type name, and neither the field nor what it accepts. Its sibling
/// `consecutive_failures_threshold` says `expected a count of at least 1, or "off"`.
#[test]
fn a_wrong_type_for_an_optional_duration_says_what_the_field_accepts() {
    let (_clock, registry, _log) = registry_on(CircuitConfig::DEFAULT);
    for key in ["half_open_max_wait", "slow_call_threshold"] {
        let err = registry
            .reload_from_str(&format!("[defaults]\n{key} = 5\n"))
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.line(), Some(2));
        assert!(
            !text.contains("untagged enum Repr") && text.contains("\"off\""),
            "`{key} = 5` is refused with `{text}`"
        );
    }
}

/// Refusals from code against a file in force name the field, the value, the rule and the
/// line of the file's key (and only lines the file has); the `1y` maximum is accepted as
/// written; ratios are checked before narrowing. (Held.)
#[test]
fn refusals_name_the_field_value_rule_and_the_files_own_line() {
    let (_clock, registry, _log) = registry_on(CircuitConfig {
        half_open_max_concurrent: 3,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    });
    registry.register("w").unwrap();
    let text = "# operators' tuning\n\n[defaults]\nmin_calls = 9\n\n[components.w]\n# one probe\n\
                half_open_max_concurrent = 1\n";
    registry.reload_from_str(text).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    // A code reload of the defaults that breaks w's section.
    let err = registry
        .reload(CircuitConfig {
            half_open_max_concurrent: 2,
            half_open_required_successes: 2,
            ..CircuitConfig::DEFAULT
        })
        .unwrap_err();
    assert_eq!(err.component(), Some("w"));
    assert_eq!(err.line(), Some(8), "{err}");
    assert_eq!(lines[7], "half_open_max_concurrent = 1");
    assert!(
        err.to_string().contains("half_open_required_successes = 2"),
        "{err}"
    );

    // A component reload that breaks it.
    let err = registry
        .reload_component(
            "w",
            CircuitConfig {
                half_open_max_concurrent: 2,
                half_open_required_successes: 2,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap_err();
    let RegistryError::Config(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.line(), Some(8), "{err}");
    assert!(
        matches!(
            e.conflicting(),
            Some((_, _, ConfigLayer::File { line: 8, .. }))
        ),
        "the other field of the rule is the file's key: {e}"
    );

    // A later file that does not have the section cannot be refused for it.
    registry
        .reload_from_str("[defaults]\nmin_calls = 10\n")
        .unwrap();

    for (text, ok) in [
        (
            "[defaults]\nrolling_window = \"1y\"\nwindow_buckets = 1000\n",
            true,
        ),
        ("[defaults]\nopen_cooldown = \"1y\"\n", true),
        ("[defaults]\nopen_cooldown = \"1y 1ns\"\n", false),
        ("[defaults]\nerror_rate_threshold = 1.00000001\n", false),
        ("[global]\ncomponent_open_ratio = 1.00000001\n", false),
        ("[defaults]\nopen_backoff_multiplier = 1000.0001\n", false),
        ("[defaults]\nerror_rate_threshold = 1e-50\n", false),
    ] {
        let result = registry.reload_from_str(text);
        assert_eq!(result.is_ok(), ok, "{text:?}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.line(), Some(2), "{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 1, refused inputs change nothing: for every entry point, the registry's defaults, every
// component's config, state and counts, the file in force, strictness and the events are as
// before. (Held.)
// ---------------------------------------------------------------------------------------------

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
    breakers::late_db.declare_manifest(&registry);
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

// ---------------------------------------------------------------------------------------------
// Rule 1 under concurrency: reloads (accepted and refused) racing registrations and calls.
// No refused reload is ever visible; afterwards every component has the layering's config.
// (Held.)
// ---------------------------------------------------------------------------------------------

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
                    }
                });
                // The reloader and the registrar finish first; then stop the reader.
                while registry.components().len() < 66 {
                    std::thread::yield_now();
                }
                std::thread::sleep(Duration::from_millis(50));
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

// ---------------------------------------------------------------------------------------------
// Rule 3, hooks: "a hook may call back into the registry or use the handle whose first use
// fired it", "outside every lock ... on every path". (Held.)
// ---------------------------------------------------------------------------------------------

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
            let _ = breakers::late_db.in_registry(&r);
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
        breakers::two_probes.declare_manifest(&r);
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
/// must not hang the watcher: the next edit still reloads. (Held.)
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
/// later edit is loaded. (Held.)
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

// ---------------------------------------------------------------------------------------------
// Rule 3, panics: "however a call ends, it is counted". (Held.)
// ---------------------------------------------------------------------------------------------

/// A hook that panics on every event: the operation that fired it completes (a trip, a
/// reload, a manifest's first use in a registry), later hooks still see the event, and the
/// registry keeps working. (Held.)
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
        let m = breakers::two_probes.in_registry(&r);
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

mod panics {
    use super::*;
    use http::{Request, Response, StatusCode};
    use tower::{service_fn, Layer, Service, ServiceExt};
    use tower_http::catch_panic::CatchPanicLayer;

    fn one_failure_trips() -> CircuitConfig {
        CircuitConfig {
            min_calls: 1,
            ..breaker_suite::small_config(1)
        }
    }

    /// A classifier closure that panics on the response: the call is counted as a failure
    /// (and a half-open probe's slot comes back), under `CatchPanicLayer`.
    #[tokio::test]
    async fn a_panicking_classifier_is_a_failure_under_catch_panic() {
        let (clock, registry, _log) = arc_registry_on(one_failure_trips());
        let b = registry.register("classified").unwrap();
        let handler = service_fn(|_req: Request<()>| async move {
            tokio::task::yield_now().await;
            Ok::<_, Infallible>(Response::new(String::from("ok")))
        });
        let guarded = breaker::layer::CircuitBreakerLayer::new(Arc::clone(&b))
            .classify(|r: &Result<Response<String>, Infallible>| -> Outcome {
                assert!(r.is_err(), "classifier bug");
                Outcome::Success
            })
            .http()
            .layer(handler);
        let mut app = CatchPanicLayer::new().layer(guarded);
        let status = app
            .ready()
            .await
            .unwrap()
            .call(Request::get("/").body(()).unwrap())
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let s = b.snapshot();
        assert_eq!((s.successes, s.failures, s.ignored), (0, 1, 0));
        assert_eq!(b.state(), CircuitState::Open);

        clock.advance(Duration::from_secs(3600));
        let status = app
            .ready()
            .await
            .unwrap()
            .call(Request::get("/").body(()).unwrap())
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let s = b.snapshot();
        assert_eq!(
            (s.failures, s.half_open_in_flight),
            (2, 0),
            "a failed probe"
        );
        assert_eq!(b.state(), CircuitState::Open);
    }
}

#[derive(Debug)]
enum ApiError {
    Upstream,
    Breaker(#[allow(dead_code)] breaker::CircuitError),
}

impl From<breaker::CircuitError> for ApiError {
    fn from(e: breaker::CircuitError) -> Self {
        ApiError::Breaker(e)
    }
}

/// `failure_if` that panics, in a sync and an async function, and a fallback that panics.
mod attribute_panics {
    use super::*;
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;

    breaker_suite::isolated_registry!(
        CircuitConfig {
            min_calls: 1,
            ..breaker_suite::small_config(1)
        },
        all_off
    );

    fn failure_if_panics(_: &ApiError) -> bool {
        panic!("failure_if bug")
    }

    async fn fallback_panics(_: bool) -> Result<u32, ApiError> {
        panic!("fallback bug")
    }

    #[breaker::circuit_breaker(component = "all_off", registry = REG, failure_if = failure_if_panics)]
    fn sync_call(fail: bool) -> Result<u32, ApiError> {
        if fail {
            Err(ApiError::Upstream)
        } else {
            Ok(1)
        }
    }

    #[breaker::circuit_breaker(component = "all_off", registry = REG, failure_if = failure_if_panics, fallback = fallback_panics)]
    async fn async_call(fail: bool) -> Result<u32, ApiError> {
        futures::future::ready(()).await;
        if fail {
            Err(ApiError::Upstream)
        } else {
            Ok(1)
        }
    }

    /// One test, so the module's registry sees one sequence.
    #[test]
    fn a_panicking_failure_if_is_a_failure_and_a_panicking_fallback_counts_one_refusal() {
        let b = all_off();
        assert!(std::panic::catch_unwind(|| sync_call(true)).is_err());
        let s = snap();
        assert_eq!((s.successes, s.failures, s.ignored), (0, 1, 0), "sync");
        assert_eq!(b.state(), CircuitState::Open);
        b.reset();

        let caught = futures::executor::block_on(AssertUnwindSafe(async_call(true)).catch_unwind());
        assert!(caught.is_err());
        let s = snap();
        assert_eq!(
            (s.successes, s.failures, s.ignored),
            (0, 2, 0),
            "async under catch_unwind"
        );
        assert_eq!(b.state(), CircuitState::Open);

        // Open: the fallback runs, and panics; the refusal is counted once, no call is.
        let rejected = s.rejections.total();
        let caught =
            futures::executor::block_on(AssertUnwindSafe(async_call(false)).catch_unwind());
        assert!(caught.is_err());
        let s = snap();
        assert_eq!(s.rejections.total(), rejected + 1);
        assert_eq!((s.successes, s.failures, s.ignored), (0, 2, 0));
    }
}
