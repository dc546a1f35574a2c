#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `#[circuit_breaker]` on sync functions and methods, end to end: failures trip the breaker,
//! an open breaker does not run the body and returns the rejection converted into the
//! function's error type, the cooldown lets a probe through, every exit of the body (`?`,
//! `return Err`, `return Ok`, the tail, a panic) is recorded.
//!
//! Each test lives in its own module with its own registry (on its own `FakeClock`), its own
//! annotated functions and its own body counters, so tests running in parallel share nothing.

use std::num::{IntErrorKind, ParseIntError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use breaker::{
    circuit_breaker, CircuitConfig, CircuitError, CircuitState, ComponentBreaker,
    ComponentSnapshot, TransitionCount,
};

breaker::breakers! {
    /// The REST API every test module calls, each in its own registry.
    rest,
    /// A second component, for tests that need two.
    quotes,
    /// Used only through the process-wide registry, by one test.
    process_wide_only,
}

use breaker_suite::COOLDOWN;

#[derive(Debug)]
enum ApiError {
    Http(u16),
    Parse(ParseIntError),
    Breaker(CircuitError),
}

impl From<CircuitError> for ApiError {
    fn from(e: CircuitError) -> Self {
        ApiError::Breaker(e)
    }
}

impl From<ParseIntError> for ApiError {
    fn from(e: ParseIntError) -> Self {
        ApiError::Parse(e)
    }
}

fn small_config() -> CircuitConfig {
    breaker_suite::small_config(3)
}

/// This file's `isolated_registry!`: its component is `rest`.
macro_rules! isolated_registry {
    ($config:expr) => {
        breaker_suite::isolated_registry!($config, rest);
    };
}

fn transition_count(s: &ComponentSnapshot, from: CircuitState, to: CircuitState) -> u64 {
    s.transitions
        .iter()
        .find(|t: &&TransitionCount| t.from == from && t.to == to)
        .map_or(0, |t| t.count)
}

fn expect_open(result: Result<u32, ApiError>, retry_after: Duration) {
    match result {
        Err(ApiError::Breaker(CircuitError::Open {
            component,
            retry_after: actual,
        })) => {
            assert_eq!(component, "rest");
            assert_eq!(actual, retry_after);
        }
        other => panic!("expected Err(Breaker(Open {{ .. }})), got {other:?}"),
    }
}

mod trip_and_reject {
    use super::*;

    isolated_registry!(small_config());

    #[circuit_breaker(component = "rest", registry = REG)]
    fn fetch(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(503))
        } else {
            Ok(7)
        }
    }

    #[test]
    fn failures_trip_it_and_an_open_breaker_skips_the_body() {
        assert_eq!(fetch(false).unwrap(), 7);
        assert!(matches!(fetch(true), Err(ApiError::Http(503))));
        // 1 failure in 2 calls: below min_calls (3), so still closed.
        assert_eq!(rest().state(), CircuitState::Closed);
        assert!(matches!(fetch(true), Err(ApiError::Http(503))));
        // 2 failures in 3 calls >= 50%.
        assert_eq!(rest().state(), CircuitState::Open);
        assert_eq!(runs(), 3);

        for _ in 0..4 {
            expect_open(fetch(false), COOLDOWN);
        }
        assert_eq!(runs(), 3, "the body ran while the breaker was open");

        let s = snap();
        assert_eq!((s.calls, s.successes, s.failures, s.ignored), (3, 1, 2, 0));
        assert_eq!(s.rejections.open, 4);
        assert_eq!(s.rejections.total(), 4);
        assert_eq!(
            LOG.moves(),
            [("rest".into(), CircuitState::Closed, CircuitState::Open)]
        );
    }
}

mod recovery {
    use super::*;

    isolated_registry!(CircuitConfig {
        half_open_max_concurrent: 2,
        half_open_required_successes: 2,
        ..small_config()
    });

    #[circuit_breaker(component = "rest", registry = REG)]
    fn fetch(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(1)
        }
    }

    #[test]
    fn after_the_cooldown_probes_run_and_successes_close_it() {
        for _ in 0..3 {
            assert!(matches!(fetch(true), Err(ApiError::Http(500))));
        }
        assert_eq!(rest().state(), CircuitState::Open);

        CLOCK.advance(COOLDOWN - Duration::from_millis(1));
        expect_open(fetch(false), Duration::from_millis(1));
        assert_eq!(runs(), 3);

        CLOCK.advance(Duration::from_millis(1));
        assert_eq!(fetch(false).unwrap(), 1);
        assert_eq!(runs(), 4, "the probe's body did not run");
        // One of two required successes.
        assert_eq!(rest().state(), CircuitState::HalfOpen);
        assert_eq!(snap().half_open_in_flight, 0, "the probe kept its slot");

        assert_eq!(fetch(false).unwrap(), 1);
        assert_eq!(runs(), 5);
        assert_eq!(rest().state(), CircuitState::Closed);

        // Closed again: calls flow.
        assert_eq!(fetch(false).unwrap(), 1);
        assert_eq!(runs(), 6);
        let s = snap();
        assert_eq!((s.successes, s.failures), (3, 3));
        assert_eq!(s.rejections.open, 1);
        assert_eq!(
            LOG.moves(),
            [
                ("rest".into(), CircuitState::Closed, CircuitState::Open),
                ("rest".into(), CircuitState::Open, CircuitState::HalfOpen),
                ("rest".into(), CircuitState::HalfOpen, CircuitState::Closed),
            ]
        );
    }
}

