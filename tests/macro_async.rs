#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `#[circuit_breaker]` on `async fn`, `#[async_trait]` methods and `fn -> impl Future`: the
//! same rules as for sync functions (trip, reject without running the body, probe after the
//! cooldown, every exit recorded, a panic is a failure), plus: a cancelled call gives its
//! half-open slot back, nothing is acquired before the future is first polled, and the
//! futures are `Send`.
//!
//! Each test lives in its own module with its own registry (on its own `FakeClock`), its own
//! annotated functions and its own body counters, so tests running in parallel share nothing.

use std::future::Future;
use std::num::ParseIntError;
use std::panic::catch_unwind;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use breaker::{circuit_breaker, CircuitConfig, CircuitError, CircuitState};
use futures::channel::oneshot;
use futures::executor::block_on;
use futures::FutureExt;

breaker::breakers! {
    /// The API every test module calls, each in its own registry.
    rest,
}

use breaker_suite::COOLDOWN;

#[derive(Debug)]
enum ApiError {
    Http(u16),
    Parse(ParseIntError),
    /// The other end of a oneshot channel went away.
    Canceled,
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

impl From<oneshot::Canceled> for ApiError {
    fn from(_: oneshot::Canceled) -> Self {
        ApiError::Canceled
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

fn is_open(result: &Result<u32, ApiError>) -> bool {
    matches!(
        result,
        Err(ApiError::Breaker(CircuitError::Open { component, .. })) if component == "rest"
    )
}

fn is_exhausted(result: &Result<u32, ApiError>) -> bool {
    matches!(
        result,
        Err(ApiError::Breaker(CircuitError::HalfOpenExhausted { .. }))
    )
}

/// Compile-time check: `T` can be sent to another thread.
fn assert_send<T: Send>(t: T) -> T {
    t
}

mod trip_reject_recover {
    use super::*;

    isolated_registry!(small_config());

    #[circuit_breaker(component = "rest", registry = REG)]
    pub(super) async fn fetch(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        futures::future::ready(()).await;
        if fail {
            Err(ApiError::Http(503))
        } else {
            Ok(7)
        }
    }

    #[test]
    fn failures_trip_it_open_skips_the_body_and_a_probe_closes_it() {
        block_on(async {
            assert_eq!(fetch(false).await.unwrap(), 7);
            assert!(matches!(fetch(true).await, Err(ApiError::Http(503))));
            assert_eq!(rest().state(), CircuitState::Closed);
            assert!(matches!(fetch(true).await, Err(ApiError::Http(503))));
            assert_eq!(rest().state(), CircuitState::Open);
            assert_eq!(runs(), 3);

            for _ in 0..3 {
                let result = fetch(false).await;
                assert!(is_open(&result), "expected Open, got {result:?}");
            }
            assert_eq!(runs(), 3, "the body ran while the breaker was open");
            let s = snap();
            assert_eq!((s.successes, s.failures, s.rejections.open), (1, 2, 3));

            CLOCK.advance(COOLDOWN - Duration::from_millis(1));
            assert!(is_open(&fetch(false).await));
            assert_eq!(runs(), 3);

            CLOCK.advance(Duration::from_millis(1));
            assert_eq!(fetch(false).await.unwrap(), 7);
            assert_eq!(runs(), 4, "the probe's body did not run");
            assert_eq!(rest().state(), CircuitState::Closed);
        });
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

mod exits {
    use super::*;

    isolated_registry!(CircuitConfig {
        min_calls: 1_000,
        ..small_config()
    });

    #[circuit_breaker(component = "rest", registry = REG)]
    pub(super) async fn parse(input: &str) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        let text = futures::future::ready(input).await;
        let n: u32 = text.parse()?;
        if n == 0 {
            return Err(ApiError::Http(400));
        }
        if n == 1 {
            return Ok(100);
        }
        Ok(n * 2)
    }

    fn counts() -> (u64, u64, u64) {
        let s = snap();
        (s.successes, s.failures, s.ignored)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn question_mark_and_early_returns_are_recorded() {
        assert!(
            matches!(parse("x").await, Err(ApiError::Parse(e)) if e.to_string().contains("invalid digit"))
        );
        assert_eq!(counts(), (0, 1, 0), "`?` was not recorded as a failure");
        assert!(matches!(parse("0").await, Err(ApiError::Http(400))));
        assert_eq!(
            counts(),
            (0, 2, 0),
            "early `return Err` was not recorded as a failure"
        );
        assert_eq!(parse("1").await.unwrap(), 100);
        assert_eq!(
            counts(),
            (1, 2, 0),
            "early `return Ok` was not recorded as a success"
        );
        assert_eq!(parse("21").await.unwrap(), 42);
        assert_eq!(counts(), (2, 2, 0));
        assert_eq!(runs(), 4);
    }
}

mod panics {
    use super::*;

    isolated_registry!(CircuitConfig {
        min_calls: 1,
        ..small_config()
    });

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn explode(should_panic: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        futures::future::ready(()).await;
        if should_panic {
            panic!("async adapter bug");
        }
        Ok(5)
    }

    #[test]
    fn a_panic_is_recorded_as_a_failure_and_propagates() {
        let payload =
            catch_unwind(|| block_on(explode(true))).expect_err("the panic did not propagate");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"async adapter bug"));
        let s = snap();
        assert_eq!((s.successes, s.failures, s.ignored), (0, 1, 0));
        assert_eq!(rest().state(), CircuitState::Open);
        assert!(is_open(&block_on(explode(false))));
        assert_eq!(runs(), 1);
    }
}

mod panics_in_spawned_tasks {
    use super::*;

    isolated_registry!(CircuitConfig {
        min_calls: 1,
        ..small_config()
    });

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn explode() -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        tokio::task::yield_now().await;
        panic!("spawned adapter bug");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_a_spawned_task_is_recorded_as_a_failure() {
        let joined = tokio::spawn(explode()).await;
        assert!(joined.expect_err("the task did not panic").is_panic());
        assert_eq!(runs(), 1);
        let s = snap();
        assert_eq!((s.successes, s.failures, s.ignored), (0, 1, 0));
        assert_eq!(rest().state(), CircuitState::Open);
    }
}

mod cancellation {
    use super::*;

    isolated_registry!(small_config());

    static WAITS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn fetch(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(1)
        }
    }

    /// Pending until `rx` gets a value (never, in these tests).
    #[circuit_breaker(component = "rest", registry = REG)]
    pub(super) async fn wait_for(rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
        WAITS.fetch_add(1, SeqCst);
        Ok(rx.await?)
    }

    #[test]
    fn a_dropped_call_gives_its_half_open_slot_back() {
        block_on(async {
            for _ in 0..3 {
                assert!(matches!(fetch(true).await, Err(ApiError::Http(500))));
            }
            CLOCK.advance(COOLDOWN);
        });

        // Not polled yet: nothing acquired, so dropping it changes nothing.
        let (_tx0, rx0) = oneshot::channel();
        drop(wait_for(rx0));
        assert_eq!(WAITS.load(SeqCst), 0);
        assert_eq!(rest().state(), CircuitState::Open);
        assert_eq!(snap().calls, 3);

        // Polled once: it takes the only probe slot and stays pending.
        let (tx, rx) = oneshot::channel::<u32>();
        let mut pending = Box::pin(wait_for(rx));
        block_on(async {
            assert!(futures::poll!(pending.as_mut()).is_pending());
        });
        assert_eq!(WAITS.load(SeqCst), 1);
        assert_eq!(rest().state(), CircuitState::HalfOpen);
        assert_eq!(snap().half_open_in_flight, 1);
        let refused = block_on(fetch(false));
        assert!(
            is_exhausted(&refused),
            "expected exhausted, got {refused:?}"
        );
        assert_eq!(runs(), 3);

        // Dropped while pending (the sender is still alive): the slot comes back and the
        // call is counted as ignored, not as a failure.
        drop(pending);
        let s = snap();
        assert_eq!(s.half_open_in_flight, 0, "the cancelled call kept its slot");
        assert_eq!((s.successes, s.failures, s.ignored), (0, 3, 1));
        assert_eq!(rest().state(), CircuitState::HalfOpen);

        // `now_or_never` polls once and drops: same again.
        let (_tx2, rx2) = oneshot::channel::<u32>();
        assert!(wait_for(rx2).now_or_never().is_none());
        assert_eq!(WAITS.load(SeqCst), 2);
        assert_eq!(snap().half_open_in_flight, 0);
        assert_eq!(snap().ignored, 2);

        // Another probe is admitted, runs and closes the breaker.
        assert_eq!(block_on(fetch(false)).unwrap(), 1);
        assert_eq!(runs(), 4);
        assert_eq!(rest().state(), CircuitState::Closed);
        drop(tx);
    }
}

mod aborted_task {
    use super::*;

