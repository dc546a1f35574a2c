#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `#[circuit_breaker(timeout = "2s")]`: a call that finishes within the timeout is untouched;
//! one that runs past it is cut off on the breaker's clock (the `FakeClock` here, so no test
//! sleeps), its future dropped, the call recorded as a failure (and as slow when the timeout
//! is at least `slow_call_threshold`), and the caller gets `CircuitError::Timeout` through
//! `From<CircuitError>`; a half-open probe that times out gives its slot back.
//!
//! Each test lives in its own module with its own registry (on its own `FakeClock`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

use breaker::{circuit_breaker, CircuitConfig, CircuitError, CircuitState};
use futures::channel::oneshot;
use futures::executor::block_on;

breaker::breakers! {
    /// The API every test module calls, each in its own registry.
    rest,
}

use breaker_suite::COOLDOWN;

const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum ApiError {
    Http(u16),
    Canceled,
    Breaker(CircuitError),
}

impl From<CircuitError> for ApiError {
    fn from(e: CircuitError) -> Self {
        ApiError::Breaker(e)
    }
}

impl From<oneshot::Canceled> for ApiError {
    fn from(_: oneshot::Canceled) -> Self {
        ApiError::Canceled
    }
}

/// This file's `isolated_registry!`: its component is `rest`.
macro_rules! isolated_registry {
    ($config:expr) => {
        breaker_suite::isolated_registry!($config, rest);
    };
}

/// Sets its flag when dropped: proves a cut-off call's future was dropped.
struct DropFlag(&'static AtomicBool);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

fn is_timeout(result: &Result<u32, ApiError>) -> bool {
    matches!(
        result,
        Err(ApiError::Breaker(CircuitError::Timeout { component, after }))
            if component == "rest" && *after == TIMEOUT
    )
}

/// Polls `f` once: it must be pending.
fn poll_once<F: std::future::Future + Unpin>(f: &mut F) {
    block_on(async {
        assert!(
            futures::poll!(&mut *f).is_pending(),
            "the call finished early"
        );
    });
}

mod within {
    use super::*;

    isolated_registry!(breaker_suite::small_config(3));

    #[circuit_breaker(component = "rest", registry = REG, timeout = "2s")]
    async fn wait_for(rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        Ok(rx.await?)
    }

    #[test]
    fn a_call_within_the_timeout_is_untouched() {
        let (tx, rx) = oneshot::channel();
        let mut call = Box::pin(wait_for(rx));
        poll_once(&mut call);
        // Just short of the timeout: still running.
        CLOCK.advance(TIMEOUT - Duration::from_millis(1));
        poll_once(&mut call);
        tx.send(7).unwrap();
        assert_eq!(block_on(call).unwrap(), 7);
        let s = snap();
        assert_eq!((s.calls, s.successes, s.failures), (1, 1, 0));

        // A call that answers at once never waits on the timer.
        let (tx, rx) = oneshot::channel();
        tx.send(8).unwrap();
        assert_eq!(block_on(wait_for(rx)).unwrap(), 8);
        assert_eq!(snap().successes, 2);
        assert_eq!(runs(), 2);
    }
}

mod past_timeout {
    use super::*;

    isolated_registry!(CircuitConfig {
        slow_call_threshold: Some(Duration::from_secs(1)),
        ..breaker_suite::small_config(100)
    });

    static DROPPED: AtomicBool = AtomicBool::new(false);

    /// Holds a drop flag and never answers (its sender is kept alive by the test).
    #[circuit_breaker(component = "rest", registry = REG, timeout = "2s")]
    async fn hang(rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
        let _flag = DropFlag(&DROPPED);
        RUNS.fetch_add(1, SeqCst);
        Ok(rx.await?)
    }

    #[test]
    fn a_call_past_the_timeout_is_a_failure_and_its_future_is_dropped() {
        let (_tx, rx) = oneshot::channel::<u32>();
        let mut call = Box::pin(hang(rx));
        poll_once(&mut call);
        assert!(!DROPPED.load(SeqCst));
        CLOCK.advance(TIMEOUT);
        let out = block_on(&mut call);
        assert!(is_timeout(&out), "expected a timeout, got {out:?}");
        assert!(
            DROPPED.load(SeqCst),
            "the cut-off call's future is still alive"
        );
        assert_eq!(runs(), 1);
        let s = snap();
        assert_eq!((s.calls, s.successes, s.failures, s.ignored), (1, 0, 1, 0));
        // It ran the whole timeout, past `slow_call_threshold`: slow as well.
        assert_eq!(s.slow_calls, 1);
    }
}

mod woken {
    use super::*;

    isolated_registry!(breaker_suite::small_config(100));

    #[circuit_breaker(component = "rest", registry = REG, timeout = "2s")]
    async fn hang(rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
        Ok(rx.await?)
    }

    /// The executor is parked on the call: advancing the fake clock must wake it.
    #[test]
    fn advancing_the_clock_wakes_a_parked_call() {
        let (tx, rx) = oneshot::channel::<u32>();
        let (done_tx, done_rx) = mpsc::channel();
        let (started_tx, started_rx) = mpsc::channel();
        let worker = std::thread::spawn(move || {
            let out = block_on(async move {
                let mut call = Box::pin(hang(rx));
                assert!(futures::poll!(call.as_mut()).is_pending());
                started_tx.send(()).unwrap();
                call.await
            });
            done_tx.send(out).unwrap();
        });
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // Short of the deadline: the parked call stays pending.
        CLOCK.advance(TIMEOUT / 2);
        assert!(done_rx.recv_timeout(Duration::from_millis(50)).is_err());
        CLOCK.advance(TIMEOUT / 2);
        let out = done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("advancing the fake clock did not wake the timed-out call");
        assert!(is_timeout(&out), "expected a timeout, got {out:?}");
        worker.join().unwrap();
        drop(tx);
        assert_eq!(snap().failures, 1);
    }
}

mod half_open {
    use super::*;

    isolated_registry!(breaker_suite::small_config(3));

    static PROBES: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(component = "rest", registry = REG, timeout = "2s")]
    async fn fetch(fail: bool) -> Result<u32, ApiError> {
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(1)
        }
    }

    #[circuit_breaker(component = "rest", registry = REG, timeout = "2s")]
    async fn hang(rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
        PROBES.fetch_add(1, SeqCst);
        Ok(rx.await?)
    }

    #[test]
    fn a_probe_that_times_out_gives_its_slot_back() {
        for _ in 0..3 {
            assert!(matches!(block_on(fetch(true)), Err(ApiError::Http(500))));
        }
        assert_eq!(rest().state(), CircuitState::Open);
        CLOCK.advance(COOLDOWN);

        // The only probe slot, taken by a call that hangs.
        let (_tx, rx) = oneshot::channel::<u32>();
        let mut probe = Box::pin(hang(rx));
        poll_once(&mut probe);
        assert_eq!(PROBES.load(SeqCst), 1);
        assert_eq!(rest().state(), CircuitState::HalfOpen);
        assert_eq!(snap().half_open_in_flight, 1);
        assert!(matches!(
            block_on(fetch(false)),
            Err(ApiError::Breaker(CircuitError::HalfOpenExhausted { .. }))
        ));

        // Cut off: a failed probe, so the slot comes back and the breaker opens again.
        CLOCK.advance(TIMEOUT);
        let out = block_on(probe);
        assert!(is_timeout(&out), "expected a timeout, got {out:?}");
        let s = snap();
        assert_eq!(
            s.half_open_in_flight, 0,
            "the timed-out probe kept its slot"
        );
        assert_eq!(s.failures, 4);
        assert_eq!(rest().state(), CircuitState::Open);

        // Once the (backed-off) cooldown is over, the next probe is admitted and heals it.
        let wait = s.retry_after.expect("an open breaker says when to retry");
        CLOCK.advance(wait);
        assert_eq!(block_on(fetch(false)).unwrap(), 1);
        assert_eq!(rest().state(), CircuitState::Closed);
    }
}

