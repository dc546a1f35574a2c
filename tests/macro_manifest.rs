#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `breakers!`: the manifest's per-component config is the config in force, `ALL` lists every
//! component, `breakers::declare` registers them all up front, and handles deref to their
//! `ComponentBreaker`.
//!
//! Tests that need time or calls use their own registries (on their own `FakeClock`); the
//! tests that use the process-wide registry only read configs and names, which no other test
//! changes.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use breaker::{
    circuit_breaker, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, ComponentHandle,
    ConfigLayer, ConfigValue, Event, FakeClock, GlobalCircuitBreaker, Outcome,
};
use breaker_suite::EventLog;
use once_cell::sync::Lazy;

breaker::breakers! {
    /// Binance market-data websocket.
    binance_ws,
    /// Binance REST: trips early.
    binance_rest { min_calls: 3, error_rate_threshold: 0.3 },
    kraken_rest {
        open_cooldown: Duration::from_secs(5),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
    },
    coinbase_ws,
}

mod layering {
    use std::time::Duration;

    breaker::breakers! {
        /// `None` means off, whatever the registry's defaults say.
        quiet_api { consecutive_failures_threshold: None, min_calls: 100 },
        /// Two probes must succeed: conflicts with defaults that allow one probe at a time.
        probing_api { half_open_required_successes: 2 },
        /// Valid on its own, and with any `open_cooldown_max`: the cap only limits growth.
        slow_exchange { open_cooldown: Duration::from_secs(60) },
        /// Longer than `CircuitConfig::DEFAULT.open_cooldown_max` (5 min): compiles.
        patient_api { open_cooldown: Duration::from_secs(600) },
    }
}

const NAMES: [&str; 4] = ["binance_ws", "binance_rest", "kraken_rest", "coinbase_ws"];

fn binance_rest_config() -> CircuitConfig {
    CircuitConfig {
        min_calls: 3,
        error_rate_threshold: 0.3,
        ..CircuitConfig::DEFAULT
    }
}

fn kraken_rest_config() -> CircuitConfig {
    CircuitConfig {
        open_cooldown: Duration::from_secs(5),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    }
}

