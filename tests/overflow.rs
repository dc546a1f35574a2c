#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Extremes: durations at and past the limits, clocks near the end of the nanosecond range,
//! clocks that jump backwards, and generations that outgrow the window's episode tags. No
//! panic anywhere, and the documented behaviour.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::{
    CallError, CircuitConfig, CircuitError, CircuitState, Clock, ComponentBreaker, FakeClock,
    GlobalCircuitBreaker, GlobalTripConditions, Outcome, Permit, Recorded, SampleWeighting,
    MAX_DURATION,
};

const D: CircuitConfig = CircuitConfig::DEFAULT;

fn breaker(config: CircuitConfig, clock: impl Clock + 'static) -> ComponentBreaker {
    ComponentBreaker::new("overflow", config, Arc::new(clock)).unwrap()
}

fn fail(b: &ComponentBreaker, times: u32) {
    for _ in 0..times {
        if let Permit::Allowed(g) = b.acquire() {
            g.record(Outcome::Failure);
        }
    }
}

/// Exercises every public entry point once; none may panic whatever the state.
fn poke(b: &ComponentBreaker) {
    // A retry hint exactly while open (the breaker says when an open one lets probes in).
    assert_eq!(
        b.retry_after().is_some(),
        b.snapshot().state == CircuitState::Open,
        "{:?}",
        b.snapshot()
    );
    for outcome in [Outcome::Success, Outcome::Failure, Outcome::Ignored] {
        if let Permit::Allowed(g) = b.acquire() {
            // Nothing changed the state between admission and record.
            assert_eq!(g.record(outcome), Recorded::Counted, "{outcome:?}");
        }
    }
    if let Permit::Allowed(g) = b.acquire() {
        drop(g);
    }
    let calls = b.snapshot().calls;
    match b.call(|| Ok::<_, ()>(())) {
        Ok(()) => assert_eq!(b.snapshot().calls, calls + 1, "the call ran and counted"),
        Err(CallError::Rejected(e)) => {
            assert_eq!(
                b.snapshot().calls,
                calls,
                "a refused call ({e}) did not run"
            );
        }
        Err(CallError::Inner(())) => panic!("the closure cannot fail"),
    }
    let snap = b.snapshot();
    assert_eq!(snap.calls, snap.successes + snap.failures + snap.ignored);
    assert!((0.0..=1.0).contains(&snap.window.error_rate));
    assert!((0.0..=1.0).contains(&snap.window.slow_call_rate));
}

// ---------------------------------------------------------------------------------------------
// Config values at and past the limits.
// ---------------------------------------------------------------------------------------------

fn with(change: impl FnOnce(&mut CircuitConfig)) -> CircuitConfig {
    let mut c = D;
    change(&mut c);
    c
}

#[test]
fn every_float_field_refuses_nan_and_infinities() {
    type Set = fn(&mut CircuitConfig, f32);
    let fields: [(&str, Set); 4] = [
        ("error_rate_threshold", |c, v| c.error_rate_threshold = v),
        ("slow_call_rate_threshold", |c, v| {
            c.slow_call_rate_threshold = v
        }),
        ("open_backoff_multiplier", |c, v| {
            c.open_backoff_multiplier = v
        }),
        ("global_trip_conditions.component_open_ratio", |c, v| {
            c.global_trip_conditions.component_open_ratio = v
        }),
    ];
    for (field, set) in fields {
        for value in [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            -0.0,
            0.0,
        ] {
            let config = with(|c| set(c, value));
            let err = config
                .validate()
                .expect_err(&format!("{field} = {value} must be refused"));
            assert_eq!(err.field(), field, "{value}");
            // The manifest's compile-time check refuses it at the field, in the same words
            // (a `const` cannot format the float, so it names the field and the rule).
            let at_compile_time =
                breaker::__private::manifest_error(&config, Some(field), &[], None).unwrap();
            assert_eq!(at_compile_time.as_str(), format!("{field}: {}", err.rule()));
        }
    }
}

