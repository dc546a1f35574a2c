#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `sample_weighting = count`: the window is the last `window_calls` outcomes, with every
//! rule of the time window (the `min_calls` gate, inclusive thresholds, slow calls, probes,
//! reloads) and no clock read to record a success while slow-call detection is off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use breaker::{
    CircuitConfig, CircuitState, Clock, ComponentBreaker, FakeClock, Outcome, Recorded,
    SampleWeighting, TransitionReason,
};
use breaker_suite::{call, registry};

fn count(window_calls: u16, min_calls: u32) -> CircuitConfig {
    CircuitConfig {
        sample_weighting: SampleWeighting::Count,
        window_calls,
        min_calls,
        error_rate_threshold: 0.5,
        ..CircuitConfig::DEFAULT
    }
}

fn breaker(config: CircuitConfig) -> (FakeClock, ComponentBreaker) {
    breaker_suite::breaker("count_window", config)
}

fn times(b: &ComponentBreaker, outcome: Outcome, n: u32) {
    for _ in 0..n {
        call(b, outcome);
    }
}

#[test]
fn the_window_is_the_last_window_calls_outcomes() {
    let (_clock, b) = breaker(count(10, 10));
    times(&b, Outcome::Failure, 4);
    times(&b, Outcome::Success, 10);
    // The four failures have left the window: ten successes remain.
    let w = b.snapshot().window;
    assert_eq!((w.calls, w.failures), (10, 0));
    times(&b, Outcome::Failure, 4);
    let w = b.snapshot().window;
    assert_eq!((w.calls, w.failures), (10, 4));
    assert_eq!(b.state(), CircuitState::Closed, "4/10 < 0.5");
    // Inclusive: the fifth failure makes 5/10 = 0.5.
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
    let snap = b.snapshot();
    assert_eq!(
        (snap.successes, snap.failures),
        (10, 9),
        "totals keep everything"
    );
}

#[test]
fn time_does_not_age_a_count_window() {
    let (clock, b) = breaker(count(10, 10));
    times(&b, Outcome::Failure, 4);
    clock.advance(Duration::from_secs(3600));
    times(&b, Outcome::Success, 5);
    assert_eq!(b.snapshot().window.calls, 9);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open, "5/10 an hour apart");
}

#[test]
fn min_calls_gates_and_is_capped_at_window_calls() {
    let (_clock, b) = breaker(count(10, 6));
    times(&b, Outcome::Failure, 5);
    assert_eq!(b.state(), CircuitState::Closed, "5 calls < min_calls 6");
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);

    // min_calls above window_calls: a full window is enough.
    let (_clock, b) = breaker(count(10, 50));
    times(&b, Outcome::Failure, 9);
    assert_eq!(b.state(), CircuitState::Closed);
    call(&b, Outcome::Failure);
    assert_eq!(
        b.state(),
        CircuitState::Open,
        "10 of 10 is all the window holds"
    );
}

#[test]
fn ignored_calls_do_not_enter_the_window() {
    let (_clock, b) = breaker(count(4, 4));
    times(&b, Outcome::Failure, 1);
    times(&b, Outcome::Success, 2);
    times(&b, Outcome::Ignored, 10);
    let snap = b.snapshot();
    assert_eq!((snap.window.calls, snap.window.failures), (3, 1));
    assert_eq!(snap.ignored, 10);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open, "2/4 after the ignored calls");
}

/// A clock that counts its readings.
#[derive(Default)]
struct CountingClock {
    reads: AtomicU64,
    inner: FakeClock,
}

impl Clock for CountingClock {
    fn now(&self) -> Instant {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.now()
    }
}

#[test]
fn a_success_reads_no_clock_while_slow_calls_are_off() {
    let clock = Arc::new(CountingClock::default());
    let b = ComponentBreaker::new("no_clock", count(10, 5), clock.clone()).unwrap();
    let before = clock.reads.load(Ordering::Relaxed);
    times(&b, Outcome::Success, 100);
    times(&b, Outcome::Ignored, 10);
    assert_eq!(
        clock.reads.load(Ordering::Relaxed),
        before,
        "no reading for 110 calls"
    );
    // Nor does a failure's trip check, until it trips (a transition is timed).
    times(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), CircuitState::Closed, "4/10 < 0.5");
    assert_eq!(clock.reads.load(Ordering::Relaxed), before);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
    assert!(clock.reads.load(Ordering::Relaxed) > before);

    // The time window needs its bucket: one reading per success.
    let timed = Arc::new(CountingClock::default());
    let b = ComponentBreaker::new("timed", CircuitConfig::DEFAULT, timed.clone()).unwrap();
    let before = timed.reads.load(Ordering::Relaxed);
    times(&b, Outcome::Success, 10);
    assert_eq!(timed.reads.load(Ordering::Relaxed), before + 10);
}

