//! What the benches share: the workload, the reference floor, the peers (`failsafe` 1.3 and
//! `recloser` 1.4, each through its own public API) and this engine's two paths (by hand:
//! `acquire` + `record`; and `#[circuit_breaker]`, sync and async).
//!
//! Every bench that includes this module expands [`bench_manifest!`] at its crate root (the
//! attribute names `crate::breakers::<component>`), then calls [`prepare`] once before
//! measuring. Each bench is its own process, so each has its own process-wide registry.
//!
//! Configs never open the breakers of the closed scenarios: the engine's default (`min_calls`
//! 20, `error_rate_threshold` 0.5, no consecutive-failure rule), failsafe's default (success
//! rate >= 80 % over 30 s, or 5 failures in a row) and consecutive-failures policy (5 in a
//! row), and recloser's default (error rate 0.5 over the last 100 calls) all stay closed under
//! the 1-in-10 failure pattern.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use breaker::{circuit_breaker, CircuitError, CircuitState, ComponentHandle, Outcome, Permit};
use failsafe::backoff::{Constant, EqualJittered};
use failsafe::failure_policy::{ConsecutiveFailures, OrElse, SuccessRateOverTimeWindow};
use recloser::{AsyncRecloser, Recloser};

/// One call in `FAIL_EVERY` fails in the "10 % failures" scenario: `i % 10 == 9`.
pub const FAIL_EVERY: u64 = 10;

/// A cooldown no bench outlives, so an open breaker stays open.
pub const LONG: Duration = Duration::from_secs(86_400);

/// The manifest the shared `#[circuit_breaker]` functions name. Expand it once, at the crate
/// root of every bench that includes this module.
///
/// `*_open` trip on their first failure and stay open for a day; `*_half_open` reopen after
/// 1 ms and then stay half-open (no `half_open_max_wait`; the benches' probes are ignored, so
/// the episode never decides). Unhealthy components are 5 of 16, below the global fuse's
/// default 50 %, so the fuse stays closed (checked by [`prepare`]).
macro_rules! bench_manifest {
    () => {
        breaker::breakers! {
            hand_ok,
            macro_ok,
            macro_ok_async,
            hand_mixed,
            macro_mixed,
            macro_mixed_async,
            hand_open {
                consecutive_failures_threshold: Some(1),
                open_cooldown: ::std::time::Duration::from_secs(86_400),
                open_cooldown_max: ::std::time::Duration::from_secs(86_400),
            },
            macro_open {
                consecutive_failures_threshold: Some(1),
                open_cooldown: ::std::time::Duration::from_secs(86_400),
                open_cooldown_max: ::std::time::Duration::from_secs(86_400),
            },
            macro_open_async {
                consecutive_failures_threshold: Some(1),
                open_cooldown: ::std::time::Duration::from_secs(86_400),
                open_cooldown_max: ::std::time::Duration::from_secs(86_400),
            },
            hand_forced,
            hand_half_open {
                consecutive_failures_threshold: Some(1),
                open_cooldown: ::std::time::Duration::from_millis(1),
                half_open_max_wait: None,
            },
            macro_half_open {
                consecutive_failures_threshold: Some(1),
                open_cooldown: ::std::time::Duration::from_millis(1),
                half_open_max_wait: None,
            },
            ballast_a,
            ballast_b,
            ballast_c,
            ballast_d,
        }
    };
}
pub(crate) use bench_manifest;

// ---------------------------------------------------------------------------------------------
// The workload

/// The protected function's error.
#[derive(Debug)]
pub enum BenchError {
    /// The "dependency" failed.
    Dependency,
    /// The breaker refused the call.
    Refused(CircuitError),
}

impl From<CircuitError> for BenchError {
    fn from(e: CircuitError) -> Self {
        BenchError::Refused(e)
    }
}

/// The errors `macro_half_open` ignores (every dependency error).
pub fn is_dependency(e: &BenchError) -> bool {
    matches!(e, BenchError::Dependency)
}

/// The "dependency": succeeds.
#[inline(always)]
pub fn succeed(i: u64) -> Result<u64, BenchError> {
    Ok(black_box(i))
}

/// The "dependency": fails on `i % 10 == 9`, deterministically.
#[inline(always)]
pub fn one_in_ten(i: u64) -> Result<u64, BenchError> {
    if black_box(i) % FAIL_EVERY == FAIL_EVERY - 1 {
        Err(BenchError::Dependency)
    } else {
        Ok(i)
    }
}

/// The "dependency": always fails (it never runs while a breaker is open).
#[inline(always)]
pub fn fail(i: u64) -> Result<u64, BenchError> {
    black_box(i);
    Err(BenchError::Dependency)
}

/// Polls a future that completes without waiting (every protected body here) to its output,
/// with a no-op waker: the async paths are measured without an executor in the way.
#[inline(always)]
pub fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the bench futures never wait"),
    }
}

// ---------------------------------------------------------------------------------------------
// The reference floor: one atomic load + one fetch_add per call

