#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `#[circuit_breaker]`'s options: `failure_if`, `ignore_if`, `fallback` and `registry`.
//!
//! Each test lives in its own module with its own registry (on its own `FakeClock`), so tests
//! running in parallel share nothing. Every function here names a `registry`, so nothing in
//! this file touches the process-wide registry (one test checks that it stays empty).

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use breaker::{
    circuit_breaker, CircuitError, CircuitState, ComponentSnapshot, FakeClock, GlobalCircuitBreaker,
};
use futures::executor::block_on;
use once_cell::sync::Lazy;

breaker::breakers! {
    /// The venue every test module calls, each in its own registry.
    venue,
}

use breaker_suite::COOLDOWN;

#[derive(Debug, Clone, PartialEq)]
enum HttpError {
    Status(u16),
    Refused(&'static str),
}

impl From<CircuitError> for HttpError {
    fn from(e: CircuitError) -> Self {
        HttpError::Refused(e.reason())
    }
}

static SERVER_ERROR_CHECKS: AtomicU32 = AtomicU32::new(0);

/// Only 5xx mean the venue is unhealthy.
fn is_server_error(e: &HttpError) -> bool {
    SERVER_ERROR_CHECKS.fetch_add(1, SeqCst);
    matches!(e, HttpError::Status(500..=599))
}

fn is_not_found(e: &HttpError) -> bool {
    matches!(e, HttpError::Status(404))
}

fn any_error(_: &HttpError) -> bool {
    true
}

fn result(status: u16) -> Result<u16, HttpError> {
    if status < 400 {
        Ok(status)
    } else {
        Err(HttpError::Status(status))
    }
}

use breaker_suite::small_config;

/// This file's `isolated_registry!`: its component is `venue`.
macro_rules! isolated_registry {
    ($config:expr) => {
        breaker_suite::isolated_registry!($config, venue);
    };
}

/// (successes, failures, ignored)
fn counts(s: &ComponentSnapshot) -> (u64, u64, u64) {
    (s.successes, s.failures, s.ignored)
}

mod failure_if {
    use super::*;

    isolated_registry!(small_config(4));

    #[circuit_breaker(component = "venue", registry = REG, failure_if = is_server_error)]
    fn get(status: u16) -> Result<u16, HttpError> {
        RUNS.fetch_add(1, SeqCst);
        result(status)
    }

    #[test]
    fn errors_it_rejects_count_as_successes() {
        // Only this test calls `is_server_error`.
        assert_eq!(get(200).unwrap(), 200);
        assert_eq!(SERVER_ERROR_CHECKS.load(SeqCst), 0, "called for an Ok");

        // The caller still gets its error; the breaker sees a success.
        assert_eq!(get(400), Err(HttpError::Status(400)));
        assert_eq!(get(429), Err(HttpError::Status(429)));
        assert_eq!(counts(&snap()), (3, 0, 0));
        assert_eq!(snap().consecutive_failures, 0);
        assert_eq!(SERVER_ERROR_CHECKS.load(SeqCst), 2);

        assert_eq!(get(503), Err(HttpError::Status(503)));
        assert_eq!(counts(&snap()), (3, 1, 0));
        // 1 failure in 4 calls: below 50%.
        assert_eq!(venue().state(), CircuitState::Closed);
        assert_eq!(get(500), Err(HttpError::Status(500)));
        assert_eq!(venue().state(), CircuitState::Closed, "2 of 5");
        assert_eq!(get(502), Err(HttpError::Status(502)));
        assert_eq!(venue().state(), CircuitState::Open, "3 of 6");
        assert_eq!(SERVER_ERROR_CHECKS.load(SeqCst), 5);

        // Refused: the body and the predicate are not called.
        assert_eq!(get(200), Err(HttpError::Refused("open")));
        assert_eq!(runs(), 6);
        assert_eq!(SERVER_ERROR_CHECKS.load(SeqCst), 5);
    }
}

mod ignore_if {
    use super::*;

    isolated_registry!(small_config(2));

    #[circuit_breaker(component = "venue", registry = REG, ignore_if = is_not_found)]
    fn get(status: u16) -> Result<u16, HttpError> {
        RUNS.fetch_add(1, SeqCst);
        result(status)
    }

