#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Instructions per call, for `scripts/instructions` (valgrind's callgrind counts them: a
//! measure two noisy cores cannot disturb, so a change of a few instructions on the hot path
//! shows). `instructions <subject> <calls>` runs `calls` calls of one subject on one breaker
//! and exits; the script runs each subject at two call counts and divides the difference, so
//! setup and teardown cancel out.
//!
//! Subjects (one breaker, `Closed` throughout, `SystemClock` unless said):
//!
//! | subject | what each call does |
//! |---|---|
//! | `standalone` | `acquire` + `record(Success)` on a `ComponentBreaker` with no owner |
//! | `member` | the same on a registry's component (admission also reads the fuse's gate) |
//! | `failure` | `acquire` + `record(Failure)`; `min_calls` out of reach, so the trip check runs in full and never trips |
//! | `mixed` | one call in ten fails (`i % 10 == 9`) |
//! | `half` | time window, every other call fails (`error_rate_threshold` 1 and `min_calls` reached, so the trip check runs in full, rates included, and never trips): a failure costs `2 × half − standalone` |
//! | `call` | `call(\|\| Ok(..))` |
//! | `by_hand` | `acquire`, the same body, `record_result`: `call`'s loop written out by hand |
//! | `coarse` | `standalone` on a [`CoarseClock`] (ticked once, at the start) |
//! | `count` | `acquire` + `record(Success)`, `sample_weighting = count` |
//! | `count_half` | count window, every other call fails (`error_rate_threshold` 1, so it never trips): a failure costs `2 × count_half − count` |
//! | `macro_sync`, `macro_async` | a `#[circuit_breaker]` function, sync and async (polled once with a no-op waker) |
//! | `recloser`, `failsafe` | the peers' `call` with their default configs |
//!
//! `standalone` and `member` use only API that predates the gate, so they measure older
//! commits too.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use breaker::{
    circuit_breaker, CircuitConfig, CoarseClock, ComponentBreaker, GlobalCircuitBreaker, Outcome,
    Permit, SampleWeighting, SystemClock,
};

breaker::breakers! {
    macro_sync,
    macro_async,
}

#[circuit_breaker(component = "macro_sync")]
fn protected_sync(i: u64) -> Result<u64, breaker::CircuitError> {
    Ok(black_box(i))
}

#[circuit_breaker(component = "macro_async")]
async fn protected_async(i: u64) -> Result<u64, breaker::CircuitError> {
    Ok(black_box(i))
}

fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the bench futures never wait"),
    }
}

/// `calls` calls whose outcome is `outcome(i)`; returns how many were admitted.
fn run(b: &ComponentBreaker, calls: u64, outcome: impl Fn(u64) -> Outcome) -> u64 {
    let mut allowed = 0;
    for i in 0..calls {
        if let Permit::Allowed(guard) = black_box(b).acquire() {
            black_box(guard.record(outcome(i)));
            allowed += 1;
        }
    }
    allowed
}

fn standalone(config: CircuitConfig) -> ComponentBreaker {
    ComponentBreaker::new("standalone", config, Arc::new(SystemClock)).unwrap()
}

fn success(_: u64) -> Outcome {
    Outcome::Success
}

fn count(error_rate_threshold: f32) -> CircuitConfig {
    CircuitConfig {
        sample_weighting: SampleWeighting::Count,
        error_rate_threshold,
        ..CircuitConfig::DEFAULT
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let subject = args.next().unwrap_or_default();
    let calls: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    if calls == 0 {
        // `cargo bench` runs every bench target with `--bench`; this one only measures when
        // the script asks.
        return;
    }
    let allowed = match subject.as_str() {
        "standalone" => run(&standalone(CircuitConfig::DEFAULT), calls, success),
        "member" => {
            let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
            let b = registry.register("member").unwrap();
            run(&b, calls, success)
        }
        "failure" => {
            let b = standalone(CircuitConfig {
                min_calls: u32::MAX,
                ..CircuitConfig::DEFAULT
            });
            let n = run(&b, calls, |_| Outcome::Failure);
            assert_eq!(b.state(), breaker::CircuitState::Closed);
            n
        }
        "mixed" => run(&standalone(CircuitConfig::DEFAULT), calls, |i| {
            if i % 10 == 9 {
                Outcome::Failure
            } else {
                Outcome::Success
            }
        }),
        "call" => {
            let b = standalone(CircuitConfig::DEFAULT);
            (0..calls)
                .filter(|i| black_box(&b).call(|| Ok::<_, ()>(black_box(*i))).is_ok())
                .count() as u64
        }
        "by_hand" => {
            let b = standalone(CircuitConfig::DEFAULT);
            (0..calls)
                .filter(|i| match black_box(&b).acquire() {
                    Permit::Allowed(guard) => {
                        let out = Ok::<_, ()>(black_box(*i));
                        guard.record_result(&out);
                        out.is_ok()
                    }
                    Permit::Rejected(_) => false,
                })
                .count() as u64
        }
        "half" => {
            let b = standalone(CircuitConfig {
                error_rate_threshold: 1.0,
                ..CircuitConfig::DEFAULT
            });
            let n = run(&b, calls, |i| {
                if i % 2 == 1 {
                    Outcome::Failure
                } else {
                    Outcome::Success
                }
            });
            assert_eq!(b.state(), breaker::CircuitState::Closed);
            n
        }
        "coarse" => {
            let clock = CoarseClock::new();
            let b =
                ComponentBreaker::new("coarse", CircuitConfig::DEFAULT, Arc::new(clock)).unwrap();
            run(&b, calls, success)
        }
        "count" => run(&standalone(count(0.5)), calls, success),
        "count_half" => {
            let b = standalone(count(1.0));
            let n = run(&b, calls, |i| {
                if i % 2 == 1 {
                    Outcome::Failure
                } else {
                    Outcome::Success
                }
            });
            assert_eq!(b.state(), breaker::CircuitState::Closed);
            n
        }
        "macro_sync" | "macro_async" => {
            breakers::declare(breaker::registry()).unwrap();
            (0..calls)
                .filter(|i| {
                    if subject == "macro_sync" {
                        protected_sync(*i).is_ok()
                    } else {
                        ready(protected_async(*i)).is_ok()
                    }
                })
                .count() as u64
        }
        "recloser" => {
            let r = recloser::Recloser::default();
            (0..calls)
                .filter(|i| r.call(|| Ok::<_, ()>(black_box(*i))).is_ok())
                .count() as u64
        }
        "failsafe" => {
            use failsafe::CircuitBreaker;
            let cb = failsafe::Config::new().build();
            (0..calls)
                .filter(|i| cb.call(|| Ok::<_, ()>(black_box(*i))).is_ok())
                .count() as u64
        }
        other => panic!("unknown subject {other:?}: see the module docs"),
    };
    assert_eq!(allowed, calls, "every call is admitted in Closed");
}
