#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Every invalid field is refused, by name, by `validate` and every constructor, in the same
//! words as a manifest's compile-time check; configs load from TOML/JSON with human durations.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    BuildError, CircuitConfig, ComponentBreaker, ConfigValue, FakeClock, GlobalCircuitBreaker,
    GlobalTripConditions, RegistryError, SampleWeighting, MAX_DURATION,
};

const D: CircuitConfig = CircuitConfig::DEFAULT;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The defaults with one change.
fn with(change: impl FnOnce(&mut CircuitConfig)) -> CircuitConfig {
    let mut config = D;
    change(&mut config);
    config
}

type Change = fn(&mut CircuitConfig);

/// `(field refused, change)`: each change breaks exactly one rule of the defaults.
fn invalid() -> Vec<(&'static str, CircuitConfig)> {
    let over = MAX_DURATION + Duration::from_nanos(1);
    let rows: Vec<(&'static str, Change)> = vec![
        ("rolling_window", |c| c.rolling_window = Duration::ZERO),
        ("rolling_window", |c| {
            c.rolling_window = MAX_DURATION + Duration::from_nanos(1)
        }),
        ("window_buckets", |c| c.window_buckets = 0),
        ("window_buckets", |c| c.window_buckets = 1001),
        ("window_buckets", |c| c.window_buckets = 3), // 10 s / 3
        ("window_buckets", |c| {
            // buckets narrower than 1 ms
            c.rolling_window = Duration::from_micros(500);
            c.window_buckets = 1;
        }),
        ("min_calls", |c| c.min_calls = 0),
        ("error_rate_threshold", |c| c.error_rate_threshold = 0.0),
        ("error_rate_threshold", |c| c.error_rate_threshold = 1.5),
        ("error_rate_threshold", |c| {
            c.error_rate_threshold = f32::NAN
        }),
        ("error_rate_threshold", |c| c.error_rate_threshold = -0.1),
        ("error_rate_threshold", |c| {
            c.error_rate_threshold = f32::INFINITY
        }),
        ("consecutive_failures_threshold", |c| {
            c.consecutive_failures_threshold = Some(0)
        }),
        ("slow_call_threshold", |c| {
            c.slow_call_threshold = Some(Duration::ZERO)
        }),
        ("slow_call_rate_threshold", |c| {
            c.slow_call_rate_threshold = 0.0
        }),
        ("slow_call_rate_threshold", |c| {
            c.slow_call_rate_threshold = f32::NAN
        }),
        ("slow_call_rate_threshold", |c| {
            c.slow_call_rate_threshold = 1.01
        }),
        ("open_cooldown", |c| c.open_cooldown = Duration::ZERO),
        ("open_backoff_multiplier", |c| {
            c.open_backoff_multiplier = 0.5
        }),
        ("open_backoff_multiplier", |c| {
            c.open_backoff_multiplier = f32::NAN
        }),
        ("open_backoff_multiplier", |c| {
            c.open_backoff_multiplier = f32::INFINITY
        }),
        ("open_backoff_multiplier", |c| {
            c.open_backoff_multiplier = 1000.5
        }),
        ("half_open_max_concurrent", |c| {
            c.half_open_max_concurrent = 0
        }),
        ("half_open_max_concurrent", |c| {
            c.half_open_max_concurrent = 1001
        }),
        ("half_open_required_successes", |c| {
            c.half_open_required_successes = 0
        }),
        ("half_open_required_successes", |c| {
            c.half_open_required_successes = c.half_open_max_concurrent + 1;
        }),
        ("half_open_allowed_failures", |c| {
            c.half_open_allowed_failures = 1001
        }),
        ("half_open_max_wait", |c| {
            c.half_open_max_wait = Some(Duration::ZERO)
        }),
        ("exponential_half_life", |c| {
            c.exponential_half_life = Duration::ZERO
        }),
        ("global_trip_conditions.component_open_ratio", |c| {
            c.global_trip_conditions.component_open_ratio = 0.0;
        }),
        ("global_trip_conditions.component_open_ratio", |c| {
            c.global_trip_conditions.component_open_ratio = 1.5;
        }),
        ("global_trip_conditions.component_open_ratio", |c| {
            c.global_trip_conditions.component_open_ratio = f32::NAN;
        }),
        ("global_trip_conditions.min_components", |c| {
            c.global_trip_conditions.min_components = 0
        }),
    ];
    let mut table: Vec<_> = rows
        .into_iter()
        .map(|(field, change)| (field, with(change)))
        .collect();
    // Durations past MAX_DURATION, for every duration field that has the limit.
    table.extend([
        (
            "slow_call_threshold",
            with(|c| c.slow_call_threshold = Some(over)),
        ),
        ("open_cooldown", with(|c| c.open_cooldown = over)),
        ("open_cooldown_max", with(|c| c.open_cooldown_max = over)),
        (
            "half_open_max_wait",
            with(|c| c.half_open_max_wait = Some(over)),
        ),
        (
            "exponential_half_life",
            with(|c| c.exponential_half_life = over),
        ),
    ]);
    table
}