    #[test]
    fn ignored_errors_count_as_neither() {
        for _ in 0..5 {
            assert_eq!(get(404), Err(HttpError::Status(404)));
        }
        let s = snap();
        assert_eq!(counts(&s), (0, 0, 5));
        assert_eq!(s.calls, 5);
        assert_eq!(s.window.calls, 0, "ignored calls count toward min_calls");
        assert_eq!(venue().state(), CircuitState::Closed);

        // Other errors are still failures.
        assert_eq!(get(500), Err(HttpError::Status(500)));
        assert_eq!(venue().state(), CircuitState::Closed, "1 call < min_calls");
        assert_eq!(get(400), Err(HttpError::Status(400)));
        assert_eq!(venue().state(), CircuitState::Open);
        assert_eq!(counts(&snap()), (0, 2, 5));
        assert_eq!(runs(), 7);

        // An ignored probe gives its slot back without deciding anything.
        CLOCK.advance(COOLDOWN);
        assert_eq!(get(404), Err(HttpError::Status(404)));
        let s = snap();
        assert_eq!(venue().state(), CircuitState::HalfOpen);
        assert_eq!(s.half_open_in_flight, 0);
        assert_eq!(counts(&s), (0, 2, 6));
        assert_eq!(get(200), Ok(200));
        assert_eq!(venue().state(), CircuitState::Closed);
    }
}

mod ignore_if_before_failure_if {
    use super::*;

    isolated_registry!(small_config(1));

    // `failure_if` says every error is a failure, `ignore_if` is checked first.
    #[circuit_breaker(component = "venue", registry = REG, failure_if = any_error, ignore_if = is_not_found)]
    fn get(status: u16) -> Result<u16, HttpError> {
        RUNS.fetch_add(1, SeqCst);
        result(status)
    }

    #[test]
    fn ignore_if_wins() {
        assert_eq!(get(404), Err(HttpError::Status(404)));
        assert_eq!(counts(&snap()), (0, 0, 1));
        assert_eq!(venue().state(), CircuitState::Closed);
        assert_eq!(get(418), Err(HttpError::Status(418)));
        assert_eq!(counts(&snap()), (0, 1, 1));
        assert_eq!(venue().state(), CircuitState::Open);
        assert_eq!(get(200), Err(HttpError::Refused("open")));
        assert_eq!(runs(), 2);
    }
}

mod fallback {
    use super::*;

    isolated_registry!(small_config(3));

    static FALLBACK_CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn fallback_calls() -> Vec<String> {
        FALLBACK_CALLS.lock().unwrap().clone()
    }

    fn cached_price(symbol: &str, depth: u32) -> Result<f64, HttpError> {
        FALLBACK_CALLS
            .lock()
            .unwrap()
            .push(format!("{symbol}/{depth}"));
        Ok(-1.0)
    }

    #[circuit_breaker(component = "venue", registry = REG, fallback = cached_price)]
    fn price(symbol: &str, depth: u32) -> Result<f64, HttpError> {
        RUNS.fetch_add(1, SeqCst);
        if symbol.is_empty() {
            return Err(HttpError::Status(400));
        }
        Ok(f64::from(depth))
    }

    #[test]
    fn called_with_the_same_arguments_only_when_refused() {
        assert_eq!(price("BTC", 3), Ok(3.0));
        // A failing call returns its own error; the fallback is for refusals only.
        assert_eq!(price("", 1), Err(HttpError::Status(400)));
        assert!(fallback_calls().is_empty(), "fallback called while closed");
        assert_eq!(price("", 2), Err(HttpError::Status(400)));
        assert_eq!(venue().state(), CircuitState::Open);
        assert_eq!(runs(), 3);

        assert_eq!(price("ETH", 7), Ok(-1.0));
        assert_eq!(price("SOL", 9), Ok(-1.0));
        assert_eq!(fallback_calls(), ["ETH/7", "SOL/9"]);
        assert_eq!(runs(), 3, "the body ran while the breaker was open");
        let s = snap();
        assert_eq!(s.calls, 3, "a fallback result was recorded as a call");
        assert_eq!(s.rejections.open, 2);

        // Closed again: the body runs, the fallback does not.
        CLOCK.advance(COOLDOWN);
        assert_eq!(price("BTC", 4), Ok(4.0));
        assert_eq!(venue().state(), CircuitState::Closed);
        assert_eq!(fallback_calls().len(), 2);
    }
}

mod fallback_without_from {
    use super::*;

    isolated_registry!(small_config(1));

    /// No `From<CircuitError>`: with a fallback the function never returns a rejection.
    #[derive(Debug, PartialEq)]
    struct Opaque(u8);

    struct Client {
        stale: u8,
    }

    impl Client {
        fn cached(&self, key: u8) -> Result<u8, Opaque> {
            Ok(self.stale + key)
        }

