#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A manifest declared in one crate (the `breaker_suite` library) and used from another (this
//! test crate) through `pub use dep::breakers;`, as the macro docs promise.

use breaker::{circuit_breaker, CircuitConfig, GlobalCircuitBreaker};
use once_cell::sync::Lazy;

pub use breaker_suite::breakers;

static REG: Lazy<GlobalCircuitBreaker> =
    Lazy::new(|| GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap());

#[circuit_breaker(component = "shared_api", registry = REG)]
fn call(ok: bool) -> Result<u8, std::io::Error> {
    if ok {
        Ok(1)
    } else {
        Err(std::io::Error::other("down"))
    }
}

#[test]
fn a_manifest_from_another_crate_checks_and_protects_calls() {
    assert_eq!(call(true).unwrap(), 1);
    assert_eq!(call(false).unwrap_err().to_string(), "down");
    let snapshot = REG.component("shared_api").unwrap().snapshot();
    assert_eq!((snapshot.successes, snapshot.failures), (1, 1));
    assert_eq!(breakers::ALL.len(), 1);
}
