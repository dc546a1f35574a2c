#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! How the layers make a component's config, field by field: the documented order (built-in <
//! registry defaults < file `[defaults]` / `[global]` < manifest < file `[components.<name>]`),
//! "off" carried through every layer, and `[global]` in force at the reload that sets it.
//! Every registry is the test's own, on a `FakeClock`.

use std::time::Duration;

use breaker::{CircuitConfig, CircuitState, ComponentBreaker, Outcome};

breaker::breakers! {
    /// Registered by name (a tower layer's `for_component`) before the manifest is declared.
    late_db { error_rate_threshold: 0.3, min_calls: 7 },
    /// Every optional field set to off.
    all_off { consecutive_failures_threshold: None, slow_call_threshold: None, half_open_max_wait: None },
}

fn record(b: &ComponentBreaker, outcome: Outcome, times: u32) {
    for _ in 0..times {
        breaker_suite::call(b, outcome);
    }
}

/// "A field a layer sets to off (`None` in a manifest entry, `"off"` in a file) is set to off,
/// not inherited", for every optional field, in a manifest, a file's `[defaults]` and a file's
/// `[components.<name>]` over a config in code that sets them all.
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
    let (_clock, registry, _log) = breaker_suite::registry(on);
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
/// component back on the defaults.
#[test]
fn layers_apply_field_by_field_in_the_documented_order() {
    let code = CircuitConfig {
        min_calls: 11,
        open_cooldown: Duration::from_secs(12),
        ..CircuitConfig::DEFAULT
    };
    let (_clock, registry, _log) = breaker_suite::registry(code);
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
/// back.
#[test]
fn the_fuse_follows_global_at_the_reload_that_sets_it() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig {
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

/// A refused rule between two fields says where each came from: the file's key at its line,
/// the other field in the registry's defaults in code; a refusal of the defaults themselves
/// names no component.
#[test]
fn a_refusal_names_the_layer_of_each_field_it_involves() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig {
        half_open_max_concurrent: 2,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    });
    registry.register("db").unwrap();
    let error = registry
        .reload_from_str("[components.db]\nhalf_open_required_successes = 3\n")
        .unwrap_err();
    assert_eq!(error.line(), Some(2));
    assert_eq!(
        error.to_string(),
        "<config>:2: [components.db] half_open_required_successes = 3: must be between 1 and \
         half_open_max_concurrent (2), with half_open_max_concurrent = 2 (from the registry's defaults)"
    );
    assert_eq!(
        registry
            .component("db")
            .unwrap()
            .config()
            .half_open_required_successes,
        1
    );

    // Code against the file's section: the component's own config is refused, naming it.
    registry
        .reload_from_str("[components.db]\nhalf_open_max_concurrent = 1\n")
        .unwrap();
    let error = registry
        .reload_component(
            "db",
            CircuitConfig {
                half_open_max_concurrent: 2,
                half_open_required_successes: 2,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("component `db`: half_open_required_successes = 2"),
        "{text}"
    );
    assert!(text.contains("(from <config>:2 [components.db])"), "{text}");

    // The file's [defaults] against a code reload: refused, naming the file's key.
    registry
        .reload_from_str("[defaults]\nhalf_open_required_successes = 2\n")
        .unwrap();
    let error = registry
        .reload(CircuitConfig {
            half_open_max_concurrent: 1,
            half_open_required_successes: 1,
            ..CircuitConfig::DEFAULT
        })
        .unwrap_err();
    let text = error.to_string();
    assert_eq!(error.component(), None, "{text}");
    assert!(!text.contains("component `"), "{text}");
    assert!(
        text.contains("<config>:1 [defaults]") || text.contains("<config>:2 [defaults]"),
        "{text}"
    );
    assert!(
        text.contains("half_open_max_concurrent = 1 (from the registry's defaults)"),
        "{text}"
    );
    assert_eq!(registry.config().half_open_max_concurrent, 2);
}