fn fake_registry(clock: &FakeClock, defaults: CircuitConfig) -> GlobalCircuitBreaker {
    GlobalCircuitBreaker::builder()
        .config(defaults)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[derive(Debug)]
enum ApiError {
    Http(u16),
    Breaker(CircuitError),
}

impl From<CircuitError> for ApiError {
    fn from(e: CircuitError) -> Self {
        ApiError::Breaker(e)
    }
}

#[test]
fn the_declared_config_is_the_config_in_force() {
    assert_eq!(breakers::binance_rest.config(), binance_rest_config());
    assert_eq!(
        breakers::binance_rest.declared_config(),
        Some(binance_rest_config())
    );
    assert_eq!(breakers::kraken_rest.config(), kraken_rest_config());
    assert_eq!(
        breakers::kraken_rest.config().open_cooldown,
        Duration::from_secs(5)
    );

    // No override: the process-wide registry's defaults.
    assert_eq!(breakers::binance_ws.declared_config(), None);
    assert_eq!(breakers::binance_ws.config(), breaker::registry().config());
    assert_eq!(breakers::coinbase_ws.config().min_calls, 20);
}

#[test]
fn all_lists_every_component_in_declaration_order() {
    assert_eq!(breakers::ALL.len(), 4);
    let names: Vec<&str> = breakers::ALL.iter().map(|h| h.name()).collect();
    assert_eq!(names, NAMES);
    let handles: [&ComponentHandle; 4] = [
        &breakers::binance_ws,
        &breakers::binance_rest,
        &breakers::kraken_rest,
        &breakers::coinbase_ws,
    ];
    for (listed, declared) in breakers::ALL.iter().zip(handles) {
        assert!(std::ptr::eq(*listed, declared), "{}", declared.name());
    }
    assert_eq!(breakers::binance_ws.name(), "binance_ws");
}

#[test]
fn declare_registers_every_component_before_any_call() {
    let clock = FakeClock::new();
    let registry = fake_registry(&clock, CircuitConfig::DEFAULT);
    assert!(registry.snapshot().components.is_empty());

    // `breakers::declare` registers all of them.
    breakers::declare(&registry).unwrap();
    let snapshot = registry.snapshot();
    let listed: Vec<&str> = snapshot
        .components
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    let mut expected = NAMES;
    expected.sort_unstable();
    assert_eq!(listed, expected);
    for component in &snapshot.components {
        assert_eq!(
            component.state,
            CircuitState::Closed,
            "{}",
            component.component
        );
        assert_eq!(component.calls, 0, "{}", component.component);
    }
    assert_eq!(
        registry.component("binance_rest").unwrap().config(),
        binance_rest_config()
    );
    assert_eq!(
        registry.component("kraken_rest").unwrap().config(),
        kraken_rest_config()
    );

    // Idempotent: the breakers already there are kept, with their counts.
    let ws = registry.component("binance_ws").unwrap();
    ws.acquire()
        .into_result()
        .unwrap()
        .record(breaker::Outcome::Success);
    breakers::declare(&registry).unwrap();
    assert_eq!(registry.components().len(), 4);
    let again = registry.component("binance_ws").unwrap();
    assert!(Arc::ptr_eq(&ws, &again), "the breaker was replaced");
    assert_eq!(again.snapshot().successes, 1);
}

#[test]
fn handles_deref_to_their_breaker_in_the_process_wide_registry() {
    let breaker: &ComponentBreaker = &breakers::kraken_rest;
    assert_eq!(breaker.name(), "kraken_rest");
    let registered = breaker::registry()
        .component("kraken_rest")
        .expect("the handle's breaker is not in the process-wide registry");
    assert!(std::ptr::eq(breaker, &*registered));
    // Methods of `ComponentBreaker` through the handle.
    assert_eq!(breakers::kraken_rest.state(), CircuitState::Closed);
    assert_eq!(breakers::kraken_rest.snapshot().component, "kraken_rest");

    // The first use of any handle registered the whole manifest there.
    let components = breaker::registry().components();
    for name in NAMES {
        assert!(
            components.iter().any(|c| c == name),
            "{name} missing from {components:?}"
        );
    }
    assert!(format!("{:?}", breakers::kraken_rest).contains("\"kraken_rest\""));
}

mod in_another_registry {
    use super::*;

    static CLOCK: Lazy<FakeClock> = Lazy::new(FakeClock::new);
    /// Registry defaults are `CircuitConfig::DEFAULT` (min_calls 20).
    static REG: Lazy<GlobalCircuitBreaker> =
        Lazy::new(|| fake_registry(&CLOCK, CircuitConfig::DEFAULT));
    static REST_RUNS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(component = "binance_rest", registry = REG)]
    fn rest(fail: bool) -> Result<(), ApiError> {
        REST_RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(())
        }
    }

    #[circuit_breaker(component = "binance_ws", registry = REG)]
    fn ws(fail: bool) -> Result<(), ApiError> {
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(())
        }
    }

    #[circuit_breaker(component = kraken_rest, registry = REG)]
    fn kraken(fail: bool) -> Result<(), ApiError> {
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(())
        }
    }

    #[test]
    fn the_manifest_config_governs_the_protected_calls() {
        // binance_rest: min_calls 3, 30% errors. One failure in three calls trips it.
        rest(false).unwrap();
        rest(false).unwrap();
        assert!(matches!(rest(true), Err(ApiError::Http(500))));
        let in_reg = REG.component("binance_rest").unwrap();
        assert_eq!(in_reg.config(), binance_rest_config());
        assert_eq!(in_reg.state(), CircuitState::Open);
        assert!(matches!(
            rest(false),
            Err(ApiError::Breaker(CircuitError::Open { .. }))
        ));
        assert_eq!(REST_RUNS.load(SeqCst), 3);

        // binance_ws follows the registry's defaults (min_calls 20): the same calls don't.
        ws(false).unwrap();
        ws(false).unwrap();
        assert!(matches!(ws(true), Err(ApiError::Http(500))));
        assert_eq!(
            REG.component("binance_ws").unwrap().state(),
            CircuitState::Closed
        );

        // kraken_rest: its 5s cooldown, not the default 30s.
        for _ in 0..20 {
            assert!(matches!(kraken(true), Err(ApiError::Http(500))));
        }
        assert!(matches!(
            kraken(false),
            Err(ApiError::Breaker(CircuitError::Open { retry_after, .. }))
                if retry_after == Duration::from_secs(5)
        ));
        CLOCK.advance(Duration::from_secs(5));
        kraken(false).unwrap();
        assert_eq!(
            REG.component("kraken_rest").unwrap().state(),
            CircuitState::Closed
        );
    }
}