fn bad() -> CircuitConfig {
    with(|c| c.min_calls = 0)
}

#[test]
fn the_defaults_are_valid() {
    assert_eq!(D.validate(), Ok(()));
    assert_eq!(
        breaker::__private::manifest_error(&D, None, &[], None).map(|m| m.as_str().to_owned()),
        None
    );
    assert_eq!(CircuitConfig::default(), D);
}

#[test]
fn validate_names_every_invalid_field() {
    for (field, config) in invalid() {
        let err = config
            .validate()
            .expect_err(&format!("{field} in {config:?} must be refused"));
        assert_eq!(err.field(), field, "{config:?}");
        assert!(!err.rule().is_empty(), "{field}");
        // The one rule whose bound is another field names that field's value.
        let bound = if field == "half_open_required_successes" {
            format!(" ({})", config.half_open_max_concurrent)
        } else {
            String::new()
        };
        assert_eq!(
            err.to_string(),
            format!("{field} = {}: {}{bound}", err.value(), err.rule())
        );
    }
}

/// A manifest's compile-time check (`__private::manifest_error`, which `breakers!` panics
/// with in a `const`) words every refusal as `validate` does: exactly, when the value is a
/// count or a zero duration, or when the macro passes the value as written; with the field
/// and the rule only when it cannot write the value.
#[test]
fn the_compile_time_check_words_every_refusal_as_validate() {
    use breaker::__private::manifest_error;
    for (field, config) in invalid() {
        let runtime = config.validate().unwrap_err().to_string();
        let value = config.validate().unwrap_err().value().to_string();
        let at_field = manifest_error(&config, Some(field), &[], Some(&value))
            .unwrap_or_else(|| panic!("{field}: the field's own check fires"));
        assert_eq!(at_field.as_str(), runtime, "{field}");
        // The entry-level check leaves a field the entry writes to that field's check.
        assert!(
            manifest_error(&config, None, &[field], None).is_none(),
            "{field}"
        );
        let unwritten = manifest_error(&config, None, &[], None).unwrap();
        let err = config.validate().unwrap_err();
        match err.value() {
            ConfigValue::Count(_) => assert_eq!(unwritten.as_str(), runtime, "{field}"),
            ConfigValue::Duration(d) if d.is_zero() => {
                assert_eq!(unwritten.as_str(), runtime, "{field}");
            }
            _ => assert_eq!(
                unwritten.as_str(),
                format!("{field}: {}", err.rule()),
                "a value a const cannot format is left out"
            ),
        }
    }
    // Another field's check stays quiet.
    let config = with(|c| c.min_calls = 0);
    assert!(manifest_error(&config, Some("error_rate_threshold"), &[], None).is_none());
}

