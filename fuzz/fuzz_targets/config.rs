//! Config parsing, validation and reload: any text, read as a TOML or JSON `CircuitConfig`
//! (a NUL byte separates the first config from the one reloaded over it), and as a layered
//! config file (`reload_from_str`: `[defaults]`, `[global]`, `[components.<name>]`).
//!
//! Checks: nothing panics; `check` and `validate` agree; every constructor accepts exactly
//! the valid configs; a valid config survives a JSON and a TOML round trip unchanged; a
//! reload succeeds exactly when the new config is valid (every field reloads live), and a
//! refused one leaves the running config in force; the breaker keeps its invariants either
//! way; a refused file changes nothing, an accepted one leaves every component with a valid
//! config, and loading the same file twice gives the same configs.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, FakeClock, GlobalCircuitBreaker, Outcome, Permit,
};
use libfuzzer_sys::fuzz_target;

fn parse(text: &str) -> Option<CircuitConfig> {
    toml::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(text).ok())
}

fn round_trips(config: &CircuitConfig) {
    let json = serde_json::to_string(config).expect("a valid config serialises to JSON");
    let back: CircuitConfig = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("JSON round trip failed: {e}\n{json}"));
    assert_eq!(&back, config, "JSON round trip changed the config:\n{json}");
    // TOML integers are i64: a u64 beyond that cannot be written, which is an error, not a
    // panic.
    match toml::to_string(config) {
        Ok(text) => {
            let back: CircuitConfig = toml::from_str(&text)
                .unwrap_or_else(|e| panic!("TOML round trip failed: {e}\n{text}"));
            assert_eq!(&back, config, "TOML round trip changed the config:\n{text}");
        }
        Err(e) => assert!(
            config.global_trip_conditions.min_calls > i64::MAX as u64,
            "a valid config cannot be written as TOML: {e}"
        ),
    }
}

/// A few calls of each kind, a trip attempt, a cooldown: the invariants hold.
fn exercise(b: &ComponentBreaker, clock: &FakeClock) {
    for i in 0..6u32 {
        if let Permit::Allowed(g) = b.acquire() {
            g.record(if i % 3 == 0 {
                Outcome::Success
            } else {
                Outcome::Failure
            });
        }
    }
    clock.advance(Duration::from_secs(40));
    if let Permit::Allowed(g) = b.acquire() {
        g.record(Outcome::Success);
    }
    let s = b.snapshot();
    assert_eq!(s.calls, s.successes + s.failures + s.ignored);
    assert!((0.0..=1.0).contains(&s.window.error_rate));
    assert!((0.0..=1.0).contains(&s.window.slow_call_rate));
    let transitions: u64 = s.transitions.iter().map(|t| t.count).sum();
    assert_eq!(s.generation, transitions);
    assert!(s.state != CircuitState::ForcedOpen && s.state != CircuitState::Disabled);
}

/// The text as a config file over a registry with two components (one with its own config).
fn as_file(text: &str) {
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let a = registry.register("a").unwrap();
    let own = CircuitConfig {
        error_rate_threshold: 0.3,
        ..CircuitConfig::DEFAULT
    };
    let b = registry.register_with("binance_rest", own).unwrap();
    let before = (registry.config(), a.config(), b.config());
    match registry.reload_from_str(text) {
        Err(e) => {
            let _ = e.to_string();
            let _ = (e.line(), e.config_error());
            assert_eq!((registry.config(), a.config(), b.config()), before);
        }
        Ok(_report) => {
            for config in [registry.config(), a.config(), b.config()] {
                assert!(config.validate().is_ok(), "{config:?}");
            }
            let after = (registry.config(), a.config(), b.config());
            assert!(
                registry.reload_from_str(text).is_ok(),
                "a file accepted once is accepted again"
            );
            assert_eq!((registry.config(), a.config(), b.config()), after);
            // A component registered after the file takes its section too.
            let c = registry.register("late").unwrap();
            assert!(c.config().validate().is_ok());
        }
    }
    exercise(&a, &clock);
    exercise(&b, &clock);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    as_file(text);
    let (first, second) = match text.split_once('\0') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let Some(config) = parse(first) else {
        return;
    };
    let valid = config.validate();
    // The compile-time check a manifest runs (through `__private`) agrees with `validate`.
    let compiled = breaker::__private::manifest_error(&config, None, &[], None);
    assert_eq!(valid.is_ok(), compiled.is_none());
    if let Err(e) = &valid {
        // The message names the field and formats the value, whatever it is.
        assert!(e.to_string().starts_with(e.field()));
        let compiled = compiled.unwrap();
        assert!(compiled.as_str().starts_with(e.field()));
    }
    let clock = FakeClock::new();
    let standalone = ComponentBreaker::new("fuzz", config, Arc::new(clock.clone()));
    assert_eq!(standalone.is_ok(), valid.is_ok());
    let built = GlobalCircuitBreaker::builder()
        .config(config)
        .clock(clock.clone())
        .build();
    assert_eq!(built.is_ok(), valid.is_ok());
    let Ok(registry) = built else {
        return;
    };
    round_trips(&config);
    let b = registry.register("fuzz").unwrap();
    exercise(&b, &clock);

    let Some(next) = second.and_then(parse) else {
        return;
    };
    let acceptable = next.validate().is_ok();
    let result = registry.reload(next);
    assert_eq!(result.is_ok(), acceptable, "{result:?}");
    if acceptable {
        assert_eq!(registry.config(), next);
        assert_eq!(b.config(), next);
    } else {
        assert_eq!(registry.config(), config);
        assert_eq!(b.config(), config);
    }
    exercise(&b, &clock);
});
