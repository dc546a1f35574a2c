#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Every counter a snapshot or `/metrics` reports only ever goes up, and never above what was
//! recorded, while writers record and the clock moves buckets out of the window.
//!
//! Regression (issue 9): lifetime totals were `retired + buckets`, read in that order, while
//! retiring a bucket swapped it to 0 before adding its counts to `retired`. A read between the
//! two steps missed the bucket: a snapshot's `successes` fell 157,190 times in 6.3 M reads
//! under a writer advancing a fake clock by 1 ms per 2,000 calls, and `metrics::encode` showed
//! 81 drops in 473 k scrapes, which Prometheus reads as counter resets.
//!
//! Bounded in calls and in time; no sleeps (the clock is a `FakeClock`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use breaker::{
    CircuitConfig, ComponentBreaker, FakeClock, GlobalCircuitBreaker, Outcome, Permit,
    RegistrySnapshot,
};

const WRITERS: usize = 2;
/// Writers stop once each reader has read this often (or `SOAK` has passed)...
const READS: u64 = 40_000;
const SOAK: Duration = Duration::from_secs(4);
/// ...and never go past this many calls each.
const MAX_CALLS_PER_WRITER: u64 = 50_000_000;
/// The clock moves one bucket (1 ms) per this many calls of writer 0, as in the report.
const CALLS_PER_TICK: u64 = 2_000;
const DEADLINE: Duration = Duration::from_secs(120);

/// 1 ms buckets, so the clock retires one every tick; nothing ever trips (the test is about
/// the counters, not the state machine).
fn config() -> CircuitConfig {
    CircuitConfig {
        rolling_window: Duration::from_millis(10),
        window_buckets: 10,
        min_calls: u32::MAX,
        error_rate_threshold: 1.0,
        slow_call_threshold: Some(Duration::from_millis(1)),
        slow_call_rate_threshold: 1.0,
        ..CircuitConfig::DEFAULT
    }
}

/// What the writers started, per counter: a read may never report more.
#[derive(Default)]
struct Started {
    calls: AtomicU64,
    rejections: AtomicU64,
}

/// One reading of every counter of interest, by name.
type Reading = Vec<(String, u64)>;

fn from_snapshot(snap: &RegistrySnapshot) -> Reading {
    let mut out = Vec::new();
    for c in snap.components.iter().chain(std::iter::once(&snap.global)) {
        let name = c.component.clone();
        out.extend([
            (format!("{name}.calls"), c.calls),
            (format!("{name}.successes"), c.successes),
            (format!("{name}.failures"), c.failures),
            (format!("{name}.ignored"), c.ignored),
            (format!("{name}.slow"), c.slow_calls),
            (format!("{name}.rejections.open"), c.rejections.open),
            (
                format!("{name}.rejections.half_open_exhausted"),
                c.rejections.half_open_exhausted,
            ),
            (
                format!("{name}.rejections.global_open"),
                c.rejections.global_open,
            ),
            (
                format!("{name}.rejections.forced_open"),
                c.rejections.forced_open,
            ),
        ]);
    }
    out
}

/// Every `*_total` sample of the OpenMetrics text, keyed by its name and labels.
fn from_metrics(text: &str) -> Reading {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            key.contains("_total")
                .then(|| (key.to_owned(), value.parse().unwrap()))
        })
        .collect()
}

/// Keeps the latest value of each counter and counts every drop.
#[derive(Default)]
struct Monotonic {
    last: HashMap<String, u64>,
    reads: u64,
    drops: Vec<String>,
}

impl Monotonic {
    fn check(&mut self, reading: Reading) {
        self.reads += 1;
        for (key, value) in reading {
            let last = self.last.entry(key.clone()).or_insert(0);
            if value < *last {
                if self.drops.len() < 10 {
                    self.drops.push(format!("{key}: {} -> {value}", *last));
                } else {
                    self.drops.push(String::new());
                }
            }
            *last = (*last).max(value);
        }
    }
}

/// What the writers recorded, by outcome.
#[derive(Default)]
struct Recorded {
    successes: AtomicU64,
    failures: AtomicU64,
    ignored: AtomicU64,
}

