#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `HalfOpen` admits exactly `half_open_max_concurrent` probes; the next caller gets
//! `CircuitError::HalfOpenExhausted`, and a finished probe frees its slot for another caller.

use std::sync::Barrier;
use std::time::Duration;

use breaker::{CircuitConfig, CircuitError, CircuitState, ComponentBreaker, Outcome, Permit};
use breaker_suite::{breaker, trip};

const COOLDOWN: Duration = Duration::from_secs(10);

/// A tripped breaker whose cooldown has elapsed: the next acquire enters `HalfOpen`.
fn ready_to_probe(max_concurrent: u32) -> ComponentBreaker {
    let config = CircuitConfig {
        min_calls: 2,
        open_cooldown: COOLDOWN,
        half_open_max_concurrent: max_concurrent,
        half_open_required_successes: max_concurrent,
        ..CircuitConfig::DEFAULT
    };
    let (clock, b) = breaker("api", config);
    assert_eq!(trip(&b), 2);
    clock.advance(COOLDOWN);
    b
}

fn exhausted() -> CircuitError {
    CircuitError::HalfOpenExhausted {
        component: "api".into(),
    }
}

#[test]
fn admits_exactly_max_concurrent_probes() {
    let b = ready_to_probe(3);
    let probes: Vec<_> = (0..3).map(|_| b.acquire().into_result().unwrap()).collect();
    assert!(probes.iter().all(|p| p.is_probe()));
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert_eq!(b.snapshot().half_open_in_flight, 3);

    assert_eq!(b.acquire().into_result().unwrap_err(), exhausted());
    assert_eq!(b.acquire().into_result().unwrap_err(), exhausted());
    assert_eq!(b.snapshot().rejections.half_open_exhausted, 2);
    assert_eq!(b.snapshot().half_open_in_flight, 3);
}

#[test]
fn a_single_slot_admits_one_probe() {
    let b = ready_to_probe(1);
    let probe = b.acquire().into_result().unwrap();
    assert!(probe.is_probe());
    assert_eq!(b.acquire().into_result().unwrap_err(), exhausted());
    drop(probe);
}

#[test]
fn a_finished_probe_frees_its_slot_for_another_caller() {
    let b = ready_to_probe(3);
    let mut probes: Vec<_> = (0..3).map(|_| b.acquire().into_result().unwrap()).collect();
    assert!(!b.acquire().is_allowed());

    // One success of three required: still half-open, and its slot is free again.
    probes.pop().unwrap().record(Outcome::Success);
    assert_eq!(b.state(), CircuitState::HalfOpen);
    assert_eq!(b.snapshot().half_open_in_flight, 2);

    let next = b.acquire().into_result().unwrap();
    assert!(next.is_probe());
    assert_eq!(b.snapshot().half_open_in_flight, 3);
    assert_eq!(b.acquire().into_result().unwrap_err(), exhausted());
    drop(next);
    drop(probes);
}

#[test]
fn racing_callers_get_exactly_max_concurrent_probes() {
    const THREADS: usize = 8;
    for _ in 0..50 {
        let b = ready_to_probe(3);
        let acquired = Barrier::new(THREADS);
        let admitted = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        acquired.wait();
                        let permit = b.acquire();
                        // Hold every admitted probe until all threads have tried.
                        acquired.wait();
                        match permit {
                            Permit::Allowed(guard) => {
                                assert!(guard.is_probe());
                                drop(guard);
                                1
                            }
                            Permit::Rejected(e) => {
                                assert_eq!(e, exhausted());
                                0
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(admitted, 3);
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert_eq!(b.snapshot().rejections.half_open_exhausted, 5);
    }
}