#[test]
fn every_duration_field_refuses_overflow_sized_values() {
    type Set = fn(&mut CircuitConfig, Duration);
    let fields: [(&str, Set); 7] = [
        ("rolling_window", |c, d| c.rolling_window = d),
        ("slow_call_threshold", |c, d| {
            c.slow_call_threshold = Some(d)
        }),
        ("open_cooldown", |c, d| c.open_cooldown = d),
        ("open_cooldown_max", |c, d| c.open_cooldown_max = d),
        ("half_open_max_wait", |c, d| c.half_open_max_wait = Some(d)),
        ("exponential_half_life", |c, d| c.exponential_half_life = d),
        // The bucket rule reports the window when it cannot be divided into whole buckets.
        ("rolling_window", |c, d| {
            c.rolling_window = d;
            c.window_buckets = 1;
        }),
    ];
    for (field, set) in fields {
        for value in [
            Duration::MAX,
            Duration::new(u64::MAX, 0),
            Duration::from_nanos(u64::MAX),
            MAX_DURATION + Duration::from_nanos(1),
        ] {
            let config = with(|c| set(c, value));
            let err = config
                .validate()
                .expect_err(&format!("{field} = {value:?} must be refused"));
            assert_eq!(err.field(), field, "{value:?}");
            // The message formats the huge value without panicking.
            assert!(err.to_string().starts_with(field));
        }
    }
}

#[test]
fn count_fields_at_their_type_limits() {
    let refused: [(&str, CircuitConfig); 4] = [
        ("window_buckets", with(|c| c.window_buckets = u32::MAX)),
        (
            "half_open_max_concurrent",
            with(|c| c.half_open_max_concurrent = u32::MAX),
        ),
        (
            "half_open_required_successes",
            with(|c| c.half_open_required_successes = u32::MAX),
        ),
        (
            "half_open_allowed_failures",
            with(|c| c.half_open_allowed_failures = u32::MAX),
        ),
    ];
    for (field, config) in refused {
        assert_eq!(config.validate().unwrap_err().field(), field);
    }
    // Valid at the type limit: they only ever compare.
    let accepted = with(|c| {
        c.min_calls = u32::MAX;
        c.consecutive_failures_threshold = Some(u32::MAX);
        c.global_trip_conditions = GlobalTripConditions {
            component_open_ratio: 1.0,
            min_components: u32::MAX,
            min_calls: u32::MAX,
        };
    });
    assert_eq!(accepted.validate(), Ok(()));
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .config(accepted)
        .clock(clock.clone())
        .build()
        .unwrap();
    let b = registry.register("limits").unwrap();
    fail(&b, 100);
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(registry.global().state(), CircuitState::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 100);
    poke(&b);
}

/// The longest durations the rules allow, everywhere at once, with the steepest backoff.
fn longest() -> CircuitConfig {
    CircuitConfig {
        rolling_window: MAX_DURATION,
        window_buckets: 1000,
        min_calls: 1,
        slow_call_threshold: Some(MAX_DURATION),
        open_cooldown: MAX_DURATION,
        open_backoff_multiplier: 1000.0,
        open_cooldown_max: MAX_DURATION,
        half_open_max_concurrent: 1000,
        half_open_required_successes: 1000,
        half_open_allowed_failures: 1000,
        half_open_max_wait: Some(MAX_DURATION),
        sample_weighting: SampleWeighting::Exponential,
        exponential_half_life: MAX_DURATION,
        ..D
    }
}

