#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Config layering of families: the manifest's entry < the file's `[families.<name>]` < the
//! file's `[families.<name>.keys."<key>"]`, through the registry's one config path: all or
//! nothing, validated, strict mode knows family names, and a reload re-applies to every live
//! key with its state and counts kept.

use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, FamilyConfig, FamilyHandle, FileError, GlobalCircuitBreaker,
    Outcome,
};
use breaker_suite::registry;

/// What `breakers! { hosts[] { error_rate_threshold: 0.3, min_calls: 7, max_keys: 50, min_keys: 2 } }`
/// generates.
static HOSTS: FamilyHandle = breaker::__private::family_handle(
    "hosts",
    Some(CircuitConfig {
        error_rate_threshold: 0.3,
        min_calls: 7,
        ..CircuitConfig::DEFAULT
    }),
    &["error_rate_threshold", "min_calls"],
    Some(FamilyConfig {
        max_keys: 50,
        min_keys: 2,
        ..FamilyConfig::DEFAULT
    }),
    &["max_keys", "min_keys"],
);

const FILE: &str = r#"
[defaults]
rolling_window = "20s"

[families.hosts]
min_calls = 9
max_keys = 40

[families.hosts.keys."api.example.com"]
min_calls = 2
"#;

fn fresh() -> (
    breaker::FakeClock,
    GlobalCircuitBreaker,
    breaker_suite::EventLog,
) {
    registry(CircuitConfig::DEFAULT)
}

#[test]
fn manifest_then_family_section_then_key_override() {
    let (_clock, registry, _log) = fresh();
    let family = HOSTS.family_in(&registry);
    assert_eq!(family.config().max_keys, 50, "manifest");
    assert_eq!(family.key_config().min_calls, 7, "manifest");
    // A live key before the file: its state and counts survive the reload.
    let api = family.key("api.example.com").unwrap();
    api.breaker()
        .acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    drop(api);

    registry.reload_from_str(FILE).unwrap();
    let other = HOSTS.key_in(&registry, "other.example").unwrap().config();
    assert_eq!(other.error_rate_threshold, 0.3, "manifest");
    assert_eq!(other.min_calls, 9, "file family section over the manifest");
    assert_eq!(
        other.rolling_window,
        Duration::from_secs(20),
        "file defaults"
    );
    let api = HOSTS.key_in(&registry, "api.example.com").unwrap();
    assert_eq!(api.config().min_calls, 2, "per-key override");
    assert_eq!(api.config().error_rate_threshold, 0.3);
    assert_eq!(api.snapshot().failures, 1, "state and counts kept");
    assert_eq!(
        family.config().max_keys,
        40,
        "file family field over the manifest"
    );
    assert_eq!(family.config().min_keys, 2, "manifest family field");

    // The override applies: two calls are enough to trip this key, not its siblings.
    api.breaker()
        .acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    assert_eq!(api.state(), CircuitState::Open);

    // Dropping the file gives every live key its manifest config back.
    registry.reload_from_str("").unwrap();
    assert_eq!(
        HOSTS
            .key_in(&registry, "api.example.com")
            .unwrap()
            .config()
            .min_calls,
        7
    );
    assert_eq!(family.config().max_keys, 50);
}

#[test]
fn a_code_reload_reaches_keys_that_follow_the_defaults() {
    let (_clock, registry, _log) = fresh();
    let family = registry
        .register_family("tenants", FamilyConfig::DEFAULT)
        .unwrap();
    let key = family.key("t1").unwrap();
    registry
        .reload(CircuitConfig {
            min_calls: 42,
            ..registry.code_defaults()
        })
        .unwrap();
    assert_eq!(key.config().min_calls, 42);
    assert_eq!(
        family.key("t2").unwrap().config().min_calls,
        42,
        "new keys too"
    );
}

#[test]
fn a_file_is_all_or_nothing_for_families_too() {
    let (_clock, registry, _log) = fresh();
    registry.register("db").unwrap();
    let family = HOSTS.family_in(&registry);
    drop(family.key("k").unwrap());
    registry.reload_from_str(FILE).unwrap();
    // A valid component section with an invalid per-key override (more required probe
    // successes than probes allowed, after layering): refused whole.
    let bad = r#"
[components.db]
min_calls = 3

[families.hosts.keys."k"]
half_open_required_successes = 5
"#;
    let err = registry.reload_from_str(bad).unwrap_err();
    assert!(matches!(err, FileError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().contains("half_open_required_successes"),
        "{err}"
    );
    assert_eq!(
        registry.component("db").unwrap().config().min_calls,
        20,
        "nothing changed"
    );
    assert_eq!(family.key_config().min_calls, 9, "the file in force stays");
    assert_eq!(family.config().max_keys, 40);

    // A family field out of range, with its line.
    let err = registry
        .reload_from_str("[families.hosts]\n\nmax_open_ratio = 1.5\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(
        err.to_string()
            .contains("max_open_ratio = 1.5: must be in (0, 1]"),
        "{err}"
    );
    // An unknown field of a family section.
    let err = registry
        .reload_from_str("[families.hosts]\nmax_key = 3\n")
        .unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(err.to_string().contains("unknown field `max_key`"), "{err}");
    // The fuse's conditions do not belong to a family.
    assert!(registry
        .reload_from_str("[families.hosts]\nglobal_trip_conditions.min_components = 1\n")
        .is_err());
    assert_eq!(family.config().max_keys, 40, "still the file in force");
}

#[test]
fn strict_mode_knows_family_names() {
    let (_clock, registry, _log) = fresh();
    registry.set_strict(true);
    registry
        .register_family("hosts", FamilyConfig::DEFAULT)
        .unwrap();
    let err = registry
        .reload_from_str("[families.hostz]\nmin_calls = 3\n")
        .unwrap_err();
    assert!(matches!(err, FileError::UnknownFamily { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "<config>:1: [families.hostz] names no registered or declared keyed family (strict mode); did you mean `hosts`?"
    );
    registry
        .reload_from_str("[families.hosts]\nmin_calls = 3\n")
        .unwrap();

    // Outside strict mode an unknown family section is reported, kept, and applies later.
    let (_clock, lax, _log) = fresh();
    lax.set_strict(false);
    let report = lax
        .reload_from_str("[families.later]\nmin_calls = 3\n")
        .unwrap();
    assert_eq!(report.unknown_families, ["later"]);
    let later = lax.register_family("later", FamilyConfig::DEFAULT).unwrap();
    assert_eq!(later.key_config().min_calls, 3);
}

#[test]
fn a_declared_family_turns_strict_mode_on() {
    let (_clock, registry, _log) = fresh();
    HOSTS.family_in(&registry);
    assert!(registry.is_strict());
    assert!(registry.reload_from_str("[families.nope]\n").is_err());
}