/// A cache line of its own.
#[repr(align(128))]
#[derive(Debug, Default)]
pub struct Padded(pub AtomicU64);

/// The least a shared breaker could do: read a state word, bump a shared counter.
#[derive(Debug, Default)]
pub struct Floor {
    state: Padded,
    count: Padded,
}

impl Floor {
    /// A closed floor (calls run) or an open one (calls are refused).
    pub fn new(open: bool) -> Self {
        let floor = Self::default();
        floor.state.0.store(u64::from(open), Ordering::Relaxed);
        floor
    }

    /// One atomic load, then the body and one `fetch_add` (or only the `fetch_add` when open).
    #[inline(always)]
    pub fn call(
        &self,
        i: u64,
        body: impl FnOnce(u64) -> Result<u64, BenchError>,
    ) -> Result<u64, BenchError> {
        if self.state.0.load(Ordering::Acquire) == 0 {
            let out = body(i);
            self.count.0.fetch_add(1, Ordering::Relaxed);
            out
        } else {
            self.count.0.fetch_add(1, Ordering::Relaxed);
            Err(BenchError::Dependency)
        }
    }

    /// The calls (or refusals) counted so far.
    pub fn count(&self) -> u64 {
        self.count.0.load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------------------------------------------
// This engine

/// By hand: acquire from a manifest handle, run, record `Ok` as success and `Err` as failure.
#[inline(always)]
pub fn by_hand(
    handle: &'static ComponentHandle,
    i: u64,
    body: impl FnOnce(u64) -> Result<u64, BenchError>,
) -> Result<u64, BenchError> {
    match handle.acquire() {
        Permit::Allowed(guard) => {
            let out = body(i);
            guard.record_result(&out);
            out
        }
        Permit::Rejected(e) => Err(e.into()),
    }
}

/// By hand, half-open: take a probe slot and give it back (`Ignored`, so the episode never
/// decides and the breaker stays half-open).
#[inline(always)]
pub fn probe_by_hand(handle: &'static ComponentHandle, i: u64) -> Result<u64, BenchError> {
    match handle.acquire() {
        Permit::Allowed(guard) => {
            let out = fail(i);
            guard.record(Outcome::Ignored);
            out
        }
        Permit::Rejected(e) => Err(e.into()),
    }
}

/// By hand, async: `ComponentBreaker::run_protected`, the engine's own future helper.
#[inline(always)]
pub async fn by_hand_async(
    handle: &'static ComponentHandle,
    i: u64,
    body: impl FnOnce(u64) -> Result<u64, BenchError>,
) -> Result<u64, BenchError> {
    handle
        .run_protected(async move { body(i) })
        .await
        .map_err(|e| match e {
            breaker::CallError::Rejected(e) => BenchError::Refused(e),
            breaker::CallError::Inner(e) => e,
        })
}

#[circuit_breaker(component = "macro_ok")]
pub fn macro_ok(i: u64) -> Result<u64, BenchError> {
    succeed(i)
}

#[circuit_breaker(component = "macro_ok_async")]
pub async fn macro_ok_async(i: u64) -> Result<u64, BenchError> {
    succeed(i)
}

#[circuit_breaker(component = "macro_mixed")]
pub fn macro_mixed(i: u64) -> Result<u64, BenchError> {
    one_in_ten(i)
}

#[circuit_breaker(component = "macro_mixed_async")]
pub async fn macro_mixed_async(i: u64) -> Result<u64, BenchError> {
    one_in_ten(i)
}

#[circuit_breaker(component = "macro_open")]
pub fn macro_open(i: u64) -> Result<u64, BenchError> {
    fail(i)
}

#[circuit_breaker(component = "macro_open_async")]
pub async fn macro_open_async(i: u64) -> Result<u64, BenchError> {
    fail(i)
}

/// Half-open through the attribute: the body's error is ignored, so the probe slot comes back
/// and the episode never decides.
#[circuit_breaker(component = "macro_half_open", ignore_if = is_dependency)]
pub fn macro_half_open(i: u64) -> Result<u64, BenchError> {
    fail(i)
}

/// Puts every component of the manifest in the state its scenario needs (once per process),
/// and checks it.
pub fn prepare() {
    use crate::breakers;
    static ONCE: std::sync::Once = std::sync::Once::new();

    ONCE.call_once(|| {
        breakers::declare(breaker::registry()).unwrap();
        // Open: one failure trips them, for a day.
        let _ = by_hand(&breakers::hand_open, 0, fail);
        let _ = macro_open(0);
        let _ = ready(macro_open_async(0));
        breakers::hand_forced.force_open();
        // Half-open: trip (by hand: the attribute on `macro_half_open` ignores its errors),
        // wait out the 1 ms cooldown, then one ignored probe moves each to HalfOpen, where it
        // stays.
        let _ = by_hand(&breakers::hand_half_open, 0, fail);
        let _ = by_hand(&breakers::macro_half_open, 0, fail);
        std::thread::sleep(Duration::from_millis(5));
        assert!(probe_by_hand(&breakers::hand_half_open, 0).is_err());
        assert!(matches!(macro_half_open(0), Err(BenchError::Dependency)));
    });

    for (handle, state) in [
        (&breakers::hand_ok, CircuitState::Closed),
        (&breakers::macro_ok, CircuitState::Closed),
        (&breakers::hand_open, CircuitState::Open),
        (&breakers::macro_open, CircuitState::Open),
        (&breakers::macro_open_async, CircuitState::Open),
        (&breakers::hand_forced, CircuitState::ForcedOpen),
        (&breakers::hand_half_open, CircuitState::HalfOpen),
        (&breakers::macro_half_open, CircuitState::HalfOpen),
    ] {
        assert_eq!(handle.state(), state, "{}", handle.name());
    }
    assert_eq!(
        breaker::registry().global().state(),
        CircuitState::Closed,
        "the global fuse must stay closed"
    );
}

/// Panics if a closed-scenario breaker opened during a run (the numbers would be wrong).
pub fn assert_closed(handles: &[&'static ComponentHandle]) {
    for h in handles {
        assert_eq!(h.state(), CircuitState::Closed, "{} opened", h.name());
    }
}

// ---------------------------------------------------------------------------------------------
// Peers

/// failsafe's default config: success rate >= 80 % over 30 s, or 5 failures in a row.
pub type FailsafeDefault = failsafe::StateMachine<
    OrElse<SuccessRateOverTimeWindow<EqualJittered>, ConsecutiveFailures<EqualJittered>>,
    (),
>;

/// failsafe with only the consecutive-failures policy.
pub type FailsafeConsecutive = failsafe::StateMachine<ConsecutiveFailures<Constant>, ()>;

/// `failsafe::Config::new().build()`.
pub fn failsafe_default() -> FailsafeDefault {
    failsafe::Config::new().build()
}

/// `n` failures in a row open it for `wait`.
pub fn failsafe_consecutive(n: u32, wait: Duration) -> FailsafeConsecutive {
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            n,
            failsafe::backoff::constant(wait),
        ))
        .build()
}

/// `failsafe::CircuitBreaker::call`.
#[inline(always)]
pub fn failsafe_call<P: failsafe::FailurePolicy>(
    cb: &failsafe::StateMachine<P, ()>,
    i: u64,
    body: impl FnOnce(u64) -> Result<u64, BenchError>,
) -> Result<u64, failsafe::Error<BenchError>> {
    failsafe::CircuitBreaker::call(cb, || body(i))
}

/// `failsafe::futures::CircuitBreaker::call`.
#[inline(always)]
pub async fn failsafe_call_async<P: failsafe::FailurePolicy + Send + Sync>(
    cb: &failsafe::StateMachine<P, ()>,
    i: u64,
    body: impl FnOnce(u64) -> Result<u64, BenchError>,
) -> Result<u64, failsafe::Error<BenchError>> {
    failsafe::futures::CircuitBreaker::call(cb, async move { body(i) }).await
}

/// recloser's default: error rate >= 0.5 over the last 100 calls, 30 s open.
pub fn recloser_default() -> Recloser {
    Recloser::default()
}

/// Opens on the first failures (a ring of 1 call) and stays open `wait`.
pub fn recloser_tripping(wait: Duration) -> Recloser {
    Recloser::custom()
        .error_rate(0.5)
        .closed_len(1)
        .open_wait(wait)
        .build()
}

/// `Recloser::call`.
#[inline(always)]
pub fn recloser_call(
    r: &Recloser,
    i: u64,
    body: impl FnOnce(u64) -> Result<u64, BenchError>,
) -> Result<u64, recloser::Error<BenchError>> {
    r.call(|| body(i))
}

/// `AsyncRecloser::call`.
#[inline(always)]
pub async fn recloser_call_async(
    r: &AsyncRecloser,
    i: u64,
    body: impl FnOnce(u64) -> Result<u64, BenchError>,
) -> Result<u64, recloser::Error<BenchError>> {
    r.call(async move { body(i) }).await
}

/// Trips a failsafe breaker (its policy must open within `n` failures).
pub fn trip_failsafe<P: failsafe::FailurePolicy>(cb: &failsafe::StateMachine<P, ()>, n: u32) {
    for i in 0..u64::from(n) {
        let _ = failsafe_call(cb, i, fail);
    }
    assert!(!cb.is_call_permitted(), "failsafe did not open");
}

/// Trips a recloser: its ring must fill, then one more failure opens it (`closed_len + 1`).
pub fn trip_recloser(r: &Recloser, n: u32) {
    for i in 0..u64::from(n) {
        let _ = recloser_call(r, i, fail);
    }
    assert!(
        matches!(recloser_call(r, 0, succeed), Err(recloser::Error::Rejected)),
        "recloser did not open"
    );
}