#[test]
fn the_longest_durations_work_without_overflow() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        half_open_allowed_failures: 0,
        ..longest()
    };
    let b = breaker(config, clock.clone());
    fail(&b, 1);
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.retry_after(), Some(MAX_DURATION));
    match b.acquire() {
        Permit::Rejected(CircuitError::Open { retry_after, .. }) => {
            assert_eq!(retry_after, MAX_DURATION)
        }
        other => panic!("expected an open rejection, got {other:?}"),
    }
    clock.advance(MAX_DURATION - Duration::from_nanos(1));
    assert_eq!(b.retry_after(), Some(Duration::from_nanos(1)));
    assert!(!b.acquire().is_allowed());
    clock.advance(Duration::from_nanos(1));
    let probe = b.acquire().into_result().unwrap();
    assert!(probe.is_probe());
    // A probe that took the whole slow-call threshold is slow, hence failed: re-open, with
    // the backoff capped at open_cooldown_max.
    clock.advance(MAX_DURATION);
    probe.record(Outcome::Success);
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.retry_after(), Some(MAX_DURATION));
    assert_eq!(b.snapshot().slow_calls, 1);
    poke(&b);
}

#[test]
fn backoff_is_capped_after_many_reopens() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        min_calls: 1,
        open_cooldown: Duration::from_millis(1),
        open_backoff_multiplier: 1000.0,
        open_cooldown_max: MAX_DURATION,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..D
    };
    let b = breaker(config, clock.clone());
    fail(&b, 1);
    let mut expected = Duration::from_millis(1);
    for _ in 0..40 {
        assert_eq!(b.retry_after(), Some(expected));
        clock.advance(expected);
        b.acquire().into_result().unwrap().record(Outcome::Failure);
        assert_eq!(b.state(), CircuitState::Open);
        expected = expected
            .checked_mul(1000)
            .filter(|d| *d < MAX_DURATION)
            .unwrap_or(MAX_DURATION);
    }
    assert_eq!(b.retry_after(), Some(MAX_DURATION));
    poke(&b);
}

// ---------------------------------------------------------------------------------------------
// Clocks near the end of the range.
// ---------------------------------------------------------------------------------------------

/// Time far in the future: the nanosecond arithmetic is close to `u64::MAX`.
#[test]
fn a_clock_near_the_end_of_the_nanosecond_range() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        min_calls: 2,
        open_cooldown: Duration::from_secs(10),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        slow_call_threshold: Some(Duration::from_secs(1)),
        ..D
    };
    let b = breaker(config, clock.clone());
    // 584 years minus a minute.
    clock.advance(Duration::from_nanos(u64::MAX) - Duration::from_secs(60));
    fail(&b, 2);
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.retry_after(), Some(Duration::from_secs(10)));
    clock.advance(Duration::from_secs(10));
    let probe = b.acquire().into_result().unwrap();
    probe.record(Outcome::Success);
    assert_eq!(b.state(), CircuitState::Closed);
    poke(&b);
}

/// Past the end: `advance` saturates and the engine keeps answering.
#[test]
fn a_clock_that_saturates() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        min_calls: 2,
        slow_call_threshold: Some(Duration::from_secs(1)),
        ..D
    };
    let b = breaker(config, clock.clone());
    fail(&b, 1);
    let held = b.acquire().into_result().unwrap();
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    assert_eq!(clock.elapsed(), Duration::from_nanos(u64::MAX));
    // Slow: it took 584 years.
    held.record(Outcome::Success);
    assert_eq!(b.snapshot().slow_calls, 1);
    for _ in 0..5 {
        poke(&b);
        b.reset();
        poke(&b);
    }
}

// ---------------------------------------------------------------------------------------------
// Clocks that go backwards.
// ---------------------------------------------------------------------------------------------

/// A clock the test can move both ways (in milliseconds around a base instant).
#[derive(Clone)]
struct WildClock {
    base: Instant,
    offset_ms: Arc<AtomicI64>,
}