#[test]
fn the_compile_time_check_works_in_const_context() {
    use breaker::__private::{manifest_error, Message};
    const BROKEN: CircuitConfig = CircuitConfig {
        half_open_required_successes: 5,
        ..CircuitConfig::DEFAULT
    };
    const MESSAGE: Option<Message> = manifest_error(&BROKEN, None, &[], None);
    const FINE: Option<Message> = manifest_error(&CircuitConfig::DEFAULT, None, &[], None);
    assert_eq!(
        MESSAGE.unwrap().as_str(),
        "half_open_required_successes = 5: must be between 1 and half_open_max_concurrent (3)"
    );
    assert_eq!(FINE.map(|m| m.as_str().to_owned()), None);
}

#[test]
fn error_messages_name_field_value_and_rule() {
    let duration_rule = "must be greater than 0 and at most 1 year";
    let cases = [
        (
            with(|c| c.rolling_window = Duration::ZERO),
            format!("rolling_window = 0s: {duration_rule}"),
        ),
        (
            with(|c| c.window_buckets = 3),
            "window_buckets = 3: must divide rolling_window into equal whole-nanosecond buckets"
                .to_owned(),
        ),
        (bad(), "min_calls = 0: must be at least 1".to_owned()),
        (
            with(|c| c.error_rate_threshold = 1.5),
            "error_rate_threshold = 1.5: must be in (0, 1]".to_owned(),
        ),
        (
            with(|c| c.error_rate_threshold = f32::NAN),
            "error_rate_threshold = NaN: must be in (0, 1]".to_owned(),
        ),
        (
            with(|c| c.slow_call_threshold = Some(Duration::ZERO)),
            format!("slow_call_threshold = 0s: {duration_rule} when set"),
        ),
        (
            with(|c| c.open_backoff_multiplier = 0.5),
            "open_backoff_multiplier = 0.5: must be in [1, 1000]".to_owned(),
        ),
        (
            with(|c| c.open_cooldown_max = MAX_DURATION + SECS(1)),
            "open_cooldown_max = 1year 1s: must be at most 1 year".to_owned(),
        ),
        (
            with(|c| c.half_open_max_wait = Some(Duration::from_millis(0))),
            format!("half_open_max_wait = 0s: {duration_rule} when set"),
        ),
        (
            with(|c| c.global_trip_conditions.min_components = 0),
            "global_trip_conditions.min_components = 0: must be at least 1".to_owned(),
        ),
        (
            with(|c| c.half_open_required_successes = 5),
            "half_open_required_successes = 5: must be between 1 and half_open_max_concurrent (3)"
                .to_owned(),
        ),
        (
            with(|c| {
                c.half_open_max_concurrent = 2;
                c.half_open_required_successes = 0;
            }),
            "half_open_required_successes = 0: must be between 1 and half_open_max_concurrent (2)"
                .to_owned(),
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(config.validate().unwrap_err().to_string(), expected);
    }
}

#[test]
fn boundary_values_are_accepted() {
    let rows: [Change; 20] = [
        |c| c.rolling_window = MAX_DURATION,
        |c| {
            // the narrowest bucket allowed
            c.rolling_window = Duration::from_millis(1);
            c.window_buckets = 1;
        },
        |c| c.window_buckets = 1000,
        |c| c.window_buckets = 1,
        |c| c.min_calls = 1,
        |c| c.error_rate_threshold = 1.0,
        |c| c.error_rate_threshold = f32::MIN_POSITIVE,
        |c| c.consecutive_failures_threshold = Some(1),
        |c| c.slow_call_threshold = Some(Duration::from_nanos(1)),
        |c| c.slow_call_rate_threshold = 1.0,
        |c| c.open_backoff_multiplier = 1.0,
        |c| c.open_backoff_multiplier = 1000.0,
        |c| c.open_cooldown_max = c.open_cooldown,
        // The cap only limits the backoff's growth: below the cooldown it means no growth.
        |c| c.open_cooldown_max = c.open_cooldown - SECS(1),
        |c| c.open_cooldown_max = Duration::ZERO,
        |c| c.open_cooldown_max = MAX_DURATION,
        |c| {
            c.half_open_max_concurrent = 1000;
            c.half_open_required_successes = 1000;
        },
        |c| c.half_open_allowed_failures = 1000,
        |c| c.half_open_max_wait = None,
        |c| {
            c.global_trip_conditions.component_open_ratio = 1.0;
            c.global_trip_conditions.min_components = 1;
        },
    ];
    for change in rows {
        let config = with(change);
        assert_eq!(config.validate(), Ok(()), "{config:?}");
    }
}

#[test]
fn the_first_broken_rule_in_field_order_is_reported() {
    let config = CircuitConfig {
        min_calls: 0,
        error_rate_threshold: 2.0,
        open_cooldown: Duration::ZERO,
        ..D
    };
    assert_eq!(config.validate().unwrap_err().field(), "min_calls");
}

#[test]
fn registry_new_refuses_an_invalid_config() {
    let err = GlobalCircuitBreaker::new(bad()).unwrap_err();
    assert_eq!(err.field(), "min_calls");
}

#[test]
fn builder_refuses_an_invalid_config() {
    let err = GlobalCircuitBreaker::builder()
        .config(CircuitConfig {
            error_rate_threshold: f32::NAN,
            ..D
        })
        .clock(FakeClock::new())
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "error_rate_threshold");
}