    isolated_registry!(small_config());

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn fetch(fail: bool) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        if fail {
            Err(ApiError::Http(500))
        } else {
            Ok(1)
        }
    }

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn hold(
        started: oneshot::Sender<()>,
        release: oneshot::Receiver<u32>,
    ) -> Result<u32, ApiError> {
        let _ = started.send(());
        Ok(release.await?)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_aborted_task_gives_its_half_open_slot_back() {
        for _ in 0..3 {
            assert!(matches!(fetch(true).await, Err(ApiError::Http(500))));
        }
        CLOCK.advance(COOLDOWN);

        let (started_tx, started_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel::<u32>();
        let task = tokio::spawn(hold(started_tx, release_rx));
        started_rx.await.expect("the probe never started");
        assert_eq!(snap().half_open_in_flight, 1);
        assert!(is_exhausted(&fetch(false).await));
        assert_eq!(runs(), 3);

        task.abort();
        assert!(task.await.expect_err("not aborted").is_cancelled());
        assert_eq!(snap().half_open_in_flight, 0);
        assert_eq!(snap().ignored, 1);
        assert_eq!(snap().failures, 3);

        assert_eq!(fetch(false).await.unwrap(), 1);
        assert_eq!(runs(), 4);
        assert_eq!(rest().state(), CircuitState::Closed);
        drop(release_tx);
    }
}

mod send {
    use super::*;

    isolated_registry!(small_config());

    #[circuit_breaker(component = "rest", registry = REG)]
    async fn fetch(x: u32) -> Result<u32, ApiError> {
        RUNS.fetch_add(1, SeqCst);
        tokio::task::yield_now().await;
        Ok(x * 2)
    }

    #[circuit_breaker(component = "rest", registry = REG)]
    pub(super) async fn borrowing(v: &mut Vec<u32>) -> Result<&mut u32, ApiError> {
        v.push(1);
        tokio::task::yield_now().await;
        v.last_mut().ok_or(ApiError::Http(404))
    }

    /// Fails to compile unless the future is `Send + 'static`.
    fn assert_spawnable<F: Future + Send + 'static>(f: F) -> F {
        f
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_futures_are_send_and_run_on_other_threads() {
        let mut v = Vec::new();
        *assert_send(borrowing(&mut v)).await.unwrap() = 5;
        assert_eq!(v, [5]);

        let tasks: Vec<_> = (0..8)
            .map(|i| tokio::spawn(assert_spawnable(fetch(i))))
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap().unwrap();
        }
        assert_eq!(total, 2 * (0..8).sum::<u32>());
        assert_eq!(runs(), 8);
        assert_eq!(snap().successes, 9);
    }
}

mod async_trait_methods {
    use super::*;

