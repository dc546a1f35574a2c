#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A `ComponentHandle` built by hand, not by `breakers!`: its accessors report what it was
//! built with, `declare_manifest` registers exactly its manifest, and `in_registry` registers
//! and returns the handle's own component. (`tests/macro_manifest.rs` covers the handles
//! `breakers!` generates.)

use breaker::{CircuitConfig, ComponentHandle};
use breaker_suite::registry;

#[test]
fn a_handle_built_at_run_time() {
    static MANIFEST: [&ComponentHandle; 0] = [];
    let handle = ComponentHandle::new("runtime_handle", None, &["min_calls"], &MANIFEST);
    assert_eq!(handle.name(), "runtime_handle");
    assert_eq!(handle.declared_fields(), ["min_calls"]);
    assert_eq!(handle.declared_config(), None);
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    handle.declare_manifest(&registry);
    assert!(
        registry.components().is_empty(),
        "its manifest is empty, and it is not in it"
    );
    let b = handle.in_registry(&registry);
    assert_eq!(b.name(), "runtime_handle");
    assert_eq!(registry.components(), ["runtime_handle"]);
    assert!(format!("{handle:?}").contains("runtime_handle"));
}
