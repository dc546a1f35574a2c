#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The process-wide registry: `install` succeeds once, before any use; a later install is
//! refused with `AlreadyInstalled` and hands its registry back.
//!
//! This file is its own test binary (its own process), so it may touch the global. Every
//! assertion that does lives in the one test below, so test ordering cannot matter.

use breaker::{CircuitConfig, CircuitState, Outcome};
use breaker_suite::registry;

fn min_calls(min_calls: u32) -> CircuitConfig {
    CircuitConfig {
        min_calls,
        ..CircuitConfig::DEFAULT
    }
}

#[test]
fn install_succeeds_once_before_use_and_then_is_refused() {
    let (clock, first, _log) = registry(min_calls(7));
    let installed = breaker::install(first).unwrap();
    assert_eq!(installed.config().min_calls, 7);
    assert!(std::ptr::eq(installed, breaker::registry()));
    assert_eq!(breaker::registry().config().min_calls, 7);

    // The installed registry is the one every caller reaches, clock included.
    let db = breaker::registry().register("db").unwrap();
    for _ in 0..7 {
        breaker::registry()
            .acquire("db")
            .into_result()
            .unwrap()
            .record(Outcome::Failure);
    }
    assert_eq!(db.state(), CircuitState::Open);
    clock.advance(CircuitConfig::DEFAULT.open_cooldown);
    assert!(breaker::registry()
        .acquire("db")
        .into_result()
        .unwrap()
        .is_probe());

    // A second install is refused, hands back the registry it was given, and changes nothing.
    let (_clock, second, _log) = registry(min_calls(9));
    let refused = breaker::install(second).unwrap_err();
    assert!(refused.to_string().contains("already initialised"));
    let rejected = refused.into_inner();
    assert_eq!(rejected.config().min_calls, 9);
    assert!(rejected.components().is_empty());
    assert_eq!(breaker::registry().config().min_calls, 7);
    assert_eq!(breaker::registry().components(), ["db"]);

    // ... however often it is tried.
    let again = breaker::install(rejected).unwrap_err().into_inner();
    assert_eq!(again.config().min_calls, 9, "the same registry comes back");
    assert!(std::ptr::eq(installed, breaker::registry()));
}
