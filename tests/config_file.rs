#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `breakers.toml`: layering (built-in < registry defaults < file defaults < manifest < file
//! component), refusal with file, line, field and rule, and live reload.

use std::collections::BTreeMap;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentName, ConfigValue, Event, FakeClock, FileError,
    GlobalCircuitBreaker, Outcome, RegistryError, RegistrySnapshot,
};
use breaker_suite::EventLog;

breaker::breakers! {
    binance_ws,
    binance_rest { error_rate_threshold: 0.3, min_calls: 5 },
}

/// Support's registry on `min_calls: 50` and a 20 s cooldown, with this file's manifest
/// declared.
fn declared() -> (GlobalCircuitBreaker, EventLog, FakeClock) {
    let (clock, registry, log) = breaker_suite::registry(CircuitConfig {
        min_calls: 50,
        open_cooldown: Duration::from_secs(20),
        ..CircuitConfig::DEFAULT
    });
    breakers::declare(&registry).unwrap();
    (registry, log, clock)
}

const FILE: &str = r#"
[defaults]
open_cooldown = "45s"
half_open_max_wait = "off"

[global]
min_components = 2

[components.binance_rest]
error_rate_threshold = 0.4
"#;

#[test]
fn layers_apply_from_least_to_most_specific() {
    let (registry, _log, _clock) = declared();
    let report = registry.reload_from_str(FILE).unwrap();
    assert!(report.unknown_components.is_empty());

    // Registry defaults (code) < file [defaults]: the file's cooldown, the code's min_calls.
    let defaults = registry.config();
    assert_eq!(defaults.open_cooldown, Duration::from_secs(45));
    assert_eq!(defaults.min_calls, 50);
    assert_eq!(defaults.half_open_max_wait, None, "\"off\" turns it off");
    assert_eq!(defaults.global_trip_conditions.min_components, 2);

    // A component without its own config follows the effective defaults.
    let ws = registry.component("binance_ws").unwrap().config();
    assert_eq!(
        (ws.open_cooldown, ws.min_calls),
        (Duration::from_secs(45), 50)
    );

    // Manifest fields beat file defaults; the file's component section beats the manifest.
    let rest = registry.component("binance_rest").unwrap().config();
    assert_eq!(rest.min_calls, 5, "manifest beats the defaults");
    assert_eq!(
        rest.error_rate_threshold, 0.4,
        "file component beats the manifest"
    );
    assert_eq!(
        rest.open_cooldown,
        Duration::from_secs(45),
        "file defaults still apply"
    );
}

#[test]
fn a_later_code_reload_stays_under_the_file() {
    let (registry, _log, _clock) = declared();
    registry.reload_from_str(FILE).unwrap();
    registry
        .reload(CircuitConfig {
            min_calls: 7,
            open_cooldown: Duration::from_secs(1),
            ..CircuitConfig::DEFAULT
        })
        .unwrap();
    let ws = registry.component("binance_ws").unwrap().config();
    assert_eq!(ws.min_calls, 7, "the new code default applies");
    assert_eq!(
        ws.open_cooldown,
        Duration::from_secs(45),
        "the file still wins"
    );
}

#[test]
fn an_invalid_value_is_refused_with_file_line_field_and_rule() {
    let (registry, log, _clock) = declared();
    registry.reload_from_str(FILE).unwrap();
    let before = registry.component("binance_rest").unwrap().config();
    let bad =
        "[defaults]\nmin_calls = 10\n\n[components.binance_rest]\nerror_rate_threshold = 1.5\n";
    let err = registry.reload_from_str(bad).unwrap_err();
    assert_eq!(err.line(), Some(5));
    assert_eq!(err.config_error().unwrap().field(), "error_rate_threshold");
    assert_eq!(
        err.to_string(),
        "<config>:5: [components.binance_rest] error_rate_threshold = 1.5: must be in (0, 1]"
    );
    // Nothing of the refused file took effect, not even its valid [defaults].
    assert_eq!(registry.component("binance_rest").unwrap().config(), before);
    assert_eq!(registry.config().min_calls, 50);
    assert!(log.events().iter().any(
        |e| matches!(e, Event::FileRefused { error, .. } if error.contains("error_rate_threshold"))
    ));
}

