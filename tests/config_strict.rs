#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Strict mode: a config file naming a component that is neither registered nor declared is
//! refused, with the closest name, instead of silently leaving the real component on the
//! defaults. On by default once a `breakers!` manifest is declared into the registry.

use std::collections::BTreeMap;

use breaker::{
    CircuitConfig, ComponentName, Event, FakeClock, FileError, GlobalCircuitBreaker,
    RegistryBuilder, RegistrySnapshot,
};
use breaker_suite::EventLog;

breaker::breakers! {
    quote_api { min_calls: 5 },
    order_api,
}

fn builder() -> RegistryBuilder {
    GlobalCircuitBreaker::builder().clock(FakeClock::new())
}

const TYPO: &str =
    "[components.quote_api]\nmin_calls = 9\n\n[components.quote_apii]\nmin_calls = 3\n";

#[test]
fn a_declared_manifest_turns_strict_mode_on_and_a_typo_is_refused_with_the_closest_name() {
    let log = EventLog::default();
    let registry = builder().on_event(log.hook()).build().unwrap();
    assert!(!registry.is_strict(), "no manifest declared yet");
    breakers::declare(&registry).unwrap();
    assert!(registry.is_strict());
    let quote = registry.component("quote_api").unwrap();
    registry
        .reload_from_str("[components.quote_api]\nmin_calls = 8\n")
        .unwrap();
    assert_eq!(quote.config().min_calls, 8);

    let err = registry.reload_from_str(TYPO).unwrap_err();
    match &err {
        FileError::UnknownComponent {
            name,
            suggestion,
            line,
            ..
        } => {
            assert_eq!(name, "quote_apii");
            assert_eq!(suggestion.as_deref(), Some("quote_api"));
            assert_eq!(*line, Some(4));
        }
        other => panic!("expected an unknown component, got {other:?}"),
    }
    assert_eq!(err.line(), Some(4));
    let text = err.to_string();
    assert!(text.contains("did you mean `quote_api`?"), "{text}");
    assert!(text.starts_with("<config>:4:"), "{text}");
    // Refused as a whole: the real section's min_calls = 9 did not apply either.
    assert_eq!(quote.config().min_calls, 8);
    assert!(log
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileRefused { error, .. } if error.contains("quote_apii"))));
}

#[test]
fn without_strict_mode_a_typo_is_reported_and_kept() {
    let registry = builder().build().unwrap();
    registry.register("quote_api").unwrap();
    let report = registry.reload_from_str(TYPO).unwrap();
    assert_eq!(report.unknown_components, ["quote_apii"]);
    assert_eq!(
        registry.component("quote_api").unwrap().config().min_calls,
        9
    );
    assert_eq!(
        registry.register("quote_apii").unwrap().config().min_calls,
        3
    );
}

#[test]
fn the_builder_and_the_registry_setting_override_the_default() {
    // On without a manifest.
    let registry = builder().strict(true).build().unwrap();
    registry.register("order_api").unwrap();
    let err = registry
        .reload_from_str("[components.ordr_api]\nmin_calls = 3\n")
        .unwrap_err();
    assert!(
        err.to_string().contains("did you mean `order_api`?"),
        "{err}"
    );

    // Off although a manifest is declared.
    let lenient = builder().strict(false).build().unwrap();
    breakers::declare(&lenient).unwrap();
    assert!(!lenient.is_strict());
    assert!(lenient.reload_from_str(TYPO).is_ok());

    // And at run time.
    lenient.set_strict(true);
    assert!(lenient.reload_from_str(TYPO).is_err());
    lenient.set_strict(false);
    assert!(lenient.reload_from_str(TYPO).is_ok());
}

#[test]
fn a_name_far_from_every_component_gets_no_suggestion() {
    let registry = builder().strict(true).build().unwrap();
    registry.register("order_api").unwrap();
    let err = registry
        .reload_from_str("[defaults]\nmin_calls = 4\n[components.zzzzzzzzzz]\nmin_calls = 3\n")
        .unwrap_err();
    assert!(
        matches!(
            &err,
            FileError::UnknownComponent {
                suggestion: None,
                line: Some(3),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("did you mean"), "{err}");
    assert_eq!(registry.config(), CircuitConfig::DEFAULT);
}

/// A manifest declared before its typo is loaded.
mod late {
    breaker::breakers! {
        /// Registered by name (a tower layer's `for_component`) before the manifest is declared.
        late_db { error_rate_threshold: 0.3, min_calls: 7 },
    }
}

/// Strict mode: on once a manifest is declared (a typo is refused at its header's line with
/// the closest name, and changes nothing); `builder().strict(false)` keeps it off even then,
/// and the typo is reported in `FileReport::unknown_components`.
#[test]
fn strict_mode_refuses_a_typo_with_the_closest_name_unless_turned_off() {
    let (_clock, registry, log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    assert!(!registry.is_strict());
    late::breakers::declare(&registry).unwrap();
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
    late::breakers::declare(&lax).unwrap();
    assert!(!lax.is_strict());
    let report = lax
        .reload_from_str("[components.late_dbb]\nmin_calls = 2\n")
        .unwrap();
    assert_eq!(report.unknown_components, vec!["late_dbb".to_owned()]);
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