#[test]
fn register_with_refuses_an_invalid_config_and_registers_nothing() {
    let registry = GlobalCircuitBreaker::builder()
        .clock(FakeClock::new())
        .build()
        .unwrap();
    let err = registry.register_with("invalid_cfg", bad()).unwrap_err();
    match err {
        RegistryError::Config(e) => assert_eq!(e.field(), "min_calls"),
        other => panic!("expected a config error, got {other:?}"),
    }
    assert!(registry.component("invalid_cfg").is_none());
    assert!(registry.components().is_empty());
}

#[test]
fn register_with_refuses_an_invalid_config_for_an_existing_component() {
    let registry = GlobalCircuitBreaker::builder()
        .clock(FakeClock::new())
        .build()
        .unwrap();
    let b = registry.register("existing").unwrap();
    let err = registry.register_with("existing", bad()).unwrap_err();
    assert!(
        matches!(&err, RegistryError::Config(e) if e.field() == "min_calls"),
        "{err:?}"
    );
    assert_eq!(b.config(), D);
}

#[test]
fn component_breaker_new_refuses_an_invalid_config() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        window_buckets: 1001,
        ..D
    };
    let err = ComponentBreaker::new("standalone_invalid", config, Arc::new(clock)).unwrap_err();
    assert!(
        matches!(&err, BuildError::Config(e) if e.field() == "window_buckets"),
        "{err:?}"
    );
}

