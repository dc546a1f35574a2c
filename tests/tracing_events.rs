#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The `tracing` events on refusals and trip checks (`debug` / `trace`, off by default). Alone
//! in its binary: a scoped subscriber only sees callsites whose interest no other thread has
//! cached first.

use std::time::Duration;

use breaker::{CircuitConfig, CircuitError, GlobalTripConditions};
use breaker_suite::{logged, registry, trip};

/// With a subscriber at `trace`, refusals and trip checks emit their events.
#[test]
fn refusals_and_trip_checks_are_traced() {
    let out = logged(tracing::Level::TRACE, || {
        let (clock, registry, _log) = registry(CircuitConfig {
            min_calls: 2,
            half_open_max_concurrent: 1,
            half_open_required_successes: 1,
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: 0.5,
                min_components: 1,
                min_calls: 0,
            },
            ..CircuitConfig::DEFAULT
        });
        let b = registry.register("traced").unwrap();
        assert_eq!(trip(&b), 2);
        assert!(!b.acquire().is_allowed()); // open
        clock.advance(Duration::from_secs(30));
        let probe = b.acquire().into_result().unwrap();
        assert!(!b.acquire().is_allowed()); // half-open, no slot
        drop(probe);
        b.force_open();
        assert!(!b.acquire().is_allowed()); // forced open
        b.reset();
        let other = registry.register("other").unwrap();
        assert_eq!(trip(&other), 2); // the fuse opens (1 of 2 unhealthy, ratio 0.5)
        assert!(matches!(
            b.acquire().into_result().unwrap_err(),
            CircuitError::GlobalOpen { .. }
        ));
    });
    for needle in [
        "call refused",
        "reason=\"open\"",
        "reason=\"half_open_exhausted\"",
        "reason=\"forced_open\"",
        "reason=\"global_open\"",
        "failure or slow call recorded",
    ] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
}