#[test]
fn slow_calls_count_and_trip_by_their_rate() {
    let (clock, b) = breaker(CircuitConfig {
        slow_call_threshold: Some(Duration::from_millis(100)),
        slow_call_rate_threshold: 0.5,
        ..count(4, 4)
    });
    let slow = |outcome| {
        let guard = b.acquire().into_result().unwrap();
        clock.advance(Duration::from_millis(100));
        guard.record(outcome);
    };
    times(&b, Outcome::Success, 2);
    slow(Outcome::Success);
    let w = b.snapshot().window;
    assert_eq!((w.calls, w.slow_calls), (3, 1));
    assert_eq!(b.state(), CircuitState::Closed);
    slow(Outcome::Success);
    assert_eq!(b.state(), CircuitState::Open, "2 slow of 4 >= 0.5");
    assert_eq!(b.snapshot().slow_calls, 2);
}

#[test]
fn a_slow_call_leaves_the_window_with_its_outcome() {
    let (clock, b) = breaker(CircuitConfig {
        slow_call_threshold: Some(Duration::from_millis(100)),
        slow_call_rate_threshold: 1.0,
        ..count(3, 3)
    });
    let guard = b.acquire().into_result().unwrap();
    clock.advance(Duration::from_millis(150));
    guard.record(Outcome::Success);
    times(&b, Outcome::Success, 3);
    let w = b.snapshot().window;
    assert_eq!((w.calls, w.slow_calls), (3, 0));
}

#[test]
fn probes_close_the_breaker_on_an_empty_window() {
    let (clock, b) = breaker(CircuitConfig {
        half_open_required_successes: 2,
        half_open_max_concurrent: 2,
        ..count(4, 4)
    });
    times(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), CircuitState::Open);
    assert!(!b.acquire().is_allowed());
    clock.advance(CircuitConfig::DEFAULT.open_cooldown);
    let probes: Vec<_> = (0..2).map(|_| b.acquire().into_result().unwrap()).collect();
    assert!(probes.iter().all(|p| p.is_probe()));
    assert!(!b.acquire().is_allowed(), "two probes at most");
    for p in probes {
        p.record(Outcome::Success);
    }
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(
        b.snapshot().window.calls,
        0,
        "the failures that opened it are gone"
    );
    // A new window: three failures and a success do not trip at 0.75 < 1.
    let (_clock2, b2) = breaker(CircuitConfig {
        error_rate_threshold: 1.0,
        ..count(4, 4)
    });
    times(&b2, Outcome::Failure, 3);
    call(&b2, Outcome::Success);
    assert_eq!(b2.state(), CircuitState::Closed);
}

#[test]
fn an_outcome_from_a_finished_episode_is_stale() {
    let (_clock, b) = breaker(count(4, 4));
    let late = b.acquire().into_result().unwrap();
    times(&b, Outcome::Failure, 4);
    assert_eq!(b.state(), CircuitState::Open);
    b.reset();
    assert_eq!(late.record(Outcome::Failure), Recorded::Stale);
    let snap = b.snapshot();
    assert_eq!(snap.window.calls, 0);
    assert_eq!(snap.failures, 5, "counted in the totals");
}

#[test]
fn reset_empties_the_window_but_not_the_totals() {
    let (_clock, b) = breaker(count(10, 10));
    times(&b, Outcome::Failure, 3);
    times(&b, Outcome::Success, 3);
    b.reset();
    let snap = b.snapshot();
    assert_eq!(snap.window.calls, 0);
    assert_eq!((snap.successes, snap.failures), (3, 3));
}

#[test]
fn a_reload_that_keeps_window_calls_keeps_the_window() {
    let (_clock, registry, log) = registry(count(10, 10));
    let b = registry.register("kept").unwrap();
    times(&b, Outcome::Failure, 3);
    times(&b, Outcome::Success, 7);
    registry
        .reload(CircuitConfig {
            error_rate_threshold: 0.3,
            ..count(10, 10)
        })
        .unwrap();
    assert_eq!(b.snapshot().window.calls, 10);
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "thresholds apply at the next check"
    );
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open, "4/10 >= 0.3");
    let reasons: Vec<_> = log.transitions().into_iter().map(|t| t.reason).collect();
    assert!(
        matches!(
            reasons.last(),
            Some(TransitionReason::ErrorRate { calls: 10, .. })
        ),
        "{reasons:?}"
    );
}