#[test]
fn a_default_that_breaks_a_rule_points_at_its_line() {
    let (registry, _log, _clock) = declared();
    let err = registry
        .reload_from_str("# comment\n[global]\ncomponent_open_ratio = 0.0\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(3));
    assert_eq!(
        err.config_error().unwrap().field(),
        "global_trip_conditions.component_open_ratio"
    );
    assert!(err.to_string().contains("[global]"), "{err}");
}

#[test]
fn syntax_errors_unknown_fields_and_wrong_types_carry_the_line() {
    let (registry, _log, _clock) = declared();
    for (text, line, needle) in [
        ("[defaults]\nmin_calls = \n", 2, ""),
        (
            "[defaults]\n\nerror_rate_treshold = 0.3\n",
            3,
            "error_rate_treshold",
        ),
        ("[components.binance_ws]\nopen_cooldown = 10\n", 2, ""),
        ("[default]\nmin_calls = 1\n", 1, "default"),
    ] {
        let err = registry.reload_from_str(text).unwrap_err();
        assert!(matches!(err, FileError::Parse { .. }), "{text}: {err}");
        assert_eq!(err.line(), Some(line), "{text}: {err}");
        assert!(err.to_string().contains(needle), "{text}: {err}");
    }
    assert_eq!(registry.config().min_calls, 50, "the running config stays");
}

#[test]
fn sections_for_unregistered_components_are_reported_and_apply_later() {
    let (registry, log, _clock) = declared();
    // A declared manifest turns strict mode on (tests/config_strict.rs); off, such a section
    // is reported and kept.
    registry.set_strict(false);
    let report = registry
        .reload_from_str("[components.kraken_rest]\nmin_calls = 3\n")
        .unwrap();
    assert_eq!(report.unknown_components, ["kraken_rest"]);
    assert!(
        registry.component("kraken_rest").is_none(),
        "not silently created"
    );
    assert!(log.events().iter().any(|e| matches!(
        e,
        Event::FileReloaded { unknown_components, .. } if unknown_components == &["kraken_rest"]
    )));
    let kraken = registry.register("kraken_rest").unwrap();
    assert_eq!(kraken.config().min_calls, 3);
}

#[test]
fn state_and_counts_survive_and_new_thresholds_apply_next() {
    let (registry, _log, _clock) = declared();
    let ws = registry.component("binance_ws").unwrap();
    for _ in 0..10 {
        ws.acquire().into_result().unwrap().record(Outcome::Failure);
    }
    assert_eq!(ws.state(), CircuitState::Closed, "10 calls < min_calls 50");
    registry
        .reload_from_str("[components.binance_ws]\nmin_calls = 10\n")
        .unwrap();
    assert_eq!(ws.snapshot().failures, 10, "counts kept");
    assert_eq!(ws.snapshot().window.calls, 10, "window kept");
    ws.acquire().into_result().unwrap().record(Outcome::Failure);
    assert_eq!(
        ws.state(),
        CircuitState::Open,
        "the new min_calls applies at once"
    );
}

#[test]
fn window_buckets_can_change_in_a_running_registry() {
    let (registry, _log, _clock) = declared();
    let ws = registry.component("binance_ws").unwrap();
    ws.acquire().into_result().unwrap().record(Outcome::Failure);
    registry
        .reload_from_str("[defaults]\nwindow_buckets = 5\n")
        .unwrap();
    assert_eq!(ws.config().window_buckets, 5);
    assert_eq!(ws.snapshot().window.calls, 1, "the window keeps its counts");
}

#[test]
fn files_are_read_from_disk_and_missing_files_name_the_path() {
    let (registry, _log, _clock) = declared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, FILE).unwrap();
    registry.reload_from_path(&path).unwrap();
    assert_eq!(registry.config_file().as_deref(), Some(path.as_path()));
    let missing = dir.path().join("missing.toml");
    let err = registry.reload_from_path(&missing).unwrap_err();
    assert!(matches!(err, FileError::Io { .. }));
    assert!(err.to_string().contains("missing.toml"), "{err}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[defaults]\nmin_calls = 0\n").unwrap();
    let err = registry.reload_from_path(&bad).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2: [defaults] min_calls = 0", bad.display())),
        "{err}"
    );
}

