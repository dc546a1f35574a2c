#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `rolling_window` and `window_buckets` change live, and the window keeps its counts:
//! each old bucket's counts move to the new bucket that holds the old bucket's midpoint (or to
//! the current new bucket if that midpoint is still ahead, and never to before the episode
//! began); counts that land outside the new window leave it, and the lifetime totals keep
//! everything. Buckets are aligned on multiples of their width since the registry was
//! created, so with a `FakeClock` every boundary below is exact.
//!
//! Regression (issue 9): changing `rolling_window` emptied the window, and changing
//! `window_buckets` was refused ("restart to resize it").

use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, FakeClock, GlobalCircuitBreaker, Outcome,
    SampleWeighting,
};

const MS: Duration = Duration::from_millis(1);

/// 10 s in ten 1 s buckets; nothing trips unless a test lowers `min_calls`.
const BASE: CircuitConfig = CircuitConfig {
    rolling_window: Duration::from_secs(10),
    window_buckets: 10,
    min_calls: 1000,
    error_rate_threshold: 0.5,
    ..CircuitConfig::DEFAULT
};

fn geometry(rolling_window: Duration, window_buckets: u32) -> CircuitConfig {
    CircuitConfig {
        rolling_window,
        window_buckets,
        ..BASE
    }
}

struct Rig {
    registry: GlobalCircuitBreaker,
    clock: FakeClock,
    b: std::sync::Arc<ComponentBreaker>,
    /// Where the clock is, since the registry was created.
    at: Duration,
}

impl Rig {
    fn new(config: CircuitConfig) -> Self {
        let clock = FakeClock::new();
        let registry = GlobalCircuitBreaker::builder()
            .config(config)
            .clock(clock.clone())
            .build()
            .unwrap();
        let b = registry.register("geometry").unwrap();
        Self {
            registry,
            clock,
            b,
            at: Duration::ZERO,
        }
    }

    /// Moves the clock to `t` since the registry's creation.
    fn at(&mut self, t: Duration) -> &mut Self {
        assert!(t >= self.at, "the clock only moves forward");
        self.clock.advance(t - self.at);
        self.at = t;
        self
    }

    fn record(&mut self, outcome: Outcome, times: u32) -> &mut Self {
        for _ in 0..times {
            self.b.acquire().into_result().unwrap().record(outcome);
        }
        self
    }

    fn reload(&mut self, config: CircuitConfig) -> &mut Self {
        self.registry.reload(config).unwrap();
        assert_eq!(self.b.config(), config);
        self
    }

    fn window_calls(&self) -> u64 {
        self.b.snapshot().window.calls
    }