#[test]
fn a_reload_that_changes_window_calls_starts_an_empty_window() {
    let (_clock, registry, _log) = registry(count(10, 10));
    let b = registry.register("resized").unwrap();
    times(&b, Outcome::Failure, 4);
    times(&b, Outcome::Success, 6);
    for window_calls in [25, 5, 10_000] {
        registry.reload(count(window_calls, 5)).unwrap();
        assert_eq!(b.config().window_calls, window_calls);
        assert_eq!(b.snapshot().window.calls, 0, "{window_calls}");
        times(&b, Outcome::Success, 30);
        let w = b.snapshot().window;
        assert_eq!(w.calls, u64::from(window_calls.min(30)), "{window_calls}");
    }
    let snap = b.snapshot();
    assert_eq!((snap.successes, snap.failures), (96, 4), "totals survive");
    // The new length judges: 29/59 < 0.5, then 30/60 trips (inclusive).
    times(&b, Outcome::Failure, 29);
    assert_eq!(b.state(), CircuitState::Closed);
    call(&b, Outcome::Failure);
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn switching_between_time_and_count_windows() {
    let (_clock, registry, _log) = registry(CircuitConfig {
        min_calls: 4,
        ..CircuitConfig::DEFAULT
    });
    let b = registry.register("switch").unwrap();
    times(&b, Outcome::Success, 3);
    registry.reload(count(4, 4)).unwrap();
    assert_eq!(b.snapshot().window.calls, 0, "a count window starts empty");
    times(&b, Outcome::Failure, 2);
    times(&b, Outcome::Success, 1);
    assert_eq!(b.snapshot().window.calls, 3);
    registry
        .reload(CircuitConfig {
            min_calls: 4,
            ..CircuitConfig::DEFAULT
        })
        .unwrap();
    // Back to the time window, which holds the calls it saw itself.
    assert_eq!(b.snapshot().window.calls, 3);
    times(&b, Outcome::Failure, 1);
    assert_eq!(b.snapshot().window.calls, 4);
    let snap = b.snapshot();
    assert_eq!((snap.successes, snap.failures), (4, 3));
}

#[test]
fn window_calls_is_validated() {
    for bad in [0, 10_001] {
        let err = CircuitConfig {
            window_calls: bad,
            ..CircuitConfig::DEFAULT
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field(), "window_calls", "{bad}");
        assert!(err.to_string().contains("between 1 and 10000"), "{err}");
    }
    for good in [1, 100, 10_000] {
        assert!(count(good, 1).validate().is_ok());
    }
}

#[test]
fn a_config_file_selects_a_count_window() {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let b = registry.register("from_file").unwrap();
    registry
        .reload_from_str(
            "[defaults]\nsample_weighting = \"count\"\nwindow_calls = 8\nmin_calls = 8\n",
        )
        .unwrap();
    let config = b.config();
    assert_eq!(config.sample_weighting, SampleWeighting::Count);
    assert_eq!(config.window_calls, 8);
    times(&b, Outcome::Success, 20);
    assert_eq!(b.snapshot().window.calls, 8);
    let err = registry
        .reload_from_str("[defaults]\nwindow_calls = 0\n")
        .unwrap_err();
    assert!(err.to_string().contains("window_calls"), "{err}");
}

#[test]
fn threads_hammering_one_breaker_keep_exact_totals_and_a_bounded_window() {
    const THREADS: usize = 4;
    const CALLS: u32 = 20_000;
    let (_clock, b) = breaker(CircuitConfig {
        error_rate_threshold: 1.0,
        ..count(100, 100)
    });
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (b, barrier) = (&b, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..CALLS {
                    // One failure in ten: never 100 %, never trips.
                    let outcome = if (i as usize + t).is_multiple_of(10) {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    call(b, outcome);
                }
            });
        }
    });
    let snap = b.snapshot();
    assert_eq!(snap.state, CircuitState::Closed);
    assert_eq!(
        snap.successes + snap.failures,
        u64::from(CALLS) * THREADS as u64
    );
    assert_eq!(snap.failures, u64::from(CALLS / 10) * THREADS as u64);
    // At least the last 100 calls, at most 100 per stripe.
    let w = snap.window;
    assert!(
        w.calls >= 100 && w.calls <= 100 * snap.stripes as u64,
        "{w:?}"
    );
    assert!((w.error_rate - 0.1).abs() < 0.05, "{w:?}");
}