#[test]
fn the_watcher_reloads_on_change_and_keeps_the_running_config_on_a_bad_edit() {
    use std::sync::mpsc;
    use std::sync::Arc;

    let clock = FakeClock::new();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let registry = Arc::new(
        GlobalCircuitBreaker::builder()
            .clock(clock)
            .on_event(move |e| {
                if matches!(e, Event::FileReloaded { .. } | Event::FileRefused { .. }) {
                    let _ = tx.lock().unwrap().send(e.clone());
                }
            })
            .build()
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, "[defaults]\nmin_calls = 11\n").unwrap();
    let (_watcher, _report) = breaker::watch(Arc::clone(&registry), &path).unwrap();
    assert!(
        matches!(rx.recv().unwrap(), Event::FileReloaded { .. }),
        "initial load"
    );
    assert_eq!(registry.config().min_calls, 11);

    // Saves the way editors and config-management tools do: write a new file, rename it over
    // the old one, so the watcher never reads a half-written file.
    let save = |text: &str| {
        let tmp = dir.path().join("breakers.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    };
    // Waits for the watcher's event (bounded), skipping duplicates for one write.
    let next = |want_refused: bool| loop {
        let event = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the watcher reacts");
        if matches!(event, Event::FileRefused { .. }) == want_refused {
            return event;
        }
    };
    save("[defaults]\nmin_calls = 12\n");
    next(false);
    assert_eq!(registry.config().min_calls, 12);

    save("[defaults]\nmin_calls = 0\n");
    let refused = next(true);
    assert!(matches!(refused, Event::FileRefused { error, .. } if error.contains("min_calls = 0")));
    assert_eq!(registry.config().min_calls, 12, "the running config stays");
}

/// One probe at a time, one success closes: a file may lower `half_open_max_concurrent` to 1.
const ONE_PROBE: CircuitConfig = CircuitConfig {
    half_open_max_concurrent: 2,
    half_open_required_successes: 1,
    ..CircuitConfig::DEFAULT
};

/// Two probes required: conflicts with a section that allows only one.
const TWO_PROBES: CircuitConfig = CircuitConfig {
    half_open_max_concurrent: 2,
    half_open_required_successes: 2,
    ..CircuitConfig::DEFAULT
};

#[test]
fn a_section_for_an_unregistered_component_is_validated_at_load() {
    let (_clock, registry, log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    let err = registry
        .reload_from_str("[components.later]\nerror_rate_threshold = 1.5\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert_eq!(err.config_error().unwrap().field(), "error_rate_threshold");
    assert_eq!(
        err.to_string(),
        "<config>:2: [components.later] error_rate_threshold = 1.5: must be in (0, 1]"
    );
    assert_eq!(registry.config_file(), None);
    // Nothing of it is waiting for `later`: it registers on the defaults, and a later code
    // reload of unrelated defaults is accepted.
    assert_eq!(
        registry.register("later").unwrap().config(),
        CircuitConfig::DEFAULT
    );
    let defaults = CircuitConfig {
        min_calls: 7,
        ..CircuitConfig::DEFAULT
    };
    registry.reload(defaults).unwrap();
    assert_eq!(registry.component("later").unwrap().config(), defaults);
    assert!(log
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileRefused { .. })));
}

#[test]
fn a_section_is_layered_over_the_defaults_at_load_as_a_follower_would_be() {
    // Valid alone, but not over these defaults (two probes required, the file allows one).
    let (_clock, registry, _log) = breaker_suite::registry(TWO_PROBES);
    let err = registry
        .reload_from_str("[components.later]\n\nhalf_open_max_concurrent = 1\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(
        err.to_string().contains("half_open_max_concurrent = 1"),
        "names the file's key: {err}"
    );
}

#[test]
fn registering_later_with_a_config_that_conflicts_with_the_file_is_refused() {
    let (_clock, registry, _log) = breaker_suite::registry(ONE_PROBE);
    let file = "[defaults]\nmin_calls = 4\n\n[components.later]\nhalf_open_max_concurrent = 1\n";
    registry.reload_from_str(file).unwrap();

    let err = registry.register_with("later", TWO_PROBES).unwrap_err();
    assert!(registry.component("later").is_none(), "nothing registered");
    assert!(registry.components().is_empty());
    let RegistryError::Config(error) = &err else {
        panic!("expected a config error, got {err:?}");
    };
    assert_eq!(error.component(), Some("later"));
    assert_eq!(error.field(), "half_open_required_successes");
    assert_eq!(error.value(), ConfigValue::Count(2));
    assert_eq!(error.line(), Some(5), "the file's conflicting key: {err}");
    let text = err.to_string();
    for needle in [
        "later",
        "half_open_required_successes = 2",
        "<config>:5",
        "half_open_max_concurrent = 1",
    ] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }

    // Not stuck: the same file reloads, a code reload applies, and a compatible config
    // registers.
    registry.reload_from_str(file).unwrap();
    registry
        .reload(CircuitConfig {
            min_calls: 9,
            ..ONE_PROBE
        })
        .unwrap();
    let later = registry.register_with("later", ONE_PROBE).unwrap();
    assert_eq!(
        later.config().half_open_max_concurrent,
        1,
        "the file's section applies"
    );
}

#[test]
fn registering_with_a_conflict_leaves_nothing_registered_even_when_racing_a_register() {
    // `register_with` used to register on the defaults first and then fail to apply its own
    // config: the component stayed, on the wrong config.
    let (_clock, registry, _log) = breaker_suite::registry(ONE_PROBE);
    registry
        .reload_from_str("[components.db]\nhalf_open_max_concurrent = 1\n")
        .unwrap();
    let err = registry.register_with("db", TWO_PROBES).unwrap_err();
    assert!(
        matches!(&err, RegistryError::Config(e)
            if e.component() == Some("db") && e.line() == Some(2)),
        "the conflict names the component and the file's line: {err}"
    );
    assert!(registry.component("db").is_none());
    let db = registry.register("db").unwrap();
    assert_eq!(db.config().half_open_max_concurrent, 1);
    assert_eq!(db.config().half_open_required_successes, 1);
}

#[test]
fn a_later_file_without_a_components_section_puts_the_component_back_on_the_defaults() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    let w = registry.register("w").unwrap();
    registry
        .reload_from_str("[components.w]\nmin_calls = 3\nwindow_buckets = 20\n")
        .unwrap();
    assert_eq!(w.config().window_buckets, 20);
    assert_eq!(w.config().min_calls, 3);
    registry
        .reload_from_str("[defaults]\nmin_calls = 8\n")
        .unwrap();
    assert_eq!(w.config().window_buckets, 10);
    assert_eq!(w.config().min_calls, 8);
}