mod declared_up_front {
    use super::*;

    static CLOCK: Lazy<FakeClock> = Lazy::new(FakeClock::new);
    static REG: Lazy<GlobalCircuitBreaker> = Lazy::new(|| {
        let registry = fake_registry(&CLOCK, CircuitConfig::DEFAULT);
        breakers::declare(&registry).unwrap();
        registry
    });

    #[circuit_breaker(component = "coinbase_ws", registry = REG)]
    fn coinbase() -> Result<u8, ApiError> {
        Ok(1)
    }

    #[test]
    fn protected_calls_use_the_declared_breaker() {
        let declared = REG.component("coinbase_ws").unwrap();
        assert_eq!(REG.components().len(), 4);
        assert_eq!(coinbase().unwrap(), 1);
        assert_eq!(declared.snapshot().successes, 1);
        assert!(Arc::ptr_eq(
            &declared,
            &REG.component("coinbase_ws").unwrap()
        ));
    }
}

/// `breakers!` documents its overrides as "on top of the registry's defaults": a field the
/// manifest does not set should come from the registry the component is registered in.
#[test]
fn manifest_overrides_apply_on_top_of_the_registry_defaults() {
    let clock = FakeClock::new();
    let defaults = CircuitConfig {
        min_calls: 5,
        open_cooldown: Duration::from_secs(7),
        ..CircuitConfig::DEFAULT
    };
    let registry = fake_registry(&clock, defaults);
    breakers::declare(&registry).unwrap();

    // binance_ws has no override: it follows the registry.
    assert_eq!(registry.component("binance_ws").unwrap().config(), defaults);
    // binance_rest overrides min_calls and error_rate_threshold only.
    let rest = registry.component("binance_rest").unwrap().config();
    assert_eq!(rest.min_calls, 3);
    assert_eq!(rest.error_rate_threshold, 0.3);
    assert_eq!(
        rest.open_cooldown,
        Duration::from_secs(7),
        "binance_rest does not override open_cooldown, yet it has {:?} instead of the \
         registry's default {:?}",
        rest.open_cooldown,
        defaults.open_cooldown
    );
    assert_eq!(
        rest,
        CircuitConfig {
            min_calls: 3,
            error_rate_threshold: 0.3,
            ..defaults
        }
    );
}

fn logged_registry(defaults: CircuitConfig) -> (GlobalCircuitBreaker, EventLog) {
    let log = EventLog::default();
    let registry = GlobalCircuitBreaker::builder()
        .config(defaults)
        .clock(FakeClock::new())
        .on_event(log.hook())
        .build()
        .unwrap();
    (registry, log)
}

/// A manifest field set to `None` turns the feature off: it used to vanish on the way
/// through the layering and the component inherited the registry's `Some(2)`.
#[test]
fn a_manifest_field_set_to_none_means_off() {
    let (registry, _log) = logged_registry(CircuitConfig {
        consecutive_failures_threshold: Some(2),
        ..CircuitConfig::DEFAULT
    });
    let quiet = layering::breakers::quiet_api.in_registry(&registry);
    assert_eq!(quiet.config().consecutive_failures_threshold, None);
    for _ in 0..5 {
        quiet
            .acquire()
            .into_result()
            .unwrap()
            .record(Outcome::Failure);
    }
    assert_eq!(
        quiet.state(),
        CircuitState::Closed,
        "five failures in a row, no run limit"
    );
    // A file may still turn it on for this component, and off again.
    registry
        .reload_from_str("[components.quiet_api]\nconsecutive_failures_threshold = 3\n")
        .unwrap();
    assert_eq!(quiet.config().consecutive_failures_threshold, Some(3));
    registry.reload_from_str("").unwrap();
    assert_eq!(quiet.config().consecutive_failures_threshold, None);
}

