#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Live reload: state and counts survive, new thresholds apply at the next evaluation, invalid
//! configs are refused with the running one kept, and every outcome is announced.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, Event, FakeClock, GlobalCircuitBreaker,
    GlobalTripConditions, Outcome, RegistryError, SampleWeighting,
};
use breaker_suite::EventLog;

/// `min_calls` 10, threshold 0.5.
const BASE: CircuitConfig = CircuitConfig {
    min_calls: 10,
    error_rate_threshold: 0.5,
    ..CircuitConfig::DEFAULT
};

fn setup() -> (GlobalCircuitBreaker, EventLog, FakeClock) {
    let clock = FakeClock::new();
    let log = EventLog::default();
    let registry = GlobalCircuitBreaker::builder()
        .config(BASE)
        .clock(clock.clone())
        .on_event(log.hook())
        .build()
        .unwrap();
    (registry, log, clock)
}

fn record(b: &ComponentBreaker, outcome: Outcome, times: u32) {
    for _ in 0..times {
        b.acquire().into_result().unwrap().record(outcome);
    }
}

/// The config events, in order.
fn config_events(log: &EventLog) -> Vec<Event> {
    log.events()
        .into_iter()
        .filter(|e| !matches!(e, Event::StateChanged(_)))
        .collect()
}

#[test]
fn reload_keeps_an_open_breaker_open_with_its_counts() {
    let (registry, _log, _clock) = setup();
    let b = registry.register("kept_open").unwrap();
    record(&b, Outcome::Success, 3);
    record(&b, Outcome::Failure, 7);
    assert_eq!(b.state(), CircuitState::Open);
    let before = b.snapshot();

    registry
        .reload(CircuitConfig {
            error_rate_threshold: 0.9,
            min_calls: 50,
            ..BASE
        })
        .unwrap();

    assert_eq!(b.state(), CircuitState::Open);
    assert!(!b.acquire().is_allowed());
    let after = b.snapshot();
    assert_eq!(after.successes, before.successes);
    assert_eq!(after.failures, before.failures);
    assert_eq!(after.window, before.window);
    assert_eq!(after.generation, before.generation);
    assert_eq!(after.transitions, before.transitions);
    assert_eq!(b.config().error_rate_threshold, 0.9);
}

#[test]
fn reload_keeps_a_closed_window() {
    let (registry, _log, _clock) = setup();
    let b = registry.register("kept_window").unwrap();
    record(&b, Outcome::Success, 6);
    record(&b, Outcome::Failure, 2);
    let before = b.snapshot();
    registry
        .reload(CircuitConfig {
            error_rate_threshold: 0.8,
            ..BASE
        })
        .unwrap();
    let after = b.snapshot();
    assert_eq!(after.window, before.window);
    assert_eq!(after.consecutive_failures, 2);
    assert_eq!(after.state, CircuitState::Closed);
}

#[test]
fn a_lower_threshold_applies_at_the_next_evaluation() {
    let (registry, _log, _clock) = setup();
    let b = registry.register("lowered").unwrap();
    record(&b, Outcome::Success, 7);
    record(&b, Outcome::Failure, 3);
    assert_eq!(b.state(), CircuitState::Closed, "3/10 < 0.5");

    registry
        .reload(CircuitConfig {
            error_rate_threshold: 0.3,
            ..BASE
        })
        .unwrap();
    assert_eq!(b.state(), CircuitState::Closed, "no evaluation yet");
    record(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), CircuitState::Open, "4/11 >= 0.3 after reload");
}

#[test]
fn a_higher_min_calls_applies_at_the_next_evaluation() {
    let (registry, _log, _clock) = setup();
    let b = registry.register("raised").unwrap();
    record(&b, Outcome::Failure, 9);
    registry
        .reload(CircuitConfig {
            min_calls: 20,
            ..BASE
        })
        .unwrap();
    record(&b, Outcome::Failure, 1);
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "10 calls < new min_calls 20"
    );
    record(&b, Outcome::Failure, 10);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn a_valid_reload_emits_config_reloaded() {
    let (registry, log, _clock) = setup();
    registry.register("announced").unwrap();
    let next = CircuitConfig {
        min_calls: 5,
        ..BASE
    };
    registry.reload(next).unwrap();
    assert_eq!(registry.config(), next);
    assert_eq!(
        config_events(&log),
        vec![Event::ConfigReloaded { component: None }]
    );
}

