#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! How a breaker's name leaves the engine: as a [`ComponentName`] in errors, transitions,
//! events, snapshots and the registry's list, which reads, compares and serializes as the
//! string. (That names are freed with their breakers is `tests/names_freed.rs`.)

use std::collections::BTreeMap;

use breaker::{
    CircuitConfig, CircuitError, ComponentName, Event, FakeClock, GlobalCircuitBreaker, Outcome,
    Permit,
};
use breaker_suite::EventLog;

fn registry_on(defaults: CircuitConfig) -> (GlobalCircuitBreaker, EventLog) {
    let log = EventLog::default();
    let registry = GlobalCircuitBreaker::builder()
        .config(defaults)
        .clock(FakeClock::new())
        .on_event(log.hook())
        .build()
        .unwrap();
    (registry, log)
}

/// A refused code reload that breaks a rule with the file's section for a component that has
/// not registered yet names that component in the event, as the error does. It used to carry
/// `None`: an event could only name a registered component.
#[test]
fn a_refused_reload_names_a_component_not_registered_yet() {
    let defaults = CircuitConfig {
        half_open_max_concurrent: 2,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    };
    let (registry, log) = registry_on(defaults);
    registry
        .reload_from_str("[components.later]\nhalf_open_required_successes = 2\n")
        .unwrap();
    let err = registry
        .reload(CircuitConfig {
            half_open_max_concurrent: 1,
            ..defaults
        })
        .unwrap_err();
    assert_eq!(err.component(), Some("later"));
    assert!(registry.component("later").is_none());
    let refused: Vec<_> = log
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::ConfigRefused { component, error } => Some((component, error)),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [(Some("later".into()), err)]);
    assert_eq!(registry.config(), defaults, "nothing changed");
}

/// Every report of a breaker names it with the same value: the refusal, the transition, the
/// snapshot (and its JSON), the registry's list, and `name()`.
#[test]
fn every_report_names_the_breaker_as_a_string() {
    let (registry, log) = registry_on(CircuitConfig {
        consecutive_failures_threshold: Some(1),
        ..CircuitConfig::DEFAULT
    });
    for name in ["zeta", "alpha", "mid"] {
        registry.register(name).unwrap();
    }
    let alpha = registry.component("alpha").unwrap();
    assert_eq!(alpha.name(), "alpha");
    assert_eq!(alpha.name().to_string(), "alpha");
    assert_eq!(format!("{:?}", alpha.name()), "\"alpha\"");
    assert_eq!(registry.components(), ["alpha", "mid", "zeta"]);

    match alpha.acquire() {
        Permit::Allowed(g) => {
            g.record(Outcome::Failure);
        }
        Permit::Rejected(e) => panic!("{e}"),
    }
    let Permit::Rejected(CircuitError::Open { component, .. }) = registry.acquire("alpha") else {
        panic!("alpha should be open");
    };
    assert_eq!(component, "alpha");
    assert_eq!(&component, alpha.name());
    let t = log.transitions().pop().unwrap();
    assert_eq!(t.component, *alpha.name());
    assert_eq!(log.moves()[0].0, "alpha");

    let snapshot = registry.snapshot();
    let listed: Vec<&str> = snapshot.components.iter().map(|c| &*c.component).collect();
    assert_eq!(listed, ["alpha", "mid", "zeta"], "sorted by name");
    assert_eq!(snapshot.global.component, breaker::GLOBAL);
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["components"][0]["component"], "alpha");
    assert_eq!(json["global"]["component"], "__global__");

    let Permit::Rejected(missing) = registry.acquire("nobody") else {
        panic!("nobody is registered");
    };
    assert_eq!(missing.component(), "nobody");
}

/// A map keyed by names looks them up by `&str`, and names from code and from run time are
/// the same key.
#[test]
fn names_key_maps_looked_up_by_str() {
    let (registry, _log) = registry_on(CircuitConfig::DEFAULT);
    let made = registry.register("db").unwrap();
    let mut by_name = BTreeMap::new();
    by_name.insert(made.name().clone(), 1);
    by_name.insert(ComponentName::from_static("cache"), 2);
    assert_eq!(by_name.get("db"), Some(&1));
    assert_eq!(by_name.insert(ComponentName::from_static("db"), 3), Some(1));
    assert_eq!(by_name.keys().collect::<Vec<_>>(), ["cache", "db"]);
}
