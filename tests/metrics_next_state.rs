#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Snapshots and metrics report the state the next call would see: the state only advances
//! on a call, so with no traffic an `Open` breaker past its cooldown used to read `open` with
//! `retry_after: 0s` forever. Reading is read-only: it makes no transition and tells no hook.

use std::time::Duration;

use breaker::metrics::{self, Format};
use breaker::{CircuitConfig, CircuitState, Outcome, Permit};
use breaker_suite::{breaker, call, registry, trip};

const COOLDOWN: Duration = Duration::from_secs(30);
const MAX_WAIT: Duration = Duration::from_secs(60);

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    open_cooldown: COOLDOWN,
    half_open_max_wait: Some(MAX_WAIT),
    half_open_max_concurrent: 1,
    half_open_required_successes: 1,
    ..CircuitConfig::DEFAULT
};

fn state_metric(registry: &breaker::GlobalCircuitBreaker, component: &str) -> String {
    let text = metrics::encode(registry, Format::Text);
    let on: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(&format!(r#"breaker_state{{component="{component}","#)))
        .filter(|l| l.ends_with(" 1"))
        .collect();
    assert_eq!(on.len(), 1, "one state is on: {on:?}");
    on[0]
        .split("state=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn an_open_breaker_past_its_cooldown_reads_half_open_without_a_call() {
    let (clock, registry, log) = registry(CONFIG);
    let b = registry.register("db").unwrap();
    trip(&b);
    let transitions = log.transitions().len();

    clock.advance(COOLDOWN - Duration::from_millis(1));
    let s = registry.snapshot().component("db").unwrap().clone();
    assert_eq!(
        (s.state, s.next_call_state),
        (CircuitState::Open, CircuitState::Open)
    );
    assert_eq!(s.retry_after, Some(Duration::from_millis(1)));
    assert_eq!(state_metric(&registry, "db"), "open");

    clock.advance(Duration::from_millis(1));
    let s = registry.snapshot().component("db").unwrap().clone();
    assert_eq!(s.state, CircuitState::Open);
    assert_eq!(s.next_call_state, CircuitState::HalfOpen);
    assert_eq!(state_metric(&registry, "db"), "half_open");
    // Read-only: nothing moved, nobody was told.
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(log.transitions().len(), transitions);
    assert_eq!(
        registry.snapshot().component("db").unwrap().generation,
        s.generation
    );

    // The next call sees what the snapshot said.
    let Permit::Allowed(probe) = b.acquire() else {
        panic!("the cooldown has elapsed");
    };
    assert_eq!(b.state(), CircuitState::HalfOpen);
    probe.record(Outcome::Success);
    assert_eq!(b.state(), CircuitState::Closed);
}

#[test]
fn a_half_open_breaker_past_its_wait_reads_open_without_a_call() {
    let (clock, registry, log) = registry(CONFIG);
    let b = registry.register("db").unwrap();
    trip(&b);
    clock.advance(COOLDOWN);
    // A probe that never reports keeps the episode undecided.
    let stuck = b.acquire().into_result().unwrap();
    assert_eq!(b.state(), CircuitState::HalfOpen);
    let transitions = log.transitions().len();

    clock.advance(MAX_WAIT - Duration::from_millis(1));
    let s = registry.snapshot().component("db").unwrap().clone();
    assert_eq!(
        (s.state, s.next_call_state),
        (CircuitState::HalfOpen, CircuitState::HalfOpen)
    );
    assert_eq!(state_metric(&registry, "db"), "half_open");

    clock.advance(Duration::from_millis(1));
    let s = registry.snapshot().component("db").unwrap().clone();
    assert_eq!(s.state, CircuitState::HalfOpen);
    assert_eq!(s.next_call_state, CircuitState::Open);
    assert_eq!(state_metric(&registry, "db"), "open");
    assert_eq!(log.transitions().len(), transitions);

    // The next call re-opens it, as the snapshot said, and is refused.
    assert!(!b.acquire().is_allowed());
    assert_eq!(b.state(), CircuitState::Open);
    drop(stuck);
}

#[test]
fn without_a_max_wait_a_half_open_breaker_stays_half_open() {
    let (clock, b) = breaker(
        "db",
        CircuitConfig {
            half_open_max_wait: None,
            ..CONFIG
        },
    );
    trip(&b);
    clock.advance(COOLDOWN);
    let _stuck = b.acquire().into_result().unwrap();
    clock.advance(Duration::from_secs(3600));
    assert_eq!(b.snapshot().next_call_state, CircuitState::HalfOpen);
}

#[test]
fn manual_states_the_fuse_and_a_closed_breaker_never_advance_by_time() {
    let (clock, registry, _log) = registry(CircuitConfig {
        global_trip_conditions: breaker::GlobalTripConditions {
            min_components: 1,
            component_open_ratio: 0.25,
            ..CONFIG.global_trip_conditions
        },
        ..CONFIG
    });
    let forced = registry.register("forced").unwrap();
    let off = registry.register("off").unwrap();
    let open = registry.register("open").unwrap();
    let closed = registry.register("closed").unwrap();
    forced.force_open();
    off.disable();
    call(&closed, Outcome::Failure);
    trip(&open);
    // The fuse opened with `open` (1 of 4 components); it has no timer of its own.
    assert_eq!(registry.global().state(), CircuitState::Open);

    clock.advance(Duration::from_secs(24 * 3600));
    let s = registry.snapshot();
    assert_eq!(s.global.next_call_state, CircuitState::Open);
    assert_eq!(state_metric(&registry, "__global__"), "open");
    for (name, state) in [
        ("forced", CircuitState::ForcedOpen),
        ("off", CircuitState::Disabled),
        ("closed", CircuitState::Closed),
        ("open", CircuitState::HalfOpen),
    ] {
        assert_eq!(s.component(name).unwrap().next_call_state, state, "{name}");
        assert_eq!(state_metric(&registry, name), state.as_str(), "{name}");
    }
}

/// The JSON a `/breakers` reader gets carries both states.
#[test]
fn the_snapshot_serializes_the_next_call_state() {
    let (clock, b) = breaker("db", CONFIG);
    trip(&b);
    clock.advance(COOLDOWN);
    let json = serde_json::to_value(b.snapshot()).unwrap();
    assert_eq!(json["state"], "open");
    assert_eq!(json["next_call_state"], "half_open");
}