fn writer(
    b: &ComponentBreaker,
    clock: &FakeClock,
    started: &Started,
    recorded: &Recorded,
    stop: &AtomicBool,
    index: usize,
) {
    for i in 0..MAX_CALLS_PER_WRITER {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if index == 0 && i % CALLS_PER_TICK == 0 {
            clock.advance(Duration::from_millis(1));
        }
        started.calls.fetch_add(1, Ordering::SeqCst);
        match b.acquire() {
            Permit::Allowed(g) => {
                let (outcome, tally) = match i % 7 {
                    0..=3 => (Outcome::Success, &recorded.successes),
                    4 | 5 => (Outcome::Failure, &recorded.failures),
                    _ => (Outcome::Ignored, &recorded.ignored),
                };
                g.record(outcome);
                tally.fetch_add(1, Ordering::Relaxed);
            }
            Permit::Rejected(e) => panic!("nothing trips in this test: {e}"),
        }
    }
}

#[test]
fn totals_never_go_down_while_buckets_retire() {
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .config(config())
        .clock(clock.clone())
        .build()
        .unwrap();
    let api = registry.register("monotonic").unwrap();
    // A forced-open neighbour: its rejections are reported counters too.
    let isolated = registry.register("isolated").unwrap();
    isolated.force_open();
    let started = Started::default();
    let recorded = Recorded::default();
    // Writers stop on `stop`, readers and the rejecter on `done` (after the writers).
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let began = Instant::now();
    let deadline = began + DEADLINE;

    let (snapshots, scrapes) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (api, clock, started, recorded, stop) =
                    (&api, &clock, &started, &recorded, &stop);
                s.spawn(move || writer(api, clock, started, recorded, stop, i))
            })
            .collect();
        let rejecter = s.spawn(|| {
            while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                started.rejections.fetch_add(1, Ordering::SeqCst);
                assert!(!isolated.acquire().is_allowed());
            }
        });
        let reader = |scrape: bool| {
            let mut seen = Monotonic::default();
            while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                let reading = if scrape {
                    from_metrics(&breaker::metrics::encode(
                        &registry,
                        breaker::metrics::Format::OpenMetrics,
                    ))
                } else {
                    from_snapshot(&registry.snapshot())
                };
                if seen.reads >= READS || began.elapsed() >= SOAK {
                    stop.store(true, Ordering::Relaxed);
                }
                let calls_started = started.calls.load(Ordering::SeqCst);
                let rejections_started = started.rejections.load(Ordering::SeqCst);
                for (key, value) in &reading {
                    let bound = if key.contains("transitions") {
                        // Not a call counter (one forced transition).
                        continue;
                    } else if key.contains("isolated") && key.contains("reject") {
                        rejections_started
                    } else if key.contains("isolated") || key.contains("__global__") {
                        0
                    } else {
                        calls_started
                    };
                    assert!(
                        *value <= bound,
                        "{key} reported {value}, more than the {bound} started"
                    );
                }
                seen.check(reading);
            }
            seen
        };
        let snapshots = s.spawn(move || reader(false));
        let scrapes = s.spawn(move || reader(true));
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        rejecter.join().unwrap();
        (snapshots.join().unwrap(), scrapes.join().unwrap())
    });
    assert!(
        Instant::now() < deadline,
        "the run took longer than {DEADLINE:?}"
    );

    for (what, seen) in [("snapshot", &snapshots), ("metrics::encode", &scrapes)] {
        eprintln!(
            "{what}: {} reads, {} drops {:?}",
            seen.reads,
            seen.drops.len(),
            &seen.drops[..seen.drops.len().min(10)]
        );
    }
    for (what, seen) in [("snapshot", snapshots), ("metrics::encode", scrapes)] {
        assert!(seen.reads > 0, "{what}: no reads");
        assert!(
            seen.drops.is_empty(),
            "{what}: {} counter drops in {} reads, e.g. {:?}",
            seen.drops.len(),
            seen.reads,
            &seen.drops[..seen.drops.len().min(10)]
        );
    }

    // Exact once everyone has stopped.
    let snap = api.snapshot();
    let get = |a: &AtomicU64| a.load(Ordering::SeqCst);
    assert_eq!(snap.calls, get(&started.calls));
    assert_eq!(snap.successes, get(&recorded.successes));
    assert_eq!(snap.failures, get(&recorded.failures));
    assert_eq!(snap.ignored, get(&recorded.ignored));
    assert_eq!(
        isolated.snapshot().rejections.forced_open,
        started.rejections.load(Ordering::SeqCst)
    );
}