#[test]
fn an_invalid_reload_is_refused_and_the_running_config_stays() {
    let (registry, log, _clock) = setup();
    let b = registry.register("refused").unwrap();
    let err = registry
        .reload(CircuitConfig {
            error_rate_threshold: 1.5,
            min_calls: 1,
            ..BASE
        })
        .unwrap_err();
    assert_eq!(err.field(), "error_rate_threshold");
    assert_eq!(registry.config(), BASE);
    assert_eq!(b.config(), BASE);
    assert_eq!(
        config_events(&log),
        vec![Event::ConfigRefused {
            component: None,
            error: err
        }]
    );
    // The old min_calls (10) still gates: had min_calls 1 been applied this would trip.
    record(&b, Outcome::Failure, 1);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[test]
fn changing_window_buckets_on_reload_keeps_the_window() {
    let (registry, log, _clock) = setup();
    let b = registry.register("buckets").unwrap();
    record(&b, Outcome::Failure, 4);
    let resized = CircuitConfig {
        rolling_window: Duration::from_secs(10),
        window_buckets: 20,
        ..BASE
    };
    registry.reload(resized).unwrap();
    assert_eq!(registry.config(), resized);
    assert_eq!(b.config().window_buckets, 20);
    assert_eq!(
        b.snapshot().window.calls,
        4,
        "the counts are re-bucketed, not dropped"
    );
    assert_eq!(
        config_events(&log),
        vec![Event::ConfigReloaded { component: None }]
    );
}

#[test]
fn changing_rolling_window_keeps_the_window_and_totals() {
    let (registry, _log, _clock) = setup();
    let b = registry.register("rewindowed").unwrap();
    record(&b, Outcome::Failure, 9);
    registry
        .reload(CircuitConfig {
            rolling_window: Duration::from_secs(20),
            ..BASE
        })
        .unwrap();
    let snap = b.snapshot();
    assert_eq!(snap.window.calls, 9, "the window keeps its counts");
    assert_eq!(snap.failures, 9);
    record(&b, Outcome::Failure, 1);
    assert_eq!(
        b.state(),
        CircuitState::Open,
        "10/10 in the re-bucketed window"
    );
}

#[test]
fn switching_the_weighting_on_reload_keeps_the_window() {
    let (registry, _log, clock) = setup();
    let b = registry.register("reweighted").unwrap();
    record(&b, Outcome::Failure, 4);
    clock.advance(Duration::from_secs(5));
    record(&b, Outcome::Success, 4);
    assert_eq!(b.snapshot().window.error_rate, 0.5);
    registry
        .reload(CircuitConfig {
            sample_weighting: SampleWeighting::Exponential,
            ..BASE
        })
        .unwrap();
    let window = b.snapshot().window;
    assert_eq!(window.calls, 8);
    // The failures are 5 buckets (one half-life) old: 2 / (2 + 4).
    assert!((window.error_rate - 1.0 / 3.0).abs() < 1e-4, "{window:?}");
}

#[test]
fn reload_component_gives_a_component_its_own_config() {
    let (registry, log, _clock) = setup();
    let own = registry.register("own").unwrap();
    let follower = registry.register("follower").unwrap();
    let custom = CircuitConfig {
        min_calls: 3,
        error_rate_threshold: 0.9,
        ..BASE
    };
    registry.reload_component("own", custom).unwrap();
    assert_eq!(own.config(), custom);
    assert_eq!(follower.config(), BASE);
    assert_eq!(registry.config(), BASE, "the defaults are untouched");
    assert_eq!(
        config_events(&log),
        vec![Event::ConfigReloaded {
            component: Some("own".into())
        }]
    );

    let defaults = CircuitConfig {
        min_calls: 4,
        error_rate_threshold: 0.2,
        ..BASE
    };
    registry.reload(defaults).unwrap();
    assert_eq!(
        own.config(),
        custom,
        "an override ignores later default reloads"
    );
    assert_eq!(follower.config(), defaults);

    // And the override is what the component evaluates with.
    record(&own, Outcome::Success, 1);
    record(&own, Outcome::Failure, 2);
    assert_eq!(own.state(), CircuitState::Closed, "2/3 < 0.9");
    record(&own, Outcome::Failure, 6);
    assert_eq!(own.state(), CircuitState::Closed, "8/9 < 0.9");
    record(&own, Outcome::Failure, 1);
    assert_eq!(own.state(), CircuitState::Open, "9/10 >= 0.9");
}

#[test]
fn register_with_also_ignores_later_default_reloads() {
    let (registry, _log, _clock) = setup();
    let custom = CircuitConfig {
        min_calls: 3,
        ..BASE
    };
    let b = registry.register_with("registered_with", custom).unwrap();
    registry
        .reload(CircuitConfig {
            min_calls: 30,
            ..BASE
        })
        .unwrap();
    assert_eq!(b.config(), custom);
}

#[test]
fn reload_component_of_an_unknown_name_is_an_error() {
    let (registry, _log, _clock) = setup();
    registry.register("known").unwrap();
    let err = registry.reload_component("unknown", BASE).unwrap_err();
    assert_eq!(
        err,
        RegistryError::UnknownComponent {
            name: "unknown".to_owned()
        }
    );
    assert!(registry.component("unknown").is_none());
}

#[test]
fn an_invalid_reload_component_is_refused_and_keeps_following_defaults() {
    let (registry, log, _clock) = setup();
    let b = registry.register("still_follows").unwrap();
    let err = registry
        .reload_component(
            "still_follows",
            CircuitConfig {
                open_cooldown: Duration::ZERO,
                ..BASE
            },
        )
        .unwrap_err();
    let RegistryError::Config(error) = err else {
        panic!("expected a config error, got {err:?}");
    };
    assert_eq!(error.field(), "open_cooldown");
    assert_eq!(b.config(), BASE);
    assert_eq!(
        config_events(&log),
        vec![Event::ConfigRefused {
            component: Some("still_follows".into()),
            error
        }]
    );
    let defaults = CircuitConfig {
        min_calls: 7,
        ..BASE
    };
    registry.reload(defaults).unwrap();
    assert_eq!(
        b.config(),
        defaults,
        "a refused override does not detach it"
    );
}

#[test]
fn reload_component_may_change_window_buckets() {
    let (registry, _log, _clock) = setup();
    let b = registry.register("fixed_ring").unwrap();
    record(&b, Outcome::Success, 2);
    let resized = CircuitConfig {
        window_buckets: 5,
        ..BASE
    };
    registry.reload_component("fixed_ring", resized).unwrap();
    assert_eq!(b.config(), resized);
    assert_eq!(b.snapshot().window.calls, 2);
}

#[test]
fn standalone_breakers_are_not_touched_by_a_registry_reload() {
    let (registry, _log, clock) = setup();
    let standalone =
        ComponentBreaker::new("standalone_reload", BASE, Arc::new(clock.clone())).unwrap();
    registry
        .reload(CircuitConfig {
            min_calls: 1,
            ..BASE
        })
        .unwrap();
    assert_eq!(standalone.config(), BASE);
}

/// Traffic in every 1 s bucket from t = 90 s to t = 99 s, then at t = 100 s a reload to
/// `rolling_window` (10 buckets of a new width): the window keeps the successes still inside
/// it, re-bucketed by age (`carried` of them), and outcomes recorded after the reload land in
/// the new window beside them and trip it.
fn reload_window_then_fail(name: &str, rolling_window: Duration, carried: u32) {
    let (registry, _log, clock) = setup();
    let b = registry.register(name).unwrap();
    clock.advance(Duration::from_secs(90));
    for _ in 0..10 {
        record(&b, Outcome::Success, 1);
        clock.advance(Duration::from_secs(1));
    }
    // At t = 100 s the t = 90 s bucket has just left the 10 s window.
    assert_eq!(b.snapshot().window.calls, 9);
    registry
        .reload(CircuitConfig {
            rolling_window,
            ..BASE
        })
        .unwrap();
    assert_eq!(b.snapshot().window.calls, u64::from(carried), "re-bucketed");
    // min_calls 10 and 50 %: the failures trip once they are at least half the window and
    // the window holds 10 calls.
    let needed = carried.max(10 - carried);
    record(&b, Outcome::Failure, needed - 1);
    let snap = b.snapshot();
    assert_eq!(snap.failures, u64::from(needed - 1));
    assert_eq!(
        (snap.window.calls, snap.window.failures),
        (u64::from(carried + needed - 1), u64::from(needed - 1)),
        "outcomes after the reload must land in the new window"
    );
    assert_eq!(b.state(), CircuitState::Closed);
    record(&b, Outcome::Failure, 1);
    assert_eq!(
        b.state(),
        CircuitState::Open,
        "{needed} failures of {}",
        carried + needed
    );
}

#[test]
fn growing_rolling_window_on_reload_counts_new_outcomes() {
    // 10 buckets of 2 s: new epochs are *smaller* than the old tags. The nine successes of
    // 91..=99 s all fit in the 20 s window.
    reload_window_then_fail("grown_window", Duration::from_secs(20), 9);
}

#[test]
fn shrinking_rolling_window_on_reload_counts_new_outcomes() {
    // 10 buckets of 500 ms: only the successes of 95..=99 s (midpoints 95.5..=99.5 s) are
    // inside the last 5 s.
    reload_window_then_fail("shrunk_window", Duration::from_secs(5), 5);
}

/// The reproduction: `register_with` a bucket count other than the defaults' used to
/// register the component on the defaults and then refuse the config.
#[test]
fn register_with_its_own_bucket_count_registers_with_it() {
    let (registry, _log, _clock) = setup();
    let own = CircuitConfig {
        window_buckets: 20,
        ..BASE
    };
    let b = registry.register_with("db", own).unwrap();
    assert_eq!(b.config(), own);
    assert_eq!(
        registry.component("db").unwrap().config().window_buckets,
        20
    );
}

#[test]
fn a_refused_register_with_of_an_existing_component_changes_nothing() {
    let (registry, log, _clock) = setup();
    let b = registry.register("kept").unwrap();
    record(&b, Outcome::Success, 3);
    record(&b, Outcome::Failure, 2);
    let before = b.snapshot();
    registry
        .reload_from_str("[components.kept]\nhalf_open_max_concurrent = 3\n")
        .unwrap();
    let before_config = b.config();
    let err = registry
        .register_with(
            "kept",
            CircuitConfig {
                half_open_max_concurrent: 4,
                half_open_required_successes: 4,
                ..BASE
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Config(e) if e.component() == Some("kept") && e.line() == Some(2)),
        "{err:?}"
    );
    assert_eq!(b.config(), before_config);
    let after = b.snapshot();
    assert_eq!(after.window, before.window);
    assert_eq!(
        (after.successes, after.failures),
        (before.successes, before.failures)
    );
    assert!(Arc::ptr_eq(&b, &registry.component("kept").unwrap()));
    // It still follows the defaults (the refused config did not attach).
    registry
        .reload(CircuitConfig {
            min_calls: 4,
            ..BASE
        })
        .unwrap();
    assert_eq!(b.config().min_calls, 4);
    assert!(log.events().iter().any(|e| matches!(
        e,
        Event::ConfigRefused {
            component: Some(c),
            ..
        } if c == "kept"
    )));
}

#[test]
fn reload_component_that_conflicts_with_the_file_names_the_files_line() {
    let (registry, _log, _clock) = setup();
    let b = registry.register("tuned").unwrap();
    registry
        .reload_from_str("[components.tuned]\n\nhalf_open_max_concurrent = 4\n")
        .unwrap();
    let err = registry
        .reload_component(
            "tuned",
            CircuitConfig {
                half_open_max_concurrent: 5,
                half_open_required_successes: 5,
                ..BASE
            },
        )
        .unwrap_err();
    let RegistryError::Config(error) = &err else {
        panic!("expected a config error, got {err:?}");
    };
    assert_eq!(error.field(), "half_open_required_successes");
    assert_eq!(error.component(), Some("tuned"));
    assert_eq!(error.line(), Some(3), "{err}");
    assert_eq!(b.config().half_open_max_concurrent, 4);
    assert_eq!(
        b.config().half_open_required_successes,
        BASE.half_open_required_successes
    );
}

/// Found by tests/layering_model.rs: a config that is invalid on its own was accepted when
/// the file's section for the component happened to override the invalid field, so the
/// next file without that key would have been refused because of code.
#[test]
fn register_with_an_invalid_config_is_refused_even_when_the_file_hides_the_field() {
    let (registry, _log, _clock) = setup();
    registry
        .reload_from_str("[components.hidden]\nerror_rate_threshold = 0.3\n")
        .unwrap();
    let err = registry
        .register_with(
            "hidden",
            CircuitConfig {
                error_rate_threshold: 1.5,
                ..BASE
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Config(e) if e.field() == "error_rate_threshold"),
        "{err:?}"
    );
    assert!(registry.component("hidden").is_none());
}

/// `config()` is the effective defaults, the file's `[defaults]` included; a code reload
/// built on it writes the file's values into the code layer, where they outlive the file.
/// `code_defaults()` is the code layer alone, the base a code reload should change.
#[test]
fn a_code_reload_built_on_code_defaults_leaves_the_files_keys_to_the_file() {
    let (registry, _log, _clock) = setup();
    registry
        .reload_from_str("[defaults]\nmin_calls = 30\n")
        .unwrap();
    assert_eq!(registry.config().min_calls, 30);
    assert_eq!(registry.code_defaults(), BASE);

    // The trap: built on config(), the file's 30 becomes code and stays without the file.
    registry
        .reload(CircuitConfig {
            open_cooldown: Duration::from_secs(5),
            ..registry.config()
        })
        .unwrap();
    assert_eq!(registry.code_defaults().min_calls, 30);
    registry.reload_from_str("# no defaults\n").unwrap();
    assert_eq!(
        registry.config().min_calls,
        30,
        "the file's value outlived it"
    );

    // Built on code_defaults(), the file's keys stay the file's.
    registry.reload(BASE).unwrap();
    registry
        .reload_from_str("[defaults]\nmin_calls = 30\n")
        .unwrap();
    registry
        .reload(CircuitConfig {
            open_cooldown: Duration::from_secs(7),
            ..registry.code_defaults()
        })
        .unwrap();
    assert_eq!(
        registry.code_defaults(),
        CircuitConfig {
            open_cooldown: Duration::from_secs(7),
            ..BASE
        }
    );
    assert_eq!(registry.config().min_calls, 30, "the file is still on top");
    registry.reload_from_str("# no defaults\n").unwrap();
    assert_eq!(
        registry.config(),
        CircuitConfig {
            open_cooldown: Duration::from_secs(7),
            ..BASE
        },
        "without the file, the code's own min_calls"
    );
}

/// The fuse reads the registry's `global_trip_conditions` only, so a whole config in code
/// (`register_with`, `reload_component`) does not report its own: the component's config
/// carries the registry's, and follows `[global]` and code reloads of the defaults.
#[test]
fn a_whole_config_in_code_carries_the_registrys_fuse_conditions() {
    let conditions = GlobalTripConditions {
        component_open_ratio: 0.25,
        min_components: 2,
        min_calls: 0,
    };
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig {
        global_trip_conditions: conditions,
        ..BASE
    });
    let meaningless = GlobalTripConditions {
        component_open_ratio: 1.0,
        min_components: 9,
        min_calls: 5,
    };
    let own = registry
        .register_with(
            "own",
            CircuitConfig {
                min_calls: 3,
                global_trip_conditions: meaningless,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap();
    assert_eq!(own.config().min_calls, 3);
    assert_eq!(own.config().global_trip_conditions, conditions);
    registry
        .reload_component(
            "own",
            CircuitConfig {
                min_calls: 4,
                global_trip_conditions: meaningless,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap();
    assert_eq!(own.config().min_calls, 4);
    assert_eq!(own.config().global_trip_conditions, conditions);

    registry
        .reload_from_str("[global]\nmin_components = 4\n")
        .unwrap();
    assert_eq!(
        own.config().global_trip_conditions,
        GlobalTripConditions {
            min_components: 4,
            ..conditions
        }
    );
    assert_eq!(own.config().min_calls, 4, "its own config otherwise");
    assert_eq!(
        registry.config().global_trip_conditions,
        own.config().global_trip_conditions
    );
}