mod shapes {
    use super::*;

    isolated_registry!(breaker_suite::small_config(100));

    async fn cached(_rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
        Ok(0)
    }

    /// A fallback answers refusals only: a timeout is returned through `From<CircuitError>`,
    /// since the arguments moved into the cut-off call.
    #[circuit_breaker(component = "rest", registry = REG, timeout = "1500ms", fallback = cached)]
    async fn with_fallback(rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
        Ok(rx.await?)
    }

    // The shape under test is a fn returning a future.
    #[allow(clippy::manual_async_fn)]
    #[circuit_breaker(component = "rest", registry = REG, timeout = "1500ms")]
    fn future_tail(
        rx: oneshot::Receiver<u32>,
    ) -> impl std::future::Future<Output = Result<u32, ApiError>> + Send {
        async move { Ok(rx.await?) }
    }

    fn timed_out_after_1500ms(out: &Result<u32, ApiError>) -> bool {
        matches!(
            out,
            Err(ApiError::Breaker(CircuitError::Timeout { after, .. }))
                if *after == Duration::from_millis(1500)
        )
    }

    #[test]
    fn a_fallback_and_a_future_returning_fn_time_out_too() {
        let (_tx, rx) = oneshot::channel::<u32>();
        let mut call = Box::pin(with_fallback(rx));
        poll_once(&mut call);
        CLOCK.advance(Duration::from_millis(1500));
        let out = block_on(call);
        assert!(timed_out_after_1500ms(&out), "{out:?}");

        let (_tx, rx) = oneshot::channel::<u32>();
        let mut call = Box::pin(future_tail(rx));
        poll_once(&mut call);
        CLOCK.advance(Duration::from_millis(1500));
        let out = block_on(call);
        assert!(timed_out_after_1500ms(&out), "{out:?}");
        assert_eq!(snap().failures, 2);

        // The forced-open refusal still goes to the fallback.
        rest().force_open();
        let (_tx, rx) = oneshot::channel::<u32>();
        assert_eq!(block_on(with_fallback(rx)).unwrap(), 0);
    }
}

#[test]
fn the_timeout_error_says_what_happened() {
    let e = CircuitError::Timeout {
        component: breaker::ComponentName::from_static("rest"),
        after: TIMEOUT,
    };
    assert_eq!(e.to_string(), "call to `rest` timed out after 2s");
    assert_eq!(e.component(), "rest");
    assert_eq!(e.reason(), "timeout");
    assert_eq!(e.retry_after(), None);
    assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::TimedOut);
}

/// The real clock's timer is tokio's (feature `tokio`): a deadline already passed completes at
/// once on a tokio runtime, and one far ahead does not (nothing here waits for real time).
#[tokio::test]
async fn the_system_clock_times_with_tokio() {
    use breaker::{Clock, SystemClock};
    use futures::FutureExt;
    let now = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), SystemClock.sleep_until(now))
        .await
        .expect("a passed deadline completes at once");
    assert!(SystemClock
        .sleep_until(now + Duration::from_secs(3600))
        .now_or_never()
        .is_none());
}