    isolated_registry!(small_config());

    #[async_trait::async_trait]
    trait Exchange {
        async fn depth(&self, fail: bool) -> Result<u32, ApiError>;
        async fn wait(&self, rx: oneshot::Receiver<u32>) -> Result<u32, ApiError>;
    }

    struct Venue {
        levels: u32,
    }

    #[async_trait::async_trait]
    impl Exchange for Venue {
        #[circuit_breaker(component = "rest", registry = REG)]
        async fn depth(&self, fail: bool) -> Result<u32, ApiError> {
            RUNS.fetch_add(1, SeqCst);
            tokio::task::yield_now().await;
            if fail {
                return Err(ApiError::Http(503));
            }
            Ok(self.levels)
        }

        #[circuit_breaker(component = "rest", registry = REG)]
        async fn wait(&self, rx: oneshot::Receiver<u32>) -> Result<u32, ApiError> {
            Ok(rx.await? + self.levels)
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_trait_methods_behave_like_async_fns() {
        let venue: Arc<dyn Exchange + Send + Sync> = Arc::new(Venue { levels: 20 });
        assert_eq!(assert_send(venue.depth(false)).await.unwrap(), 20);
        assert!(matches!(venue.depth(true).await, Err(ApiError::Http(503))));
        assert_eq!(rest().state(), CircuitState::Closed);
        assert!(matches!(venue.depth(true).await, Err(ApiError::Http(503))));
        assert_eq!(rest().state(), CircuitState::Open);
        assert_eq!(runs(), 3);

        assert!(is_open(&venue.depth(false).await));
        assert_eq!(runs(), 3, "the body ran while the breaker was open");

        CLOCK.advance(COOLDOWN);
        // A cancelled probe gives its slot back.
        let (tx, rx) = oneshot::channel();
        let mut pending = venue.wait(rx);
        assert!(futures::poll!(pending.as_mut()).is_pending());
        assert_eq!(snap().half_open_in_flight, 1);
        assert!(is_exhausted(&venue.depth(false).await));
        drop(pending);
        assert_eq!(snap().half_open_in_flight, 0);

        assert_eq!(venue.depth(false).await.unwrap(), 20);
        assert_eq!(runs(), 4);
        assert_eq!(rest().state(), CircuitState::Closed);
        let s = snap();
        assert_eq!((s.successes, s.failures, s.ignored), (2, 2, 1));
        assert_eq!(s.rejections.open, 1);
        assert_eq!(s.rejections.half_open_exhausted, 1);
        drop(tx);
    }
}

mod future_returning_fn {
    use super::*;