impl WildClock {
    fn new() -> Self {
        Self {
            // Leave room to go back before the breaker's origin.
            base: Instant::now() + Duration::from_secs(3600),
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    fn set_ms(&self, ms: i64) {
        self.offset_ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for WildClock {
    fn now(&self) -> Instant {
        let ms = self.offset_ms.load(Ordering::SeqCst);
        if ms >= 0 {
            self.base + Duration::from_millis(ms as u64)
        } else {
            self.base - Duration::from_millis(ms.unsigned_abs())
        }
    }
}

#[test]
fn a_clock_that_jumps_backwards_never_panics() {
    let clock = WildClock::new();
    let config = CircuitConfig {
        min_calls: 3,
        open_cooldown: Duration::from_secs(5),
        half_open_max_concurrent: 2,
        half_open_required_successes: 2,
        slow_call_threshold: Some(Duration::from_millis(500)),
        half_open_max_wait: Some(Duration::from_secs(2)),
        ..D
    };
    let b = breaker(config, clock.clone());
    // Forward, back past the origin, forward again, in every state.
    let script: [i64; 12] = [
        5_000, -3_600_000, 12_000, 1_000, 40_000, 39_000, 100_000, 0, 200_000, -1, 250_000, 249_999,
    ];
    for (i, ms) in script.into_iter().enumerate() {
        let held = b.acquire();
        clock.set_ms(ms);
        if let Permit::Allowed(g) = held {
            let calls = b.snapshot().calls;
            let recorded = g.record(if i % 2 == 0 {
                Outcome::Failure
            } else {
                Outcome::Success
            });
            // Counted or stale (the jump may end the episode it was admitted in), the outcome
            // is in the lifetime totals either way.
            assert_eq!(b.snapshot().calls, calls + 1, "{ms} ms: {recorded:?}");
        }
        fail(&b, 3);
        poke(&b);
    }
}

/// An open breaker whose clock jumps back: still open, with a retry hint that never
/// underflows, and it re-opens for probes once the clock passes the cooldown again.
#[test]
fn a_backward_jump_while_open_does_not_shorten_the_cooldown() {
    let clock = WildClock::new();
    let config = CircuitConfig {
        min_calls: 1,
        open_cooldown: Duration::from_secs(10),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..D
    };
    let b = breaker(config, clock.clone());
    clock.set_ms(100_000);
    fail(&b, 1);
    assert_eq!(b.state(), CircuitState::Open);
    clock.set_ms(-50_000);
    assert!(matches!(
        b.acquire().into_result().unwrap_err(),
        CircuitError::Open { .. }
    ));
    assert!(b.retry_after().is_some());
    clock.set_ms(110_000);
    let probe = b.acquire().into_result().unwrap();
    assert_eq!(probe.record(Outcome::Success), Recorded::Counted);
    assert_eq!(b.state(), CircuitState::Closed);
}

/// `Clock` docs: "if it does [go backwards], the engine treats the earlier reading as 'no
/// time passed'". So outcomes recorded after a backward jump count in the window as if they
/// happened at the latest reading, and the trip rule sees all of them.
///
/// Regression: the window used to fold from the earlier reading's bucket, leaving out every
/// outcome of the buckets "after" it, so six failures in a 10 s window with `min_calls: 6`
/// did not trip. An injected clock's readings now never go below the latest one seen.
#[test]
fn a_backward_jump_counts_as_no_time_passed_for_the_window() {
    let clock = WildClock::new();
    let config = CircuitConfig {
        min_calls: 6,
        error_rate_threshold: 0.5,
        ..D
    };
    let b = breaker(config, clock.clone());
    clock.set_ms(5_500);
    fail(&b, 5);
    assert_eq!(b.snapshot().window.calls, 5);
    // The clock steps back two seconds (an NTP correction on a non-monotonic clock).
    clock.set_ms(3_500);
    assert_eq!(
        b.snapshot().window.calls,
        5,
        "no time passed: the window still holds the five failures"
    );
    fail(&b, 1);
    assert_eq!(b.state(), CircuitState::Open, "six failures in the window");
}

// ---------------------------------------------------------------------------------------------
// Generations past the window's episode tags.
// ---------------------------------------------------------------------------------------------

/// README: "Every transition bumps the breaker's generation and starts a new episode with an
/// empty window".
///
/// Regression: buckets were tagged with the low 16 bits of the generation, so after exactly
/// 65,536 transitions the tag repeated and a bucket last written 65,536 episodes ago (same
/// epoch: the clock did not move past the bucket) counted toward the new episode. Tags now
/// keep 24 bits of episode.
#[test]
fn the_window_is_empty_after_65536_transitions() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        min_calls: 2,
        error_rate_threshold: 0.5,
        ..D
    };
    let b = breaker(config, clock);
    fail(&b, 1);
    assert_eq!(b.snapshot().window.calls, 1);
    for _ in 0..65_536 {
        b.reset();
    }
    assert_eq!(b.snapshot().generation, 65_536);
    assert_eq!(
        b.snapshot().window.calls,
        0,
        "a new episode starts with an empty window"
    );
    fail(&b, 1);
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "one failure in the window is below min_calls: 2"
    );
}

/// Regression: a bucket whose tag was more than 32,768 episodes old looked like it belonged to
/// a *later* episode (the comparison wrapped at 16 bits), so every outcome that fell in it
/// went to the totals only; with one bucket the error-rate rule could never trip. Tags now
/// keep 24 bits of episode and treat only the next 1,024 episodes as "later".
#[test]
fn outcomes_count_in_the_window_after_40000_transitions() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        window_buckets: 1,
        min_calls: 1,
        ..D
    };
    let b = breaker(config, clock);
    b.acquire().into_result().unwrap().record(Outcome::Success);
    for _ in 0..40_000 {
        b.reset();
    }
    b.acquire().into_result().unwrap().record(Outcome::Failure);
    assert_eq!(b.snapshot().failures, 1);
    // The failure counted in the current episode's window: 1 of 1 calls trips `min_calls: 1`
    // (and the open episode then starts its own, empty window).
    assert_eq!(b.state(), CircuitState::Open, "1 failure of 1 call >= 0.5");
}