mod failed_probe {
    use super::*;

    isolated_registry!(small_config());

    #[circuit_breaker(component = "rest", registry = REG)]
    fn fetch(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(502))
        } else {
            Ok(2)
        }
    }

    #[test]
    fn a_failed_probe_reopens_it_with_backoff() {
        for _ in 0..3 {
            assert!(matches!(fetch(true), Err(ApiError::Http(502))));
        }
        CLOCK.advance(COOLDOWN);
        assert!(matches!(fetch(true), Err(ApiError::Http(502))));
        assert_eq!(runs(), 4);
        assert_eq!(rest().state(), CircuitState::Open);
        // open_backoff_multiplier 2: the second cooldown is twice the first.
        expect_open(fetch(false), COOLDOWN * 2);
        assert_eq!(runs(), 4);
        let s = snap();
        assert_eq!(
            transition_count(&s, CircuitState::HalfOpen, CircuitState::Open),
            1
        );
        assert_eq!(s.failures, 4);
    }
}

mod probe_slot_held_by_the_body {
    use super::*;

    isolated_registry!(small_config());

    static OUTER_RUNS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(component = "rest", registry = REG)]
    fn fetch(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(3)
        }
    }

    /// While this runs as the only probe, a nested call to the same component is refused.
    #[circuit_breaker(component = "rest", registry = REG)]
    fn outer() -> Result<bool, ApiError> {
        OUTER_RUNS.fetch_add(1, SeqCst);
        let nested = fetch(false);
        Ok(matches!(
            nested,
            Err(ApiError::Breaker(CircuitError::HalfOpenExhausted { .. }))
        ))
    }

    #[test]
    fn a_running_probe_holds_its_slot_until_the_body_returns() {
        for _ in 0..3 {
            assert!(matches!(fetch(true), Err(ApiError::Http(500))));
        }
        CLOCK.advance(COOLDOWN);
        assert!(outer().unwrap(), "the nested call was not refused");
        assert_eq!(OUTER_RUNS.load(SeqCst), 1);
        assert_eq!(runs(), 3, "the nested body ran without a probe slot");
        assert_eq!(rest().state(), CircuitState::Closed);
        assert_eq!(snap().rejections.half_open_exhausted, 1);
    }
}

mod exits {
    use super::*;

    // Never trips: min_calls is out of reach.
    isolated_registry!(CircuitConfig {
        min_calls: 1_000,
        ..small_config()
    });

    #[circuit_breaker(component = "rest", registry = REG)]
    fn parse(input: &str) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        let n: u32 = input.parse()?;
        if n == 0 {
            return Err(ApiError::Http(400));
        }
        if n == 1 {
            return Ok(100);
        }
        Ok(n * 2)
    }

    fn counts() -> (u64, u64, u64, u32) {
        let s = snap();
        (s.successes, s.failures, s.ignored, s.consecutive_failures)
    }

    #[test]
    fn question_mark_and_early_returns_are_recorded() {
        assert!(matches!(
            parse("x"),
            Err(ApiError::Parse(e)) if *e.kind() == IntErrorKind::InvalidDigit
        ));
        assert_eq!(counts(), (0, 1, 0, 1), "`?` was not recorded as a failure");

        assert!(matches!(parse("0"), Err(ApiError::Http(400))));
        assert_eq!(
            counts(),
            (0, 2, 0, 2),
            "early `return Err` was not recorded as a failure"
        );

        assert_eq!(parse("1").unwrap(), 100);
        assert_eq!(
            counts(),
            (1, 2, 0, 0),
            "early `return Ok` was not recorded as a success"
        );

        assert_eq!(parse("21").unwrap(), 42);
        assert_eq!(counts(), (2, 2, 0, 0), "the tail was not recorded");
        assert_eq!(runs(), 4);
        assert_eq!(snap().calls, 4);
    }
}

mod methods {
    use super::*;

    isolated_registry!(CircuitConfig {
        min_calls: 2,
        ..small_config()
    });

    struct Client {
        pending: Vec<u32>,
    }

    impl Client {
        /// The first pending id above 10: early `return Ok` from inside a loop, `Err` tail.
        #[circuit_breaker(component = "quotes", registry = REG)]
        fn take_large(&mut self) -> Result<u32, ApiError> {
            RUNS.fetch_add(1, SeqCst);
            while let Some(id) = self.pending.pop() {
                if id > 10 {
                    return Ok(id);
                }
            }
            Err(ApiError::Http(404))
        }

        #[circuit_breaker(component = "quotes", registry = REG)]
        fn peek(&self) -> Result<&u32, ApiError> {
            RUNS.fetch_add(1, SeqCst);
            self.pending.last().ok_or(ApiError::Http(404))
        }
    }