    isolated_registry!(CircuitConfig {
        min_calls: 1,
        ..small_config()
    });

    static EAGER: AtomicU32 = AtomicU32::new(0);

    /// Statements before the tail `async move` run when the function is called; only the
    /// tail block is protected.
    #[circuit_breaker(component = "rest", registry = REG)]
    pub(super) fn fetch(fail: bool) -> impl Future<Output = Result<u32, ApiError>> + Send {
        EAGER.fetch_add(1, SeqCst);
        async move {
            RUNS.fetch_add(1, SeqCst);
            if fail {
                return Err(ApiError::Http(500));
            }
            Ok(3)
        }
    }

    #[test]
    fn only_the_tail_async_block_is_protected() {
        assert_eq!(block_on(assert_send(fetch(false))).unwrap(), 3);
        assert!(matches!(block_on(fetch(true)), Err(ApiError::Http(500))));
        assert_eq!(rest().state(), CircuitState::Open);
        assert_eq!((EAGER.load(SeqCst), runs()), (2, 2));

        assert!(is_open(&block_on(fetch(false))));
        assert_eq!(runs(), 2, "the async block ran while the breaker was open");
        assert_eq!(EAGER.load(SeqCst), 3);
        let s = snap();
        assert_eq!((s.successes, s.failures, s.rejections.open), (1, 1, 1));
    }
}

/// Static assertion: every protected future is `Send`. The closure is only type-checked,
/// never called, so a future that is not `Send` fails the build.
const _: fn() = || {
    fn is_send<T: Send>(_: &T) {}
    is_send(&trip_reject_recover::fetch(false));
    is_send(&exits::parse("1"));
    let (_tx, rx) = oneshot::channel();
    is_send(&cancellation::wait_for(rx));
    let mut v = Vec::new();
    is_send(&send::borrowing(&mut v));
    is_send(&future_returning_fn::fetch(false));
};