/// A bucket left untouched while the era (generation plus geometry changes, 19 bits in the
/// tags) came round to just short of its own must not look like a bucket of a *later* era:
/// every call into it would go to the totals only, for good if the breaker then stays
/// healthy. A later era's bucket is always written at the writer's time or after; one from
/// longer ago is stale, whatever its era bits say.
#[test]
fn a_bucket_untouched_for_half_a_million_transitions_still_counts() {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        window_buckets: 1,
        min_calls: 1,
        ..D
    };
    let b = breaker(config, clock.clone());
    b.acquire().into_result().unwrap().record(Outcome::Success);
    // 2^19 - 10 transitions: the bucket's era now reads as 10 ahead of the current one.
    for _ in 0..(1 << 19) - 10 {
        b.reset();
    }
    clock.advance(Duration::from_secs(10));
    b.acquire().into_result().unwrap().record(Outcome::Failure);
    let snap = b.snapshot();
    assert_eq!(snap.failures, 1);
    assert_eq!(
        b.state(),
        CircuitState::Open,
        "the failure must count in the window: {snap:?}"
    );
}

/// Regression: `global_trip_conditions.min_calls` was a `u64`, and a value above `i64::MAX`
/// (valid, "0 disables it") made every config file fail, because layering goes through TOML,
/// whose integers are `i64`. It is a `u32` now, like a component's `min_calls`, so the largest
/// value layers cleanly.
#[test]
fn a_huge_fuse_call_minimum_does_not_break_config_files() {
    let huge = CircuitConfig {
        global_trip_conditions: GlobalTripConditions {
            min_calls: u32::MAX,
            ..GlobalTripConditions::DEFAULT
        },
        ..D
    };
    assert_eq!(huge.validate(), Ok(()));
    let registry = GlobalCircuitBreaker::builder()
        .config(huge)
        .clock(FakeClock::new())
        .build()
        .unwrap();
    let result = registry.reload_from_str("[defaults]\nmin_calls = 3\n");
    let report = result.unwrap_or_else(|e| panic!("a valid file over valid defaults: {e}"));
    assert!(report.unknown_components.is_empty(), "{report:?}");
    assert_eq!(registry.config().min_calls, 3);
}

