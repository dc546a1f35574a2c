#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The one test of this binary, in a process of its own: the first use of a manifest handle
//! creates the process-wide registry, and an `install` after it is refused with an error that
//! names that handle and says to install before the first call (it used to say only "already
//! initialised", leaving the user to guess which call did it).

use breaker::{install, CircuitConfig, GlobalCircuitBreaker};

breaker::breakers! { early_api }

#[test]
fn an_install_after_a_handles_first_use_names_the_handle() {
    // The first use: the process-wide registry is created here, on the built-in defaults.
    assert_eq!(breakers::early_api.config(), CircuitConfig::DEFAULT);
    let mine = GlobalCircuitBreaker::new(CircuitConfig {
        min_calls: 50,
        ..CircuitConfig::DEFAULT
    })
    .unwrap();
    let err = install(mine).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the process-wide breaker registry is already initialised: the first use of \
         `breakers::early_api` (directly or through a `#[circuit_breaker]` fn) created it with \
         the built-in defaults; call `install` once, at startup, before the first call through \
         a `breakers!` handle, a `#[circuit_breaker]` fn or `breaker::registry()`"
    );
    assert_eq!(err.created_by_component(), Some("early_api"));
    // The registry in place is the handle's, and the refused one comes back intact.
    assert_eq!(
        breaker::registry().config().min_calls,
        CircuitConfig::DEFAULT.min_calls
    );
    assert_eq!(err.into_inner().config().min_calls, 50);
}