/// A cooldown above the registry's `open_cooldown_max` is valid (the cap only limits the
/// backoff): the entry runs on its 60 s, not silently on the defaults.
#[test]
fn a_manifest_cooldown_above_the_registry_cap_is_kept() {
    let defaults = CircuitConfig {
        open_cooldown: Duration::from_secs(5),
        open_cooldown_max: Duration::from_secs(30),
        ..CircuitConfig::DEFAULT
    };
    let (registry, log) = logged_registry(defaults);
    let slow = layering::breakers::slow_exchange.in_registry(&registry);
    assert_eq!(slow.config().open_cooldown, Duration::from_secs(60));
    assert_eq!(slow.config().open_cooldown_max, Duration::from_secs(30));
    assert!(!log
        .events()
        .iter()
        .any(|e| matches!(e, Event::ConfigRefused { .. })));
    assert_eq!(
        layering::breakers::patient_api
            .declared_config()
            .unwrap()
            .open_cooldown,
        Duration::from_secs(600)
    );
}

/// The manifest conflict rule: an entry's fields always hold; when one of them breaks a rule
/// together with a field of the registry's defaults, that field takes the value the entry was
/// checked with at compile time (`CircuitConfig::DEFAULT`'s), every other field still follows
/// the defaults, and `ConfigRefused` names the component, the field, the value and both
/// layers. It never makes a later reload fail.
#[test]
fn a_manifest_entry_that_conflicts_with_the_defaults_keeps_its_fields_and_the_other_defaults() {
    let one_probe = CircuitConfig {
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        min_calls: 7,
        ..CircuitConfig::DEFAULT
    };
    let (registry, log) = logged_registry(one_probe);
    let probing = layering::breakers::probing_api.in_registry(&registry);
    // Two probes required (the entry), so `half_open_max_concurrent` gives way to
    // DEFAULT's 3; `min_calls` still comes from the registry's defaults.
    let resolved = CircuitConfig {
        half_open_max_concurrent: CircuitConfig::DEFAULT.half_open_max_concurrent,
        half_open_required_successes: 2,
        ..one_probe
    };
    assert_eq!(probing.config(), resolved);
    let refused: Vec<_> = log
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::ConfigRefused { component, error } => Some((component, error)),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (component, error) = &refused[0];
    assert_eq!(component.as_deref(), Some("probing_api"));
    assert_eq!(error.component(), Some("probing_api"));
    assert_eq!(error.field(), "half_open_required_successes");
    assert_eq!(error.value(), ConfigValue::Count(2));
    assert_eq!(error.layer(), Some(&ConfigLayer::Manifest));
    assert_eq!(
        error.conflicting(),
        Some((
            "half_open_max_concurrent",
            ConfigValue::Count(1),
            &ConfigLayer::RegistryDefaults
        ))
    );
    let text = error.to_string();
    assert!(
        text.contains("probing_api") && text.contains("breakers!"),
        "{text}"
    );

    // Later reloads are never refused because of it.
    registry
        .reload(CircuitConfig {
            min_calls: 9,
            ..one_probe
        })
        .unwrap();
    registry
        .reload_from_str("[defaults]\nmin_calls = 11\n")
        .unwrap();
    assert_eq!(
        probing.config(),
        CircuitConfig {
            min_calls: 11,
            ..resolved
        }
    );
    // Reported once, when the conflict appeared, not at every reload.
    let reported = log
        .events()
        .iter()
        .filter(|e| matches!(e, Event::ConfigRefused { .. }))
        .count();
    assert_eq!(reported, 1);
    // Once the defaults allow it, the entry follows them again.
    registry.reload(CircuitConfig::DEFAULT).unwrap();
    assert_eq!(
        probing.config(),
        CircuitConfig {
            half_open_required_successes: 2,
            min_calls: 11,
            ..CircuitConfig::DEFAULT
        }
    );
}

