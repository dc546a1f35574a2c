#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The global fuse as a breaker of its own (`registry.global()`): calls through it never
//! drive it, and it refuses them while it is open. Its state is derived from the components,
//! so it has no cooldown and no retry hint. (`tests/global_fuse.rs` covers how the fuse opens
//! and closes over the components.)

use breaker::{CircuitConfig, CircuitError, CircuitState, GlobalTripConditions, Outcome};
use breaker_suite::{registry, trip};

#[test]
fn the_global_fuse_refuses_its_own_calls_while_open() {
    let (_clock, registry, _log) = registry(CircuitConfig {
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
    let b = registry.register("only").unwrap();
    let fuse = registry.global();
    let g = fuse.acquire().into_result().unwrap();
    g.record(Outcome::Failure);
    assert_eq!(
        fuse.state(),
        CircuitState::Closed,
        "calls never drive the fuse"
    );
    assert_eq!(trip(&b), 2);
    assert_eq!(fuse.state(), CircuitState::Open);
    assert!(matches!(
        fuse.acquire().into_result().unwrap_err(),
        CircuitError::GlobalOpen { .. }
    ));
    assert_eq!(fuse.retry_after(), None);
}
