#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The family API the macros generate calls into: string-like keys (`IntoKey`), a manifest
//! family handle's accessors and registry, lookups by family name, and the refusals.

use std::borrow::Cow;
use std::sync::Arc;

use breaker::__private::{acquire_keyed_in, family_handle};
use breaker::{
    CircuitConfig, CircuitError, ComponentName, FamilyConfig, FamilyHandle, KeyError, Outcome,
    Permit,
};
use breaker_suite::registry;

static TENANTS: FamilyHandle = family_handle(
    "tenants",
    Some(CircuitConfig {
        min_calls: 3,
        ..CircuitConfig::DEFAULT
    }),
    &["min_calls"],
    Some(FamilyConfig {
        max_keys: 10,
        ..FamilyConfig::DEFAULT
    }),
    &["max_keys"],
);

#[test]
// `&&str` on purpose: references to keys are keys.
#[allow(clippy::needless_borrows_for_generic_args)]
fn every_string_like_key_reaches_the_same_breaker() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let owned = String::from("t1");
    let calls: [Result<breaker::CallGuard<'static>, CircuitError>; 8] = [
        acquire_keyed_in(&registry, &TENANTS, "t1"),
        acquire_keyed_in(&registry, &TENANTS, owned.clone()),
        acquire_keyed_in(&registry, &TENANTS, &owned),
        acquire_keyed_in(&registry, &TENANTS, Cow::Borrowed("t1")),
        acquire_keyed_in(&registry, &TENANTS, Arc::<str>::from("t1")),
        acquire_keyed_in(&registry, &TENANTS, Box::<str>::from("t1")),
        acquire_keyed_in(&registry, &TENANTS, ComponentName::from_static("t1")),
        acquire_keyed_in(&registry, &TENANTS, &&*owned),
    ];
    for guard in calls {
        guard.unwrap().record(Outcome::Success);
    }
    let family = TENANTS.family_in(&registry);
    assert_eq!(family.live(), 1);
    assert_eq!(family.get("t1").unwrap().snapshot().successes, 8);
    let too_long = "x".repeat(300);
    assert!(matches!(
        acquire_keyed_in(&registry, &TENANTS, too_long.as_str()),
        Err(CircuitError::InvalidKey { .. })
    ));
}

#[test]
fn a_family_handle_reports_its_entry() {
    assert_eq!(TENANTS.name(), "tenants");
    assert_eq!(TENANTS.declared_fields(), ["min_calls"]);
    assert_eq!(TENANTS.declared_family_fields(), ["max_keys"]);
    assert_eq!(TENANTS.declared_config().unwrap().min_calls, 3);
    assert_eq!(TENANTS.declared_family_config().unwrap().max_keys, 10);
    assert!(format!("{TENANTS:?}").contains("tenants"));
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let family = TENANTS.family_in(&registry);
    assert!(
        Arc::ptr_eq(&family, &TENANTS.family_in(&registry)),
        "declared once"
    );
    assert_eq!(family.config().max_keys, 10);
    assert_eq!(family.key_config().min_calls, 3);
    assert_eq!(
        TENANTS.key_in(&registry, "k").unwrap().config().min_calls,
        3
    );
    assert_eq!(registry.families(), ["tenants"]);
}

#[test]
fn a_family_registered_by_name_first_takes_the_entry_when_declared() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let by_name = registry
        .register_family("tenants", FamilyConfig::DEFAULT)
        .unwrap();
    let key = by_name.key("t").unwrap();
    key.breaker()
        .acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    let declared = TENANTS.family_in(&registry);
    assert!(Arc::ptr_eq(&by_name, &declared), "the same family");
    assert_eq!(declared.config().max_keys, 10, "the entry's family field");
    assert_eq!(
        key.config().min_calls,
        3,
        "the entry's breaker field, on a live key"
    );
    assert_eq!(key.snapshot().failures, 1, "state kept");
    // A second register returns it as it is.
    let again = registry
        .register_family("tenants", FamilyConfig::DEFAULT)
        .unwrap();
    assert_eq!(again.config().max_keys, 10);
}

#[test]
fn lookups_by_family_name_and_refusals() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    registry
        .register_family("hosts", FamilyConfig::DEFAULT)
        .unwrap();
    assert!(registry.acquire_keyed("hosts", "h").is_allowed());
    match registry.acquire_keyed("nope", "h") {
        Permit::Rejected(CircuitError::ComponentMissing { component }) => {
            assert_eq!(component, "nope")
        }
        other => panic!("{other:?}"),
    }
    assert!(registry.family("nope").is_none());
    assert!(matches!(
        registry.register_family("bad name", FamilyConfig::DEFAULT),
        Err(breaker::RegistryError::InvalidName { .. })
    ));
    assert!(matches!(
        registry.register_family(
            "bad",
            FamilyConfig {
                max_keys: 0,
                ..FamilyConfig::DEFAULT
            }
        ),
        Err(breaker::RegistryError::Config(_))
    ));
    assert!(
        registry.family("bad").is_none(),
        "a refused family is not registered"
    );
    let err = KeyError::TooLong { len: 300 };
    assert_eq!(err.reason(), "a family key is at most 256 bytes");
    let family = registry.family("hosts").unwrap();
    assert!(format!("{family:?}").contains("hosts"));
    assert!(format!("{:?}", family.key("h").unwrap()).contains("hosts[h]"));
    let e = std::io::Error::from(CircuitError::InvalidKey {
        component: ComponentName::from_static("hosts"),
        reason: err.reason(),
    });
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

/// A key's breaker kept past its family and registry still works on its own: it trips,
/// refuses and recovers on its clock; no family is left to count it, nor hooks to tell.
#[test]
fn a_key_kept_past_its_family_still_trips_and_recovers() {
    let (clock, registry, log) = registry(CircuitConfig {
        consecutive_failures_threshold: Some(1),
        open_cooldown: std::time::Duration::from_secs(1),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    });
    let family = registry
        .register_family("kept", FamilyConfig::DEFAULT)
        .unwrap();
    let kept = Arc::clone(family.key("a").unwrap().breaker());
    drop(family);
    drop(registry);
    let told = log.events().len();

    breaker_suite::call(&kept, Outcome::Failure);
    assert_eq!(kept.state(), breaker::CircuitState::Open);
    assert!(matches!(
        kept.acquire().into_result(),
        Err(CircuitError::Open { .. })
    ));
    clock.advance(std::time::Duration::from_secs(1));
    breaker_suite::call(&kept, Outcome::Success);
    assert_eq!(kept.state(), breaker::CircuitState::Closed);
    assert_eq!(log.events().len(), told, "no hooks are left to tell");
}