/// A name registered on the defaults before its manifest is declared (a tower layer's
/// `for_component` at startup) gets the entry's fields when the manifest is declared: the
/// same breaker, its state and counts kept, and `ConfigReloaded` names it.
#[test]
fn declaring_over_a_registration_by_name_keeps_the_breaker_its_state_and_counts() {
    let (registry, log) = logged_registry(CircuitConfig::DEFAULT);
    let early = registry.register("quiet_api").unwrap();
    for _ in 0..5 {
        early
            .acquire()
            .into_result()
            .unwrap()
            .record(Outcome::Failure);
    }
    early.force_open();
    let before = early.snapshot();
    layering::breakers::declare(&registry).unwrap();
    let declared = layering::breakers::quiet_api.in_registry(&registry);
    assert!(Arc::ptr_eq(&early, &declared), "the same breaker");
    assert_eq!(early.config().min_calls, 100, "the entry's field");
    assert_eq!(early.state(), CircuitState::ForcedOpen);
    let after = early.snapshot();
    assert_eq!(
        (after.failures, after.window.calls, after.generation),
        (before.failures, before.window.calls, before.generation)
    );
    let reloaded: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::ConfigReloaded { component: Some(c) } if c == "quiet_api"))
        .collect();
    assert_eq!(reloaded.len(), 1, "{:?}", log.events());
}