#[test]
fn a_conflict_between_code_and_file_names_the_files_line_and_no_line_it_lacks() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    registry.register_with("w", TWO_PROBES).unwrap();
    let text = "# tuning\n[components.w]\nmin_calls = 5\nhalf_open_max_concurrent = 1\n";
    let err = registry.reload_from_str(text).unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("<config>:4: [components.w] half_open_max_concurrent = 1"),
        "leads with the file's own line: {message}"
    );
    // The refused value comes from code; the message must not present it as a line of the
    // file (`[components.w] half_open_required_successes = 2` is not in it).
    assert!(
        !message.contains("[components.w] half_open_required_successes"),
        "{message}"
    );
    assert!(
        message.contains("half_open_required_successes = 2"),
        "{message}"
    );
    let error = err.config_error().unwrap();
    assert_eq!(error.component(), Some("w"));
}

#[test]
fn a_code_reload_that_conflicts_with_a_file_section_names_component_and_line() {
    let (_clock, registry, log) = breaker_suite::registry(ONE_PROBE);
    registry.register("w").unwrap();
    registry
        .reload_from_str("[components.w]\nhalf_open_required_successes = 2\n")
        .unwrap();
    let err = registry
        .reload(CircuitConfig {
            half_open_max_concurrent: 1,
            ..ONE_PROBE
        })
        .unwrap_err();
    assert_eq!(err.component(), Some("w"));
    assert_eq!(err.field(), "half_open_required_successes");
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("<config>:2"), "{err}");
    assert_eq!(registry.config(), ONE_PROBE);
    assert!(log.events().iter().any(|e| matches!(
        e,
        Event::ConfigRefused { component: Some(c), error } if c == "w" && error == &err
    )));
}