    /// Checks the window's call count just before and at each of `steps` (time, calls at
    /// that time): counts leave exactly at new-bucket boundaries.
    fn expect_evictions(&mut self, before: u64, steps: &[(Duration, u64)]) {
        let mut expected = before;
        for &(t, calls) in steps {
            self.at(t - MS);
            assert_eq!(self.window_calls(), expected, "just before {t:?}");
            self.at(t);
            assert_eq!(self.window_calls(), calls, "at {t:?}");
            expected = calls;
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// One failure at 0.5 s, two at 5.2 s and three at 9.5 s (old buckets 0, 5 and 9), then a
/// reload at 9.5 s.
fn three_buckets_then(config: CircuitConfig) -> Rig {
    let mut rig = Rig::new(BASE);
    rig.at(secs(0.5)).record(Outcome::Failure, 1);
    rig.at(secs(5.2)).record(Outcome::Failure, 2);
    rig.at(secs(9.5)).record(Outcome::Failure, 3);
    assert_eq!(rig.window_calls(), 6);
    rig.reload(config);
    rig
}

#[test]
fn growing_rolling_window_keeps_the_counts_in_wider_buckets() {
    // 20 s in 2 s buckets: old buckets 0, 5, 9 (midpoints 0.5, 5.5, 9.5 s) land in new
    // buckets 0, 2 and 4, which leave the window at 20, 24 and 28 s (not 10, 15 and 19 s).
    let mut rig = three_buckets_then(geometry(secs(20.0), 10));
    assert_eq!(rig.window_calls(), 6, "nothing is lost");
    rig.expect_evictions(6, &[(secs(20.0), 5), (secs(24.0), 3), (secs(28.0), 0)]);
    assert_eq!(rig.b.snapshot().failures, 6, "the totals keep everything");
}

#[test]
fn shrinking_rolling_window_keeps_what_still_fits() {
    // 5 s in 0.5 s buckets, at 9.5 s (new bucket 19): the midpoints 0.5 s and 5.5 s land in
    // new buckets 1 (18 buckets old: out) and 11 (8 old: in, until 10.5 s); 9.5 s in bucket
    // 19, until 14.5 s.
    let mut rig = three_buckets_then(geometry(secs(5.0), 10));
    assert_eq!(rig.window_calls(), 5);
    rig.expect_evictions(5, &[(secs(10.5), 3), (secs(14.5), 0)]);
    assert_eq!(rig.b.snapshot().failures, 6);
}

#[test]
fn growing_window_buckets_splits_the_window_finer() {
    // 10 s in twenty 0.5 s buckets: midpoints 0.5, 5.5, 9.5 s fall in new buckets 1, 11, 19,
    // which leave at 10.5, 15.5 and 19.5 s (half an old bucket later than before: the counts
    // sit at their bucket's midpoint).
    let mut rig = three_buckets_then(geometry(secs(10.0), 20));
    assert_eq!(rig.window_calls(), 6);
    rig.expect_evictions(6, &[(secs(10.5), 5), (secs(15.5), 3), (secs(19.5), 0)]);
}

#[test]
fn shrinking_window_buckets_merges_neighbours() {
    // 10 s in five 2 s buckets: midpoints 0.5, 5.5, 9.5 s fall in new buckets 0, 2, 4, which
    // leave at 10, 14 and 18 s.
    let mut rig = three_buckets_then(geometry(secs(10.0), 5));
    assert_eq!(rig.window_calls(), 6);
    rig.expect_evictions(6, &[(secs(10.0), 5), (secs(14.0), 3), (secs(18.0), 0)]);
}

#[test]
fn both_at_once_with_the_same_width_keeps_every_bucket() {
    // 20 s in twenty 1 s buckets: the same width, so every count keeps its bucket, and the
    // window now reaches back 20 s: the buckets leave at 20, 25 and 29 s.
    let mut rig = three_buckets_then(geometry(secs(20.0), 20));
    assert_eq!(rig.window_calls(), 6);
    rig.expect_evictions(6, &[(secs(20.0), 5), (secs(25.0), 3), (secs(29.0), 0)]);
}

#[test]
fn both_at_once_with_a_new_width() {
    // 30 s in fifteen 2 s buckets: new buckets 0, 2, 4, leaving at 30, 34 and 38 s.
    let mut rig = three_buckets_then(geometry(secs(30.0), 15));
    rig.expect_evictions(6, &[(secs(30.0), 5), (secs(34.0), 3), (secs(38.0), 0)]);
}

#[test]
fn a_bucket_whose_midpoint_is_still_ahead_goes_to_the_current_bucket() {
    // At 9.1 s the current 1 s bucket's midpoint (9.5 s) is in the future; with 0.25 s
    // buckets its counts go to the current one (9.0 s to 9.25 s), which leaves at 11.5 s.
    let mut rig = Rig::new(BASE);
    rig.at(secs(9.05)).record(Outcome::Failure, 4);
    rig.at(secs(9.1)).reload(geometry(secs(2.5), 10));
    assert_eq!(rig.window_calls(), 4);
    rig.expect_evictions(4, &[(secs(11.5), 0)]);
}

#[test]
fn carried_counts_never_move_to_before_the_episode_began() {
    // The episode begins at 5.7 s (a reset); its failures at 5.8 s are in old bucket 5,
    // whose midpoint (5.5 s) is before the reset. With 0.1 s buckets they go to the bucket
    // the episode began in (5.7 s to 5.8 s), not to one the new episode never had.
    let mut rig = Rig::new(BASE);
    rig.at(secs(1.0)).record(Outcome::Failure, 2);
    rig.at(secs(5.7));
    rig.b.reset();
    rig.at(secs(5.8)).record(Outcome::Failure, 3);
    assert_eq!(rig.window_calls(), 3);
    rig.at(secs(5.9)).reload(geometry(secs(1.0), 10));
    assert_eq!(rig.window_calls(), 3);
    rig.expect_evictions(3, &[(secs(6.7), 0)]);
}

#[test]
fn min_calls_and_the_error_rate_count_carried_calls() {
    let mut rig = Rig::new(CircuitConfig {
        min_calls: 10,
        ..BASE
    });
    rig.at(secs(2.0)).record(Outcome::Success, 6);
    rig.at(secs(3.0)).record(Outcome::Failure, 3);
    rig.reload(CircuitConfig {
        rolling_window: secs(20.0),
        window_buckets: 20,
        min_calls: 10,
        ..BASE
    });
    let window = rig.b.snapshot().window;
    assert_eq!((window.calls, window.failures), (9, 3));
    rig.record(Outcome::Failure, 1);
    assert_eq!(rig.b.state(), CircuitState::Closed, "4/10 < 0.5");
    rig.record(Outcome::Failure, 1);
    assert_eq!(rig.b.state(), CircuitState::Closed, "5/11 < 0.5");
    rig.record(Outcome::Failure, 1);
    assert_eq!(rig.b.state(), CircuitState::Open, "6/12 >= 0.5");
}

#[test]
fn counts_that_fall_out_of_a_shrunk_window_no_longer_reach_min_calls() {
    let config = CircuitConfig {
        min_calls: 10,
        ..BASE
    };
    let mut rig = Rig::new(config);
    rig.at(secs(0.5)).record(Outcome::Failure, 5);
    rig.at(secs(9.5)).reload(CircuitConfig {
        rolling_window: secs(5.0),
        ..config
    });
    assert_eq!(
        rig.window_calls(),
        0,
        "the old failures are 9 s old, outside 5 s"
    );
    rig.record(Outcome::Failure, 5);
    assert_eq!(
        rig.b.state(),
        CircuitState::Closed,
        "5 calls < min_calls 10"
    );
    assert_eq!(rig.b.snapshot().failures, 10);
    // Had they been kept, 10 failures would have tripped; the old geometry would have.
    rig.record(Outcome::Failure, 5);
    assert_eq!(rig.b.state(), CircuitState::Open);
}

#[test]
fn exponential_weights_follow_the_new_bucket_ages() {
    // Failures at 0.5 s, successes at 9.5 s; the reload to 2 s buckets puts the failures 4
    // buckets back. With a 4 s half-life (two new buckets) they weigh 0.5^2.
    let mut rig = Rig::new(BASE);
    rig.at(secs(0.5)).record(Outcome::Failure, 4);
    rig.at(secs(9.5)).record(Outcome::Success, 4);
    rig.reload(CircuitConfig {
        rolling_window: secs(20.0),
        sample_weighting: SampleWeighting::Exponential,
        exponential_half_life: secs(4.0),
        ..BASE
    });
    let window = rig.b.snapshot().window;
    assert_eq!(window.calls, 8);
    let expected = 1.0 / (1.0 + 4.0);
    assert!((window.error_rate - expected).abs() < 1e-6, "{window:?}");
}

/// Issue 9: growing the window under traffic left a bucket tagged with an epoch of the old
/// width, which writers of the new width then took for a newer bucket, and every call
/// recorded into it went to the totals only. After each of 1,000 geometry changes (growing
/// and shrinking the ring past the size it was created with, and changing the width), three
/// calls recorded into the current bucket must show up in the window.
#[test]
fn no_bucket_drops_calls_after_a_thousand_geometry_reloads() {
    let geometries = [
        (secs(10.0), 10),
        (secs(20.0), 20),
        (secs(10.0), 5),
        (secs(1.0), 1),
        (secs(10.0), 1000),
        (secs(7.0), 7),
        (Duration::from_millis(64), 64),
        (secs(3.0), 1000),
        (secs(40.0), 8),
        (secs(365.0 * 24.0 * 3600.0), 1000),
        (secs(2.0), 2),
    ];
    let mut rig = Rig::new(BASE);
    let mut recorded = 0;
    for i in 0..1000usize {
        let (window, buckets) = geometries[(i * 7 + i / 11) % geometries.len()];
        rig.reload(geometry(window, buckets));
        if i % 3 == 0 {
            // Sometimes time moves too: by a prime number of milliseconds.
            let t = rig.at + Duration::from_millis([1, 7, 131, 997, 5003][i % 5]);
            rig.at(t);
        }
        let before = rig.window_calls();
        rig.record(Outcome::Success, 2).record(Outcome::Failure, 1);
        recorded += 3;
        let after = rig.b.snapshot();
        assert_eq!(
            after.window.calls,
            before + 3,
            "reload {i} to {window:?} / {buckets}: the current bucket dropped calls"
        );
        assert_eq!(after.calls, recorded, "reload {i}: the totals lost calls");
    }
}

/// `reload_component` changes one component's geometry; the others keep theirs and their
/// counts.
#[test]
fn one_component_can_change_its_geometry_alone() {
    let mut rig = Rig::new(BASE);
    let other = rig.registry.register("other").unwrap();
    rig.at(secs(3.5)).record(Outcome::Failure, 2);
    other
        .acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Failure);
    let own = geometry(secs(20.0), 40);
    rig.registry.reload_component("geometry", own).unwrap();
    assert_eq!(rig.b.config(), own);
    assert_eq!(other.config(), BASE);
    assert_eq!(rig.window_calls(), 2);
    assert_eq!(other.snapshot().window.calls, 1);
    // The other's failure leaves with its 1 s bucket at 13 s; the component's, re-bucketed
    // into [3.5 s, 4 s) of a 20 s window, at 23.5 s.
    rig.at(secs(13.0) - MS);
    assert_eq!(other.snapshot().window.calls, 1);
    rig.at(secs(13.0));
    assert_eq!(other.snapshot().window.calls, 0);
    rig.expect_evictions(2, &[(secs(23.5), 0)]);
}

/// A config file changes the geometry too (the same reload path).
#[test]
fn a_config_file_changes_the_geometry_and_keeps_the_counts() {
    let mut rig = Rig::new(BASE);
    rig.at(secs(4.2)).record(Outcome::Failure, 3);
    rig.at(secs(9.0));
    rig.registry
        .reload_from_str("[defaults]\nrolling_window = \"30s\"\nwindow_buckets = 300\n")
        .unwrap();
    assert_eq!(rig.b.config().window_buckets, 300);
    assert_eq!(rig.window_calls(), 3);
    // Old bucket 4 (midpoint 4.5 s) is new bucket 45 ([4.5 s, 4.6 s)), out at 34.5 s.
    rig.expect_evictions(3, &[(secs(34.5), 0)]);
}
