#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A `breakers!` handle's accessors report what its entry declares, `breakers::declare`
//! registers exactly its manifest (all of it, nothing else), and `in_registry` registers the
//! manifest and returns the handle's own component. (`tests/macro_manifest.rs` covers the
//! config the handles put in force.)

use breaker::CircuitConfig;
use breaker_suite::registry;

mod runtime {
    breaker::breakers! {
        runtime_handle { min_calls: 7 },
        plain_handle,
    }
}
use runtime::breakers;

#[test]
fn a_handle_reports_its_entry() {
    let handle = &breakers::runtime_handle;
    assert_eq!(handle.name(), "runtime_handle");
    assert_eq!(handle.declared_fields(), ["min_calls"]);
    assert_eq!(
        handle.declared_config(),
        Some(CircuitConfig {
            min_calls: 7,
            ..CircuitConfig::DEFAULT
        })
    );
    assert_eq!(breakers::plain_handle.declared_fields(), [] as [&str; 0]);
    assert_eq!(breakers::plain_handle.declared_config(), None);
    let debug = format!("{handle:?}");
    assert!(debug.contains("runtime_handle"), "{debug}");
    assert!(debug.contains("initialised: false"), "no use yet: {debug}");
}

#[test]
fn declare_registers_exactly_the_manifest() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    registry.register("unrelated").unwrap();
    breakers::declare(&registry).unwrap();
    assert_eq!(
        registry.components(),
        ["plain_handle", "runtime_handle", "unrelated"]
    );
    assert_eq!(
        registry
            .component("runtime_handle")
            .unwrap()
            .config()
            .min_calls,
        7
    );
}

#[test]
fn in_registry_declares_the_manifest_and_returns_its_own_component() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let b = breakers::runtime_handle.in_registry(&registry);
    assert_eq!(b.name(), "runtime_handle");
    assert_eq!(b.config().min_calls, 7);
    assert_eq!(registry.components(), ["plain_handle", "runtime_handle"]);
}