#[test]
fn off_turns_off_every_optional_field() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig {
        consecutive_failures_threshold: Some(2),
        slow_call_threshold: Some(Duration::from_secs(1)),
        ..CircuitConfig::DEFAULT
    });
    let c = registry.register("c").unwrap();
    registry
        .reload_from_str(
            "[components.c]\nconsecutive_failures_threshold = \"off\"\nslow_call_threshold = \"off\"\nhalf_open_max_wait = \"off\"\n",
        )
        .unwrap();
    let config = c.config();
    assert_eq!(config.consecutive_failures_threshold, None);
    assert_eq!(config.slow_call_threshold, None);
    assert_eq!(config.half_open_max_wait, None);
    registry
        .reload_from_str("[defaults]\nconsecutive_failures_threshold = 4\n")
        .unwrap();
    assert_eq!(c.config().consecutive_failures_threshold, Some(4));
}

#[test]
fn zero_consecutive_failures_is_refused_with_a_pointer_to_off() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    let err = registry
        .reload_from_str("[defaults]\nconsecutive_failures_threshold = 0\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(2));
    assert!(err.to_string().contains("\"off\""), "{err}");
}

#[test]
fn one_year_is_the_longest_duration_as_written() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    registry
        .reload_from_str("[defaults]\nopen_cooldown = \"1y\"\nopen_cooldown_max = \"1y\"\n")
        .unwrap();
    assert_eq!(registry.config().open_cooldown, breaker::MAX_DURATION);
    let err = registry
        .reload_from_str("[defaults]\nopen_cooldown = \"1y 1s\"\n")
        .unwrap_err();
    assert!(err.to_string().contains("at most 1 year"), "{err}");
}

#[test]
fn a_ratio_just_above_one_is_refused_not_rounded() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    for key in ["error_rate_threshold", "slow_call_rate_threshold"] {
        let text = format!("[defaults]\n{key} = 1.00000001\n");
        let err = registry.reload_from_str(&text).unwrap_err();
        assert_eq!(err.line(), Some(2), "{key}: {err}");
        assert!(err.to_string().contains("1.00000001"), "{key}: {err}");
    }
    let err = registry
        .reload_from_str("[global]\ncomponent_open_ratio = 1.00000001\n")
        .unwrap_err();
    assert!(err.to_string().contains("1.00000001"), "{err}");
    let err = registry
        .reload_from_str("[defaults]\nopen_backoff_multiplier = 0.99999999\n")
        .unwrap_err();
    assert!(err.to_string().contains("0.99999999"), "{err}");
    assert_eq!(registry.config(), CircuitConfig::DEFAULT);
}

#[test]
fn a_component_section_may_not_set_the_global_fuse() {
    // The fuse reads the registry's defaults only: such a section would mean nothing.
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    registry.register("c").unwrap();
    let err = registry
        .reload_from_str("[components.c]\nglobal_trip_conditions = { min_components = 1 }\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(err.to_string().contains("[global]"), "{err}");
}

#[test]
fn a_section_name_that_cannot_name_a_component_is_refused() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    let err = registry
        .reload_from_str("[components.__global__]\nmin_calls = 3\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(1), "{err}");
    assert!(err.to_string().contains("__global__"), "{err}");
}

/// A file section for a component registered later is validated when loaded (as a follower
/// of the defaults), applies on `register`, and a `register_with` that conflicts with it is
/// refused with the section's line and registers nothing.
#[test]
fn a_section_for_a_later_component_is_validated_and_applied_when_it_registers() {
    let (_clock, registry, log) = breaker_suite::registry(CircuitConfig {
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

/// The same table written with dotted keys, `global_trip_conditions.min_components = 6`
/// under `[defaults]`, is valid TOML and means exactly the inline table. It used to be
/// refused as a parse error (`invalid type: string "min_components", expected a borrowed
/// string`), which named nothing the user wrote wrong.
#[test]
fn dotted_keys_for_the_fuse_in_defaults_mean_the_same_as_an_inline_table() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    registry
        .reload_from_str("[defaults]\nglobal_trip_conditions = { min_components = 5 }\n")
        .unwrap();
    assert_eq!(registry.config().global_trip_conditions.min_components, 5);
    let dotted =
        registry.reload_from_str("[defaults]\nglobal_trip_conditions.min_components = 6\n");
    let report = dotted.unwrap_or_else(|e| panic!("a valid file is refused: {e}"));
    assert!(report.unknown_components.is_empty(), "{report:?}");
    assert_eq!(registry.config().global_trip_conditions.min_components, 6);
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
