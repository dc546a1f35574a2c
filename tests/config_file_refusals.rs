#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! What a config file that cannot be applied as written gives back: a missing file, a parse
//! error and a broken rule each say where (path, line, field), a report lists what a loaded
//! file did not apply, and a component whose own config and file section together break a
//! rule still registers, on the defaults, with the refusal announced.

use breaker::{CircuitConfig, ComponentHandle, Event};
use breaker_suite::registry;

#[test]
fn file_errors_and_reports() {
    let (_clock, registry, log) = registry(CircuitConfig::DEFAULT);
    registry.register("known").unwrap();

    // A missing file: an I/O error, with no line and no rule.
    let missing = registry
        .reload_from_path("/nonexistent/breaker/config.toml")
        .unwrap_err();
    assert_eq!(missing.line(), None);
    assert!(missing.config_error().is_none());
    assert!(missing.to_string().contains("config.toml"));

    // A parse error has a line, but no rule.
    let parse = registry.reload_from_str("[defaults\n").unwrap_err();
    assert_eq!(parse.line(), Some(1));
    assert!(parse.config_error().is_none());

    // A rule broken in [global]: located in that section.
    let global = registry
        .reload_from_str("[global]\ncomponent_open_ratio = 1.5\n")
        .unwrap_err();
    assert_eq!(global.line(), Some(2));
    assert_eq!(
        global.config_error().unwrap().field(),
        "global_trip_conditions.component_open_ratio"
    );

    // [defaults] may carry the fuse's table too; [global] extends it.
    let report = registry
        .reload_from_str(
            "[defaults.global_trip_conditions]\nmin_components = 2\n\n[global]\ncomponent_open_ratio = 0.25\n",
        )
        .unwrap();
    assert_eq!(
        report.to_string(),
        "every [components.*] section names a registered component"
    );
    let g = registry.config().global_trip_conditions;
    assert_eq!((g.min_components, g.component_open_ratio), (2, 0.25));

    let report = registry
        .reload_from_str("[components.unknown_one]\nmin_calls = 3\n")
        .unwrap();
    assert_eq!(
        report.to_string(),
        "sections for unregistered components: unknown_one"
    );
    assert!(log
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileRefused { .. })));
}

/// A file section loaded before a manifest entry is declared, whose key breaks a rule with
/// one of the entry's fields: declaring cannot be refused, so the section's key gives way to
/// the value the entry was checked with (the manifest conflict rule), the rest of the layers
/// still apply, and `ConfigRefused` names the component and the file's line.
#[test]
fn a_section_key_that_breaks_a_rule_with_an_entry_declared_later_gives_way() {
    let (_clock, registry, log) = registry(CircuitConfig::DEFAULT);
    registry
        .reload_from_str("[components.late]\nhalf_open_required_successes = 3\nmin_calls = 4\n")
        .unwrap();
    let own = CircuitConfig {
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    };
    let declared = ComponentHandle::new("late", Some(own), &["half_open_max_concurrent"], &[]);
    let late = declared.in_registry(&registry);
    assert!(late.config().validate().is_ok());
    assert_eq!(
        late.config(),
        CircuitConfig {
            min_calls: 4,
            ..own
        },
        "the entry's one probe holds, the section's 3 successes give way to the entry's 1, \
         the section's min_calls applies"
    );
    assert!(
        log.events().iter().any(|e| matches!(
            e,
            Event::ConfigRefused {
                component: Some(name),
                error,
            } if name == "late" && error.line() == Some(2)
        )),
        "{:?}",
        log.events()
    );
}