#[test]
fn toml_with_human_durations() {
    let config: CircuitConfig = toml::from_str(
        r#"
        rolling_window = "30s"
        window_buckets = 30
        min_calls = 5
        error_rate_threshold = 0.25
        consecutive_failures_threshold = 7
        slow_call_threshold = "250ms"
        open_cooldown = "1m 30s"
        half_open_max_wait = "2m"
        sample_weighting = "exponential"
        exponential_half_life = "1500ms"

        [global_trip_conditions]
        min_components = 2
        "#,
    )
    .unwrap();
    let expected = CircuitConfig {
        rolling_window: SECS(30),
        window_buckets: 30,
        min_calls: 5,
        error_rate_threshold: 0.25,
        consecutive_failures_threshold: Some(7),
        slow_call_threshold: Some(Duration::from_millis(250)),
        open_cooldown: SECS(90),
        half_open_max_wait: Some(SECS(120)),
        sample_weighting: SampleWeighting::Exponential,
        exponential_half_life: Duration::from_millis(1500),
        global_trip_conditions: GlobalTripConditions {
            min_components: 2,
            ..GlobalTripConditions::DEFAULT
        },
        ..D
    };
    assert_eq!(config, expected);
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn partial_configs_fill_in_the_defaults() {
    let empty: CircuitConfig = toml::from_str("").unwrap();
    assert_eq!(empty, D);
    let partial: CircuitConfig = toml::from_str("min_calls = 7").unwrap();
    assert_eq!(partial, CircuitConfig { min_calls: 7, ..D });
    let json: CircuitConfig = serde_json::from_str(r#"{"open_cooldown": "45s"}"#).unwrap();
    assert_eq!(
        json,
        CircuitConfig {
            open_cooldown: SECS(45),
            ..D
        }
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let err = toml::from_str::<CircuitConfig>("min_calls = 7\nmin_call = 8").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `min_call`"),
        "{err}"
    );
    let nested = "[global_trip_conditions]\nmin_component = 2";
    let err = toml::from_str::<CircuitConfig>(nested).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `min_component`"),
        "{err}"
    );
    let err = serde_json::from_str::<CircuitConfig>(r#"{"rolling_windows": "1s"}"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown field `rolling_windows`"),
        "{err}"
    );
}

#[test]
fn bad_durations_and_values_are_rejected_by_serde_or_validate() {
    let err = toml::from_str::<CircuitConfig>(r#"open_cooldown = "soon""#).unwrap_err();
    assert!(err.to_string().contains("soon"), "{err}");
    let err = toml::from_str::<CircuitConfig>(r#"sample_weighting = "linear""#).unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `linear`"),
        "{err}"
    );
    // In range for the type but not for the rules: loading succeeds, validation refuses.
    let loaded: CircuitConfig = toml::from_str("error_rate_threshold = 1.5").unwrap();
    assert_eq!(
        loaded.validate().unwrap_err().field(),
        "error_rate_threshold"
    );
}

#[test]
fn serializes_durations_in_human_form() {
    let text = toml::to_string(&D).unwrap();
    assert!(text.contains(r#"rolling_window = "10s""#), "{text}");
    assert!(text.contains(r#"open_cooldown_max = "5m""#), "{text}");
    assert!(text.contains(r#"sample_weighting = "sliding""#), "{text}");
}

#[test]
fn toml_round_trip_is_lossless() {
    let configs = [
        D,
        CircuitConfig {
            rolling_window: SECS(60),
            window_buckets: 12,
            min_calls: 3,
            error_rate_threshold: 0.3,
            consecutive_failures_threshold: Some(5),
            slow_call_threshold: Some(Duration::from_millis(250)),
            slow_call_rate_threshold: 0.8,
            open_cooldown: Duration::from_millis(1500),
            open_backoff_multiplier: 1.5,
            open_cooldown_max: SECS(600),
            half_open_max_concurrent: 5,
            half_open_required_successes: 2,
            half_open_allowed_failures: 1,
            half_open_max_wait: Some(SECS(20)),
            sample_weighting: SampleWeighting::Exponential,
            exponential_half_life: SECS(15),
            window_calls: 40,
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: 0.75,
                min_components: 4,
                min_calls: 100,
            },
        },
    ];
    for config in configs {
        let text = toml::to_string(&config).unwrap();
        let back: CircuitConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config, "{text}");
    }
}

#[test]
fn toml_round_trip_keeps_a_disabled_half_open_max_wait() {
    // `half_open_max_wait` defaults to Some(60s); None ("wait forever") must survive a trip
    // through a TOML file rather than silently coming back as the default.
    let config = CircuitConfig {
        half_open_max_wait: None,
        ..D
    };
    let text = toml::to_string(&config).unwrap();
    let back: CircuitConfig = toml::from_str(&text).unwrap();
    assert_eq!(back.half_open_max_wait, None, "serialized as:\n{text}");
}

#[test]
fn json_round_trip_is_lossless_including_none() {
    let config = CircuitConfig {
        consecutive_failures_threshold: None,
        slow_call_threshold: None,
        half_open_max_wait: None,
        sample_weighting: SampleWeighting::Exponential,
        ..D
    };
    let text = serde_json::to_string(&config).unwrap();
    let back: CircuitConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, config, "{text}");
}

/// humantime's year (365.25 days), so `"1y"` in a file is the longest duration, as documented.
#[test]
fn the_longest_duration_is_one_humantime_year() {
    assert_eq!(MAX_DURATION, Duration::from_secs(31_557_600));
    let year: CircuitConfig = toml::from_str("open_cooldown = \"1y\"").unwrap();
    assert_eq!(year.open_cooldown, MAX_DURATION);
    assert_eq!(
        CircuitConfig {
            open_cooldown_max: MAX_DURATION,
            ..year
        }
        .validate(),
        Ok(())
    );
}

/// Setting only the cooldown is valid: `open_cooldown_max` (5 min by default) caps the
/// backoff's growth, and a cooldown above it simply does not grow.
#[test]
fn a_config_that_sets_only_the_cooldown_is_valid_and_does_not_back_off_past_it() {
    let ten_minutes = SECS(600);
    let config = CircuitConfig {
        open_cooldown: ten_minutes,
        min_calls: 1,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..D
    };
    assert_eq!(config.validate(), Ok(()));

    let clock = FakeClock::new();
    let b = ComponentBreaker::new("long_cooldown", config, Arc::new(clock.clone())).unwrap();
    b.acquire()
        .into_result()
        .unwrap()
        .record(breaker::Outcome::Failure);
    assert_eq!(b.retry_after(), Some(ten_minutes));
    clock.advance(ten_minutes);
    // The probe fails: re-open. The doubled cooldown would be 20 min; the cap is
    // max(open_cooldown, open_cooldown_max) = 10 min.
    b.acquire()
        .into_result()
        .unwrap()
        .record(breaker::Outcome::Failure);
    assert_eq!(b.state(), breaker::CircuitState::Open);
    assert_eq!(b.retry_after(), Some(ten_minutes));
}

#[test]
fn off_reads_and_writes_for_every_optional_field() {
    let off: CircuitConfig = toml::from_str(
        "consecutive_failures_threshold = \"off\"\nslow_call_threshold = \"off\"\nhalf_open_max_wait = \"off\"\n",
    )
    .unwrap();
    assert_eq!(off.consecutive_failures_threshold, None);
    assert_eq!(off.slow_call_threshold, None);
    assert_eq!(off.half_open_max_wait, None);
    let text = toml::to_string(&off).unwrap();
    assert!(
        text.contains("consecutive_failures_threshold = \"off\""),
        "None is written as \"off\", so a layer can carry it: {text}"
    );
    let back: CircuitConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, off);
    let json: CircuitConfig =
        serde_json::from_str(r#"{"consecutive_failures_threshold": null}"#).unwrap();
    assert_eq!(json.consecutive_failures_threshold, None);
    let seven: CircuitConfig = toml::from_str("consecutive_failures_threshold = 7").unwrap();
    assert_eq!(seven.consecutive_failures_threshold, Some(7));
    for text in [
        "consecutive_failures_threshold = -1",
        "consecutive_failures_threshold = \"soon\"",
    ] {
        let err = toml::from_str::<CircuitConfig>(text).unwrap_err();
        assert!(
            err.to_string().contains("consecutive_failures_threshold"),
            "the error points at the key: {err}"
        );
    }
}

#[test]
fn zero_consecutive_failures_is_refused_and_says_how_to_turn_it_off() {
    let err = with(|c| c.consecutive_failures_threshold = Some(0))
        .validate()
        .unwrap_err();
    assert!(err.rule().contains("\"off\""), "{err}");
}