// ---------------------------------------------------------------------------------------------
// Epoch numbers past the window's 40-bit epoch tags, and a clock at the end of its range.
// ---------------------------------------------------------------------------------------------

const MS: Duration = Duration::from_millis(1);
/// 2^40 one-millisecond buckets: where a 40-bit epoch tag wraps (about 34.8 years).
const EPOCH_WRAP: Duration = Duration::from_millis(1 << 40);

/// A 10 ms window of ten 1 ms buckets (the narrowest buckets there are), tripping at 50 %
/// with `min_calls: 5`.
fn narrow() -> CircuitConfig {
    CircuitConfig {
        rolling_window: Duration::from_millis(10),
        window_buckets: 10,
        min_calls: 5,
        error_rate_threshold: 0.5,
        open_cooldown: Duration::from_secs(10),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..D
    }
}

/// One success per millisecond across `span`, checking after each that the window holds
/// exactly the last ten milliseconds' worth (once ten have passed).
fn sweep(b: &ComponentBreaker, clock: &FakeClock, span: u32) {
    for i in 0..span {
        b.acquire().into_result().unwrap().record(Outcome::Success);
        let expected = u64::from(i.min(9) + 1);
        assert_eq!(
            b.snapshot().window.calls,
            expected,
            "ms {i} of the sweep, clock at {:?}",
            clock.elapsed()
        );
        clock.advance(MS);
    }
}

/// Regression: epochs were compared as plain 40-bit numbers, so once `now / 1 ms` passed
/// 2^40 (34.8 years of uptime) every outcome looked older than the buckets written before the
/// wrap and went to the totals only: ten straight failures with `min_calls: 5` stayed
/// `Closed`. Epoch tags now compare modulo 2^40, like episodes.
#[test]
fn ten_failures_trip_after_the_epoch_tags_wrap() {
    let clock = FakeClock::new();
    let b = breaker(narrow(), clock.clone());
    clock.advance(EPOCH_WRAP - 20 * MS);
    sweep(&b, &clock, 20);
    // Now exactly at the wrap; a little past it, the window holds the last six successes.
    clock.advance(3 * MS);
    assert_eq!(b.snapshot().window.calls, 6);
    fail(&b, 10);
    assert_eq!(b.state(), CircuitState::Open, "{:?}", b.snapshot());
    let snap = b.snapshot();
    assert_eq!(
        (snap.failures, snap.rejections.open),
        (6, 4),
        "6 of 12 calls failed: tripped, and the rest were refused"
    );
}

/// The window slides across the wrap one bucket at a time, as anywhere else.
#[test]
fn the_window_slides_across_the_epoch_wrap() {
    let clock = FakeClock::new();
    let b = breaker(
        CircuitConfig {
            min_calls: 1000,
            ..narrow()
        },
        clock.clone(),
    );
    clock.advance(EPOCH_WRAP - 25 * MS);
    sweep(&b, &clock, 50);
    // And far past it: a jump of several wraps lands in an empty window.
    clock.advance(EPOCH_WRAP * 3 + 7 * MS);
    assert_eq!(b.snapshot().window.calls, 0);
    sweep(&b, &clock, 15);
    let snap = b.snapshot();
    assert_eq!(snap.successes, 65, "the totals keep every outcome");
}