        #[circuit_breaker(component = "venue", registry = REG, fallback = Self::cached)]
        fn fetch(&self, key: u8) -> Result<u8, Opaque> {
            RUNS.fetch_add(1, SeqCst);
            if key == 0 {
                Err(Opaque(0))
            } else {
                Ok(key)
            }
        }
    }

    #[test]
    fn a_method_fallback_receives_self_and_the_arguments() {
        let client = Client { stale: 100 };
        assert_eq!(client.fetch(5), Ok(5));
        assert_eq!(client.fetch(0), Err(Opaque(0)));
        assert_eq!(venue().state(), CircuitState::Open);
        assert_eq!(client.fetch(7), Ok(107));
        assert_eq!(runs(), 2);
        let s = snap();
        assert_eq!((s.calls, s.rejections.open), (2, 1));
    }
}

mod async_fallback {
    use super::*;

    isolated_registry!(small_config(1));

    static FALLBACKS: AtomicU32 = AtomicU32::new(0);

    async fn stale_depth(symbol: String) -> Result<usize, HttpError> {
        FALLBACKS.fetch_add(1, SeqCst);
        futures::future::ready(()).await;
        Ok(symbol.len() * 100)
    }

    #[circuit_breaker(
        component = "venue",
        registry = REG,
        fallback = stale_depth,
        ignore_if = is_not_found,
    )]
    async fn depth(symbol: String) -> Result<usize, HttpError> {
        RUNS.fetch_add(1, SeqCst);
        futures::future::ready(()).await;
        match symbol.as_str() {
            "" => Err(HttpError::Status(404)),
            "down" => Err(HttpError::Status(503)),
            s => Ok(s.len()),
        }
    }

    #[test]
    fn an_async_fallback_is_awaited() {
        block_on(async {
            assert_eq!(depth("BTC".into()).await, Ok(3));
            assert_eq!(depth(String::new()).await, Err(HttpError::Status(404)));
            assert_eq!(venue().state(), CircuitState::Closed);
            assert_eq!(depth("down".into()).await, Err(HttpError::Status(503)));
            assert_eq!(venue().state(), CircuitState::Open);
            assert_eq!(FALLBACKS.load(SeqCst), 0);

            assert_eq!(depth("ETHUSD".into()).await, Ok(600));
            assert_eq!(FALLBACKS.load(SeqCst), 1);
            assert_eq!(runs(), 3);
            assert_eq!(counts(&snap()), (1, 1, 1));
        });
    }
}

/// Registries reached through multi-segment paths, one of them a `std::sync::LazyLock`.
mod registries {
    use super::*;

    pub(crate) static CLOCK: Lazy<FakeClock> = Lazy::new(FakeClock::new);
    pub(crate) static FIRST: std::sync::LazyLock<GlobalCircuitBreaker> =
        std::sync::LazyLock::new(|| {
            GlobalCircuitBreaker::builder()
                .config(small_config(1))
                .clock(CLOCK.clone())
                .build()
                .unwrap()
        });
    pub(crate) static SECOND: Lazy<GlobalCircuitBreaker> = Lazy::new(|| {
        GlobalCircuitBreaker::builder()
            .config(small_config(1))
            .clock(CLOCK.clone())
            .build()
            .unwrap()
    });
}

mod registry {
    use super::*;

    #[circuit_breaker(component = "venue", registry = crate::registries::FIRST)]
    fn first(status: u16) -> Result<u16, HttpError> {
        result(status)
    }

    #[circuit_breaker(component = "venue", registry = super::registries::SECOND)]
    fn second(status: u16) -> Result<u16, HttpError> {
        result(status)
    }

    #[test]
    fn calls_go_to_the_named_registry_only() {
        use crate::registries::{FIRST, SECOND};

        assert_eq!(first(200), Ok(200));
        assert_eq!(first(500), Err(HttpError::Status(500)));
        let in_first = FIRST.component("venue").expect("not registered in FIRST");
        assert_eq!(counts(&in_first.snapshot()), (1, 1, 0));
        assert_eq!(in_first.state(), CircuitState::Open);
        assert_eq!(first(200), Err(HttpError::Refused("open")));

        // The same component in another registry is a different breaker.
        assert!(SECOND.component("venue").is_none());
        assert_eq!(second(200), Ok(200));
        let in_second = SECOND.component("venue").unwrap();
        assert!(!Arc::ptr_eq(&in_first, &in_second));
        assert_eq!(in_second.state(), CircuitState::Closed);
        assert_eq!(counts(&in_second.snapshot()), (1, 0, 0));

        // Nothing in this file uses the process-wide registry.
        assert!(
            breaker::registry().components().is_empty(),
            "registered in the process-wide registry: {:?}",
            breaker::registry().components()
        );
    }
}
