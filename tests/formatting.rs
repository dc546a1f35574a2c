#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! What `Debug` and `Display` show: the parts of a clock, breaker, registry and builder a
//! reader needs in a log line, and the exact text of every state and transition reason.

use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, Clock, FakeClock, GlobalCircuitBreaker, Outcome, TransitionReason,
};
use breaker_suite::{call, registry};

#[test]
fn debug_output_names_what_matters() {
    let (clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let b = registry.register("dbg").unwrap();
    call(&b, Outcome::Success);
    let clock_dbg = format!("{clock:?}");
    assert!(clock_dbg.contains("FakeClock") && clock_dbg.contains("elapsed"));
    let b_dbg = format!("{b:?}");
    assert!(b_dbg.contains("dbg") && b_dbg.contains("Window") && b_dbg.contains("stripes"));
    let r_dbg = format!("{registry:?}");
    assert!(r_dbg.contains("components: 1") && r_dbg.contains("Fuse"));
    let builder = GlobalCircuitBreaker::builder().on_event(|_| {});
    assert!(format!("{builder:?}").contains("hooks: 1"));
    assert_eq!(format!("{:?}", FakeClock::default().elapsed()), "0ns");
}

/// The clock a registry reports is the one it was built with (the `Debug` above reads it).
#[test]
fn a_registry_reads_the_clock_it_was_given() {
    let (clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    assert_eq!(registry.clock().now(), clock.now());
    clock.advance(Duration::from_secs(5));
    assert_eq!(registry.clock().now(), clock.now());
    assert_eq!(format!("{clock:?}"), "FakeClock { elapsed: 5s }");
}

#[test]
fn every_state_and_reason_displays() {
    for state in CircuitState::ALL {
        assert_eq!(state.to_string(), state.as_str());
    }
    let reasons = [
        (
            TransitionReason::ErrorRate {
                rate: 0.5,
                threshold: 0.5,
                calls: 10,
            },
            "error rate 0.5 >= 0.5 over 10 calls",
        ),
        (
            TransitionReason::SlowCallRate {
                rate: 1.0,
                threshold: 0.8,
                calls: 5,
            },
            "slow-call rate 1 >= 0.8 over 5 calls",
        ),
        (
            TransitionReason::ConsecutiveFailures { count: 3 },
            "3 consecutive failures",
        ),
        (TransitionReason::CooldownElapsed, "cooldown elapsed"),
        (
            TransitionReason::ProbesSucceeded { successes: 2 },
            "2 probe(s) succeeded",
        ),
        (
            TransitionReason::ProbesFailed { failures: 1 },
            "1 probe(s) failed",
        ),
        (
            TransitionReason::HalfOpenTimeout,
            "half-open episode timed out",
        ),
        (TransitionReason::ForcedOpen, "forced open"),
        (TransitionReason::Disabled, "disabled"),
        (TransitionReason::Reset, "reset"),
        (
            TransitionReason::GlobalRatio {
                unhealthy: 2,
                components: 4,
            },
            "2 of 4 components unhealthy",
        ),
    ];
    for (reason, text) in reasons {
        assert_eq!(reason.to_string(), text);
    }
}