    #[circuit_breaker(component = "quotes", registry = REG)]
    fn ping() -> Result<(), ApiError> {
        RUNS.fetch_add(1, SeqCst);
        Ok(())
    }

    fn quotes() -> Arc<ComponentBreaker> {
        crate::breakers::quotes.in_registry(&REG)
    }

    #[test]
    fn methods_and_free_functions_share_their_components_breaker() {
        let mut client = Client {
            pending: vec![3, 20, 4],
        };
        assert_eq!(client.take_large().unwrap(), 20);
        assert_eq!(*client.peek().unwrap(), 3);
        assert_eq!(quotes().snapshot().successes, 2);

        assert!(matches!(client.take_large(), Err(ApiError::Http(404))));
        assert!(matches!(client.peek(), Err(ApiError::Http(404))));
        // 2 failures in 4 calls.
        assert_eq!(quotes().state(), CircuitState::Open);
        assert_eq!(runs(), 4);

        assert!(matches!(
            ping(),
            Err(ApiError::Breaker(CircuitError::Open { .. }))
        ));
        assert!(matches!(
            client.peek(),
            Err(ApiError::Breaker(CircuitError::Open { .. }))
        ));
        assert_eq!(runs(), 4);
        assert_eq!(quotes().snapshot().rejections.open, 2);
        // `rest` in the same registry is untouched.
        assert_eq!(rest().state(), CircuitState::Closed);
        assert_eq!(snap().calls, 0);
    }
}

mod panics {
    use super::*;

    // A single failure trips it.
    isolated_registry!(CircuitConfig {
        min_calls: 1,
        ..small_config()
    });

    #[circuit_breaker(component = "rest", registry = REG)]
    fn explode(should_panic: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if should_panic {
            panic!("adapter bug");
        }
        Ok(5)
    }

    use breaker_suite::panic_message;

    #[test]
    fn a_panic_is_recorded_as_a_failure_and_propagates() {
        let payload = catch_unwind(|| explode(true)).expect_err("the panic did not propagate");
        assert_eq!(panic_message(&*payload), "adapter bug");
        assert_eq!(runs(), 1);
        let s = snap();
        assert_eq!((s.successes, s.failures, s.ignored), (0, 1, 0));
        assert_eq!(rest().state(), CircuitState::Open);

        expect_open(explode(false), COOLDOWN);
        assert_eq!(runs(), 1);

        // A panicking probe gives its slot back and re-opens the breaker.
        CLOCK.advance(COOLDOWN);
        let payload = catch_unwind(AssertUnwindSafe(|| explode(true))).unwrap_err();
        assert_eq!(panic_message(&*payload), "adapter bug");
        assert_eq!(rest().state(), CircuitState::Open);
        assert_eq!(snap().half_open_in_flight, 0);
        assert_eq!(snap().failures, 2);

        CLOCK.advance(COOLDOWN * 2);
        assert_eq!(explode(false).unwrap(), 5);
        assert_eq!(rest().state(), CircuitState::Closed);
        assert_eq!(runs(), 3);
    }
}

mod io_errors {
    use super::*;

    isolated_registry!(CircuitConfig {
        min_calls: 1,
        ..small_config()
    });

    #[circuit_breaker(component = "rest", registry = REG)]
    fn read(fail: bool) -> std::io::Result<u8> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            return Err(std::io::Error::other("reset by peer"));
        }
        Ok(1)
    }

    #[test]
    fn a_rejection_converts_into_io_error() {
        assert_eq!(read(true).unwrap_err().kind(), std::io::ErrorKind::Other);
        assert_eq!(rest().state(), CircuitState::Open);
        let rejected = read(false).unwrap_err();
        assert_eq!(rejected.kind(), std::io::ErrorKind::ConnectionRefused);
        let inner = rejected
            .get_ref()
            .and_then(|e| e.downcast_ref::<CircuitError>())
            .expect("the io::Error does not wrap the CircuitError");
        assert_eq!(inner.reason(), "open");
        assert_eq!(inner.component(), "rest");
        assert_eq!(runs(), 1);
        assert_eq!(snap().rejections.open, 1);
    }
}

mod process_wide {
    use super::*;

    static RUNS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(component = "process_wide_only")]
    fn plain(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(9)
        }
    }

    #[test]
    fn without_registry_it_records_in_the_process_wide_registry() {
        assert_eq!(plain(false).unwrap(), 9);
        assert!(matches!(plain(true), Err(ApiError::Http(500))));
        assert_eq!(RUNS.load(SeqCst), 2);
        let s = crate::breakers::process_wide_only.snapshot();
        assert_eq!((s.successes, s.failures), (1, 1));
        let global = breaker::registry()
            .component("process_wide_only")
            .expect("not registered in the process-wide registry");
        assert!(std::ptr::eq(&*global, &*crate::breakers::process_wide_only));
        // Default config (min_calls 20): two calls cannot trip it.
        assert_eq!(global.state(), CircuitState::Closed);
    }
}