/// Jumps straight past the wrap from a window that holds counts: the old counts are out of
/// the window and the new ones are in it.
#[test]
fn a_jump_past_the_epoch_wrap_empties_the_window_and_counts_anew() {
    for jump in [
        EPOCH_WRAP,
        EPOCH_WRAP + 5 * MS,
        EPOCH_WRAP - 5 * MS,
        EPOCH_WRAP / 2 + 3 * MS,
        EPOCH_WRAP * 2 + 9 * MS,
    ] {
        let clock = FakeClock::new();
        let b = breaker(narrow(), clock.clone());
        clock.advance(EPOCH_WRAP - 3 * MS);
        b.acquire().into_result().unwrap().record(Outcome::Success);
        b.acquire().into_result().unwrap().record(Outcome::Success);
        clock.advance(jump);
        assert_eq!(b.snapshot().window.calls, 0, "jump {jump:?}");
        fail(&b, 4);
        assert_eq!(b.snapshot().window.calls, 4, "jump {jump:?}");
        assert_eq!(b.state(), CircuitState::Closed, "4 calls < min_calls 5");
        fail(&b, 1);
        assert_eq!(b.state(), CircuitState::Open, "jump {jump:?}");
    }
}

/// Near the end of the nanosecond range (584 years) with 1 ms buckets: the epoch is about
/// 2^44, far past the tags' 40 bits, and the window, the trip and the cooldown still work.
#[test]
fn narrow_buckets_near_the_end_of_the_nanosecond_range() {
    let clock = FakeClock::new();
    let b = breaker(narrow(), clock.clone());
    clock.advance(Duration::from_nanos(u64::MAX) - Duration::from_secs(60));
    sweep(&b, &clock, 30);
    fail(&b, 10);
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.retry_after(), Some(Duration::from_secs(10)));
    clock.advance(Duration::from_secs(10) - MS);
    assert!(!b.acquire().is_allowed());
    clock.advance(MS);
    let probe = b.acquire().into_result().unwrap();
    probe.record(Outcome::Success);
    assert_eq!(b.state(), CircuitState::Closed);
    sweep(&b, &clock, 12);
}

/// Regression: once the clock saturated at `u64::MAX` nanoseconds the cooldown's end
/// saturated too, `now < open_until` was false at once, and an `Open` state lasted 0 ns. Time
/// no longer moves there, so the breaker stays open, and says how much cooldown is left.
#[test]
fn an_open_state_at_the_saturated_clock_stays_open() {
    let clock = FakeClock::new();
    let b = breaker(narrow(), clock.clone());
    clock.advance(Duration::MAX);
    assert_eq!(clock.elapsed(), Duration::from_nanos(u64::MAX));
    fail(&b, 5);
    assert_eq!(b.state(), CircuitState::Open);
    for _ in 0..3 {
        match b.acquire() {
            Permit::Rejected(CircuitError::Open { retry_after, .. }) => {
                assert_eq!(retry_after, Duration::from_secs(10))
            }
            other => panic!("an open breaker let a call through: {other:?}"),
        }
        assert_eq!(b.retry_after(), Some(Duration::from_secs(10)));
        clock.advance(Duration::from_secs(3600));
    }
    assert_eq!(b.state(), CircuitState::Open);
    // The way out is the operator's.
    b.reset();
    assert_eq!(b.state(), CircuitState::Closed);
    poke(&b);
}

/// A cooldown that would end past the end of the range, entered a few seconds before it:
/// open for those seconds and then for good (the clock cannot get there), never 0 ns.
#[test]
fn a_cooldown_across_the_end_of_the_range_does_not_end_early() {
    let clock = FakeClock::new();
    let b = breaker(narrow(), clock.clone());
    clock.advance(Duration::from_nanos(u64::MAX) - Duration::from_secs(4));
    fail(&b, 5);
    assert_eq!(b.state(), CircuitState::Open);
    assert_eq!(b.retry_after(), Some(Duration::from_secs(10)));
    clock.advance(Duration::from_secs(3));
    assert_eq!(b.retry_after(), Some(Duration::from_secs(7)));
    assert!(!b.acquire().is_allowed());
    clock.advance(Duration::from_secs(60));
    assert_eq!(clock.elapsed(), Duration::from_nanos(u64::MAX));
    assert!(matches!(
        b.acquire(),
        Permit::Rejected(CircuitError::Open { .. })
    ));
    // Four seconds of the ten have passed, and no more can.
    assert_eq!(b.retry_after(), Some(Duration::from_secs(6)));
}