/// A component with its own whole config in code keeps it when its manifest is declared
/// later (as `reload_component` wins over an entry declared earlier), and
/// `ManifestEntryIgnored` says so, once.
#[test]
fn a_whole_config_in_code_wins_over_an_entry_declared_later_and_an_event_says_so() {
    let (registry, log) = logged_registry(CircuitConfig::DEFAULT);
    let own = CircuitConfig {
        min_calls: 9,
        ..CircuitConfig::DEFAULT
    };
    let b = registry.register_with("quiet_api", own).unwrap();
    layering::breakers::declare(&registry).unwrap();
    layering::breakers::declare(&registry).unwrap();
    let declared = layering::breakers::quiet_api.in_registry(&registry);
    assert!(Arc::ptr_eq(&b, &declared));
    assert_eq!(b.config(), own, "not the entry's min_calls = 100");
    let ignored: Vec<_> = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::ManifestEntryIgnored { .. }))
        .collect();
    assert_eq!(
        ignored,
        vec![Event::ManifestEntryIgnored {
            component: "quiet_api".into()
        }]
    );
    // The other entries of the manifest were registered with their fields.
    assert_eq!(
        registry
            .component("probing_api")
            .unwrap()
            .config()
            .half_open_required_successes,
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Declaring over a registered name, and the manifest conflict rule on the complete layering.
// ---------------------------------------------------------------------------------------------

/// A manifest whose first use in a registry may come after its names were registered there.
mod declared_late {
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
}

/// A service builds its tower layer with `CircuitBreakerLayer::for_component(&registry,
/// "late_db")` (which registers the name on the defaults) and the manifest is declared later:
/// the entry's fields (`error_rate_threshold: 0.3, min_calls: 7`) apply to the registered
/// component (or, if they cannot, an event says why). They used to be dropped without a word.
#[test]
fn a_manifest_declared_after_a_registration_by_name_still_applies_its_fields() {
    let (_clock, registry, log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    let _layer = breaker::layer::CircuitBreakerLayer::for_component(&registry, "late_db").unwrap();
    declared_late::breakers::declare(&registry).unwrap();
    let b = declared_late::breakers::late_db.in_registry(&registry);
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

/// `in_registry` (what `#[circuit_breaker(registry = ..)]` calls on every use) declares the
/// whole manifest on its first use in a registry even if a tower layer registered the name
/// first: the manifest's other components are registered and strict mode turns on. It used to
/// return at once when the name existed, so the manifest was never declared there.
#[test]
fn a_first_use_through_in_registry_declares_the_manifest_even_if_the_name_was_registered() {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig::DEFAULT);
    registry.register("late_db").unwrap();
    let _ = declared_late::breakers::late_db.in_registry(&registry);
    assert_eq!(
        registry.components(),
        vec!["all_off", "late_db", "three_probes", "two_probes"],
        "the manifest's first use registers all of it"
    );
    assert!(registry.is_strict(), "a manifest was used in this registry");
}

/// The manifest conflict rule judges the complete layering. The registry's defaults allow
/// one probe, the entry needs two, and the file's section raises `half_open_max_concurrent`
/// to 2: all layers together are valid, so nothing gives way, the registry's `min_calls: 5`
/// applies and no `ConfigRefused` is emitted. The entry used to be checked before the section
/// was put on top and fell back to `CircuitConfig::DEFAULT` + its fields (min_calls 20).
#[test]
fn a_file_section_that_resolves_a_manifest_conflict_keeps_the_registry_defaults() {
    let defaults = CircuitConfig {
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        min_calls: 5,
        ..CircuitConfig::DEFAULT
    };
    let (_clock, registry, log) = breaker_suite::registry(defaults);
    registry
        .reload_from_str("[components.two_probes]\nhalf_open_max_concurrent = 2\n")
        .unwrap();
    let b = declared_late::breakers::two_probes.in_registry(&registry);
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

/// The manifest conflict rule never makes a reload fail. `three_probes {
/// half_open_required_successes: 3 }` runs over defaults with a 9 s window and the file's
/// `[components.three_probes] window_buckets = 3` (3 s buckets). A code reload that lowers
/// `half_open_max_concurrent` to 2 conflicts with the entry: only `half_open_max_concurrent`
/// gives way. The old rule sent the entry to `CircuitConfig::DEFAULT`'s 10 s window, which 3
/// buckets cannot divide, and refused the reload for a value neither config had.
#[test]
fn a_manifest_conflict_never_makes_a_code_reload_fail() {
    let nine = CircuitConfig {
        rolling_window: Duration::from_secs(9),
        ..CircuitConfig::DEFAULT
    };
    let (_clock, registry, _log) = breaker_suite::registry(nine);
    let b = declared_late::breakers::three_probes.in_registry(&registry);
    registry
        .reload_from_str("[components.three_probes]\nwindow_buckets = 3\n")
        .unwrap();
    assert_eq!(b.config().window_buckets, 3);
    let fewer_probes = CircuitConfig {
        half_open_max_concurrent: 2,
        half_open_required_successes: 1,
        ..nine
    };
    assert_eq!(
        registry.reload(fewer_probes),
        Ok(()),
        "the manifest conflict rule made a reload fail"
    );
}

/// The manifest conflict rule's one exception: a file put in force after the entry is
/// declared, whose `[components.<name>]` key would have to give way to the entry, is refused
/// with that key's line and changes nothing (the entry keeps its resolved config).
#[test]
fn a_file_whose_section_would_give_way_to_a_declared_entry_is_refused() {
    // One success closes, so a follower of the defaults may have one probe.
    let defaults = CircuitConfig {
        half_open_required_successes: 1,
        ..CircuitConfig::DEFAULT
    };
    let (registry, log) = logged_registry(defaults);
    let probing = layering::breakers::probing_api.in_registry(&registry);
    let before = probing.config();
    let text = "[defaults]\nmin_calls = 4\n\n[components.probing_api]\n# one probe\nhalf_open_max_concurrent = 1\n";
    let err = registry.reload_from_str(text).unwrap_err();
    assert_eq!(err.line(), Some(6), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("[components.probing_api] half_open_max_concurrent = 1 conflicts with")
            && message.contains("breakers!"),
        "{message}"
    );
    assert_eq!(probing.config(), before);
    assert_eq!(
        registry.config().min_calls,
        20,
        "nothing of the file applies"
    );
    assert!(log
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileRefused { .. })));
    // The same key in a file loaded before the entry is declared gives way instead.
    let (registry, _log) = logged_registry(defaults);
    registry.reload_from_str(text).unwrap();
    let probing = layering::breakers::probing_api.in_registry(&registry);
    let c = probing.config();
    assert_eq!(
        (
            c.half_open_max_concurrent,
            c.half_open_required_successes,
            c.min_calls
        ),
        (3, 2, 4)
    );
}
