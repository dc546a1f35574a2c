#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Latency harness (`harness = false`): p50 / p99 / p99.9 per call for every subject of
//! `hot_path`, plus a short many-threads throughput run, all in one process, printed as
//! Markdown (the tables BENCHMARKS.md quotes).
//!
//! Method: a timed sample is a batch of `--batch` calls (default 256) between two
//! `Instant::now()` readings; the per-call latency of a sample is its time minus the median
//! timer overhead (measured first, on empty batches, and printed), divided by the batch size.
//! Subjects are measured in interleaved rounds (every subject gets a slice of its samples in
//! each round), so drift on a shared machine hits them all alike. Batching hides what happens
//! inside one batch, so the tails here are tails of 256-call averages: they catch stalls,
//! preemption and slow paths that recur, not a single slow call. The "warm p99.9" column
//! leaves out the first `WARM_UP` batches of each round (the ones that follow a switch of
//! subject, with cold caches and branch predictors): where it is much lower than p99.9, the
//! tail is the harness's subject switches, not the subject.
//!
//! ```text
//! cargo bench --bench latency                         # 50,000 samples per subject
//! cargo bench --bench latency -- --quick              # 5,000
//! cargo bench --bench latency -- --samples 20000 --batch 128 --rounds 5
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use recloser::AsyncRecloser;

mod common;
use common::*;

common::bench_manifest!();

struct Options {
    samples: usize,
    batch: u64,
    rounds: usize,
    threads: bool,
}

fn options() -> Options {
    let mut o = Options {
        samples: 50_000,
        batch: 256,
        rounds: 10,
        threads: true,
    };
    let args: Vec<String> = std::env::args().collect();
    let value = |i: usize| args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
    for (i, arg) in args.iter().enumerate() {
        match arg.as_str() {
            "--quick" => o.samples = 5_000,
            "--samples" => o.samples = value(i).map_or(o.samples, |v| v as usize),
            "--batch" => o.batch = value(i).map_or(o.batch, |v| v.max(1)),
            "--rounds" => o.rounds = value(i).map_or(o.rounds, |v| (v as usize).max(1)),
            "--no-threads" => o.threads = false,
            _ => {} // `--bench` and friends, from cargo
        }
    }
    o
}

/// Runs `samples` timed batches of `batch` calls, appending each batch's nanoseconds.
type Measure = Box<dyn FnMut(usize, u64, &mut Vec<u64>)>;

/// Batches at the start of each round that the warm tail leaves out.
const WARM_UP: usize = 8;

/// One subject: its measuring loop (monomorphised per subject) and the samples so far.
struct Subject {
    scenario: &'static str,
    name: &'static str,
    run: Measure,
    samples: Vec<u64>,
    /// The samples without each round's first [`WARM_UP`].
    warm: Vec<u64>,
}

fn subject<O>(
    scenario: &'static str,
    name: &'static str,
    mut f: impl FnMut(u64) -> O + 'static,
) -> Subject {
    let mut i = 0u64;
    Subject {
        scenario,
        name,
        run: Box::new(move |samples, batch, out| {
            for _ in 0..samples {
                let start = Instant::now();
                for _ in 0..batch {
                    i = i.wrapping_add(1);
                    black_box(f(black_box(i)));
                }
                out.push(start.elapsed().as_nanos() as u64);
            }
        }),
        samples: Vec::new(),
        warm: Vec::new(),
    }
}

/// Per-call statistics of one subject, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Stats {
    p50: f64,
    p99: f64,
    p999: f64,
    mean: f64,
    warm_p999: f64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn stats(samples: &mut [u64], warm: &mut [u64], overhead: u64, batch: u64) -> Stats {
    samples.sort_unstable();
    warm.sort_unstable();
    let per_call = |ns: u64| ns.saturating_sub(overhead) as f64 / batch as f64;
    let sum: u64 = samples.iter().map(|&s| s.saturating_sub(overhead)).sum();
    Stats {
        p50: per_call(percentile(samples, 0.50)),
        p99: per_call(percentile(samples, 0.99)),
        p999: per_call(percentile(samples, 0.999)),
        mean: sum as f64 / (samples.len() as u64 * batch) as f64,
        warm_p999: if warm.is_empty() {
            f64::NAN
        } else {
            per_call(percentile(warm, 0.999))
        },
    }
}

/// The cost of the two clock reads around a batch: empty batches, many times.
fn timer_overhead(samples: usize) -> (u64, u64) {
    let mut v: Vec<u64> = (0..samples.max(1_000))
        .map(|_| {
            let start = Instant::now();
            black_box(());
            start.elapsed().as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    (percentile(&v, 0.5), percentile(&v, 0.99))
}

fn subjects() -> Vec<Subject> {
    const CS: &str = "1. closed, success";
    const CF: &str = "2. closed, 10 % failures";
    const OR: &str = "3. open: rejection";
    const HO: &str = "4. half-open: probe admitted and released";

    let floor = Floor::new(false);
    let floor2 = Floor::new(false);
    let floor3 = Floor::new(false);
    let open_floor = Floor::new(true);
    let (fd, fd_async, fd_mixed, fd_mixed_async) = (
        failsafe_default(),
        failsafe_default(),
        failsafe_default(),
        failsafe_default(),
    );
    let fc = failsafe_consecutive(5, Duration::from_secs(30));
    let fc_mixed = failsafe_consecutive(5, Duration::from_secs(30));
    let (r, r_mixed) = (recloser_default(), recloser_default());
    let ar = AsyncRecloser::from(recloser_default());
    let ar_mixed = AsyncRecloser::from(recloser_default());

    // Diagnostic: the same engine on a `FakeClock` (one atomic load instead of a clock read),
    // to show what the clock read costs. Not a configuration anyone deploys.
    let fake = Box::leak(Box::new(
        breaker::GlobalCircuitBreaker::builder()
            .clock(breaker::FakeClock::new())
            .build()
            .unwrap(),
    ));
    let diag_ok = fake.register("diag_ok").unwrap();
    let diag_open = fake
        .register_with(
            "diag_open",
            breaker::CircuitConfig {
                consecutive_failures_threshold: Some(1),
                open_cooldown: LONG,
                open_cooldown_max: LONG,
                ..breaker::CircuitConfig::DEFAULT
            },
        )
        .unwrap();
    if let breaker::Permit::Allowed(g) = diag_open.acquire() {
        g.record(breaker::Outcome::Failure);
    }
    assert_eq!(diag_open.state(), breaker::CircuitState::Open);
    let on_fake = |b: &breaker::ComponentBreaker,
                   i: u64,
                   body: fn(u64) -> Result<u64, BenchError>| match b.acquire() {
        breaker::Permit::Allowed(g) => {
            let out = body(i);
            g.record_result(&out);
            out
        }
        breaker::Permit::Rejected(e) => Err(e.into()),
    };

    // The count window (`sample_weighting = count`), standalone on the system clock, and a
    // standalone time window beside it for a like-for-like comparison.
    let standalone = |name: &str, sample_weighting| {
        &*Box::leak(Box::new(
            breaker::ComponentBreaker::new(
                name,
                breaker::CircuitConfig {
                    sample_weighting,
                    ..breaker::CircuitConfig::DEFAULT
                },
                std::sync::Arc::new(breaker::SystemClock),
            )
            .unwrap(),
        ))
    };
    let sliding_ok = standalone("sliding_ok", breaker::SampleWeighting::Sliding);
    let count_ok = standalone("count_ok", breaker::SampleWeighting::Count);
    let sliding_mixed = standalone("sliding_mixed", breaker::SampleWeighting::Sliding);
    let count_mixed = standalone("count_mixed", breaker::SampleWeighting::Count);
    // The opt-in `CoarseClock` (ticked once here: the call path reads the tick either way),
    // and `call(|| ..)` on the standalone time window, for "acquire + record vs call".
    let coarse = |name: &str| {
        &*Box::leak(Box::new(
            breaker::ComponentBreaker::new(
                name,
                breaker::CircuitConfig::DEFAULT,
                std::sync::Arc::new(breaker::CoarseClock::new()),
            )
            .unwrap(),
        ))
    };
    let coarse_ok = coarse("coarse_ok");
    let coarse_mixed = coarse("coarse_mixed");
    let call_ok = standalone("call_ok", breaker::SampleWeighting::Sliding);
    let explicit_ok = standalone("explicit_ok", breaker::SampleWeighting::Sliding);

    let fd_open = failsafe_default();
    trip_failsafe(&fd_open, 5);
    let fc_open = failsafe_consecutive(1, LONG);
    trip_failsafe(&fc_open, 1);
    let r_open = recloser_default();
    trip_recloser(&r_open, 101);
    let ar_open = AsyncRecloser::from(recloser_tripping(LONG));
    for i in 0..2 {
        let _ = ready(recloser_call_async(&ar_open, i, fail));
    }

    vec![
        subject(CS, "floor", move |i| floor.call(i, succeed)),
        subject(CS, "engine by hand", |i| {
            by_hand(&breakers::hand_ok, i, succeed)
        }),
        subject(CS, "engine #[circuit_breaker]", macro_ok),
        subject(CS, "engine #[circuit_breaker] async", |i| {
            ready(macro_ok_async(i))
        }),
        subject(CS, "engine run_protected (async)", |i| {
            ready(by_hand_async(&breakers::hand_ok, i, succeed))
        }),
        subject(CS, "(diagnostic) engine by hand on a FakeClock", move |i| {
            on_fake(&diag_ok, i, succeed)
        }),
        subject(CS, "engine by hand, standalone", move |i| {
            on_fake(sliding_ok, i, succeed)
        }),
        subject(CS, "engine by hand, standalone, count window", move |i| {
            on_fake(count_ok, i, succeed)
        }),
        subject(CS, "engine by hand, standalone, CoarseClock", move |i| {
            on_fake(coarse_ok, i, succeed)
        }),
        // `call`'s loop written out: the same breaker kind and the same inlined body as the
        // row below (`on_fake` calls its body through a fn pointer, `call` inlines it).
        subject(
            CS,
            "engine acquire + record, standalone",
            move |i| match explicit_ok.acquire() {
                breaker::Permit::Allowed(g) => {
                    let out = succeed(i);
                    g.record_result(&out);
                    out
                }
                breaker::Permit::Rejected(e) => Err(e.into()),
            },
        ),
        subject(CS, "engine call(|| ..), standalone", move |i| {
            call_ok.call(|| succeed(i)).map_err(|e| match e {
                breaker::CallError::Rejected(e) => e.into(),
                breaker::CallError::Inner(e) => e,
            })
        }),
        subject(CS, "failsafe default", move |i| {
            failsafe_call(&fd, i, succeed)
        }),
        subject(CS, "failsafe consecutive", move |i| {
            failsafe_call(&fc, i, succeed)
        }),
        subject(CS, "failsafe default async", move |i| {
            ready(failsafe_call_async(&fd_async, i, succeed))
        }),
        subject(CS, "recloser", move |i| recloser_call(&r, i, succeed)),
        subject(CS, "recloser async", move |i| {
            ready(recloser_call_async(&ar, i, succeed))
        }),
        subject(CF, "floor", move |i| floor2.call(i, one_in_ten)),
        subject(CF, "engine by hand", |i| {
            by_hand(&breakers::hand_mixed, i, one_in_ten)
        }),
        subject(CF, "engine #[circuit_breaker]", macro_mixed),
        subject(CF, "engine #[circuit_breaker] async", |i| {
            ready(macro_mixed_async(i))
        }),
        subject(CF, "engine by hand, standalone", move |i| {
            on_fake(sliding_mixed, i, one_in_ten)
        }),
        subject(CF, "engine by hand, standalone, count window", move |i| {
            on_fake(count_mixed, i, one_in_ten)
        }),
        subject(CF, "engine by hand, standalone, CoarseClock", move |i| {
            on_fake(coarse_mixed, i, one_in_ten)
        }),
        subject(CF, "failsafe default", move |i| {
            failsafe_call(&fd_mixed, i, one_in_ten)
        }),
        subject(CF, "failsafe consecutive", move |i| {
            failsafe_call(&fc_mixed, i, one_in_ten)
        }),
        subject(CF, "failsafe default async", move |i| {
            ready(failsafe_call_async(&fd_mixed_async, i, one_in_ten))
        }),
        subject(CF, "recloser", move |i| {
            recloser_call(&r_mixed, i, one_in_ten)
        }),
        subject(CF, "recloser async", move |i| {
            ready(recloser_call_async(&ar_mixed, i, one_in_ten))
        }),
        subject(OR, "floor", move |i| open_floor.call(i, fail)),
        subject(OR, "engine by hand", |i| {
            by_hand(&breakers::hand_open, i, fail)
        }),
        subject(OR, "engine by hand, forced open", |i| {
            by_hand(&breakers::hand_forced, i, fail)
        }),
        subject(OR, "engine #[circuit_breaker]", macro_open),
        subject(OR, "engine #[circuit_breaker] async", |i| {
            ready(macro_open_async(i))
        }),
        subject(OR, "(diagnostic) engine by hand on a FakeClock", move |i| {
            on_fake(&diag_open, i, fail)
        }),
        subject(OR, "failsafe default", move |i| {
            failsafe_call(&fd_open, i, fail)
        }),
        subject(OR, "failsafe consecutive", move |i| {
            failsafe_call(&fc_open, i, fail)
        }),
        subject(OR, "recloser", move |i| recloser_call(&r_open, i, fail)),
        subject(OR, "recloser async", move |i| {
            ready(recloser_call_async(&ar_open, i, fail))
        }),
        subject(HO, "floor", move |i| floor3.call(i, fail)),
        subject(HO, "engine by hand", |i| {
            probe_by_hand(&breakers::hand_half_open, i)
        }),
        subject(HO, "engine #[circuit_breaker]", macro_half_open),
    ]
}

fn find(all: &[(Stats, &Subject)], scenario: &str, name: &str) -> Stats {
    all.iter()
        .find(|(_, s)| s.scenario.starts_with(scenario) && s.name == name)
        .map(|(st, _)| *st)
        .unwrap_or_else(|| panic!("no subject {scenario} / {name}"))
}

/// Total calls per second of `threads` threads calling `f` for about `for_time`.
fn throughput<F: Fn(u64) + Sync>(threads: usize, for_time: Duration, f: &F) -> f64 {
    let stop = AtomicBool::new(false);
    let total = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let (stop, total) = (&stop, &total);
            s.spawn(move || {
                let mut i = t << 40;
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1024 {
                        i += 1;
                        f(black_box(i));
                    }
                    n += 1024;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(for_time);
        stop.store(true, Ordering::Relaxed);
    });
    total.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

fn main() {
    let o = options();
    prepare();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (overhead, overhead_p99) = timer_overhead(o.samples);

    println!("## Latency per call (batched)\n");
    println!(
        "Machine: {cores} logical cores (`nproc`), CPU: {}. {} samples per subject, {} calls \
         per sample, {} interleaved rounds.",
        cpu_model(),
        o.samples,
        o.batch,
        o.rounds
    );
    println!(
        "Timer overhead (two `Instant::now()` around an empty batch): p50 {overhead} ns, p99 \
         {overhead_p99} ns per sample; the p50 is subtracted from every sample, so it weighs \
         {:.2} ns per call at most.\n",
        overhead as f64 / o.batch as f64
    );

    println!(
        "Sizes: `Permit` {} B, `CallGuard` {} B, `CircuitError` {} B, the future of a \
         `#[circuit_breaker] async fn` returning `Result<u64, _>` {} B (sync result {} B).\n",
        std::mem::size_of::<breaker::Permit<'static>>(),
        std::mem::size_of::<breaker::CallGuard<'static>>(),
        std::mem::size_of::<breaker::CircuitError>(),
        std::mem::size_of_val(&macro_ok_async(0)),
        std::mem::size_of::<Result<u64, BenchError>>(),
    );

    let mut subjects = subjects();
    for round in 0..o.rounds {
        let n = o.samples / o.rounds + usize::from(round < o.samples % o.rounds);
        for s in &mut subjects {
            let first = s.samples.len();
            (s.run)(n, o.batch, &mut s.samples);
            let warm = s.samples[first..].iter().skip(WARM_UP);
            s.warm.extend(warm);
        }
    }
    assert_closed(&[
        &breakers::hand_ok,
        &breakers::macro_ok,
        &breakers::macro_ok_async,
        &breakers::hand_mixed,
        &breakers::macro_mixed,
        &breakers::macro_mixed_async,
    ]);
    let all: Vec<(Stats, &Subject)> = subjects
        .iter_mut()
        .map(|s| (stats(&mut s.samples, &mut s.warm, overhead, o.batch), &*s))
        .collect();

    let mut scenario = "";
    let mut floor_p50 = 0.0;
    for (st, s) in &all {
        if s.scenario != scenario {
            scenario = s.scenario;
            floor_p50 = st.p50;
            println!("\n### {scenario}\n");
            println!(
                "| subject | p50 ns | p99 ns | p99.9 ns | warm p99.9 ns | mean ns | p99 / p50 | p99.9 / p50 | warm p99.9 / p50 | p50 / floor |"
            );
            println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        }
        let p50 = st.p50.max(f64::MIN_POSITIVE);
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1}x |",
            s.name,
            st.p50,
            st.p99,
            st.p999,
            st.warm_p999,
            st.mean,
            st.p99 / p50,
            st.p999 / p50,
            st.warm_p999 / p50,
            st.p50 / floor_p50.max(f64::MIN_POSITIVE)
        );
    }

    // Peers, as ratios of means (peer / engine: above 1 means the engine is faster).
    println!(
        "\n### Ratios against each peer (peer mean / engine mean; > 1: the engine is faster)\n"
    );
    println!("| scenario | engine subject | vs failsafe default | vs failsafe consecutive | vs recloser |");
    println!("|---|---|---:|---:|---:|");
    for (sc, eng) in [
        ("1.", "engine by hand"),
        ("1.", "engine #[circuit_breaker]"),
        ("2.", "engine by hand"),
        ("3.", "engine by hand"),
    ] {
        let e = find(&all, sc, eng).mean;
        println!(
            "| {sc} | {eng} | {:.2} | {:.2} | {:.2} |",
            find(&all, sc, "failsafe default").mean / e,
            find(&all, sc, "failsafe consecutive").mean / e,
            find(&all, sc, "recloser").mean / e
        );
    }
    let e = find(&all, "1.", "engine #[circuit_breaker] async").mean;
    println!(
        "| 1. | engine #[circuit_breaker] async | {:.2} (async) | - | {:.2} (async) |",
        find(&all, "1.", "failsafe default async").mean / e,
        find(&all, "1.", "recloser async").mean / e
    );

    // Threads on one breaker.
    let mut scaling = None;
    if o.threads {
        let counts: Vec<usize> = [1usize, 2, 4, 8, 16, 32, 64]
            .into_iter()
            .filter(|&t| t <= (2 * cores).max(2))
            .collect();
        let for_time = Duration::from_millis(if o.samples < 50_000 { 150 } else { 400 });
        println!(
            "\n### 5. Threads on ONE shared breaker, closed, success: total calls/s (millions), median of 3\n"
        );
        print!("| subject |");
        for t in &counts {
            print!(" {t} thr |");
        }
        println!(" best / 1 thr |");
        println!("|---|{}---:|", "---:|".repeat(counts.len()));
        let floor = Floor::new(false);
        let fd = failsafe_default();
        let fc = failsafe_consecutive(5, Duration::from_secs(30));
        let r = recloser_default();
        type Run<'a> = Box<dyn Fn(usize) -> f64 + 'a>;
        let rows: Vec<(&str, Run<'_>)> = vec![
            (
                "(machine) independent work, nothing shared",
                Box::new(|t| {
                    throughput(t, for_time, &|i| {
                        black_box(i.wrapping_mul(0x9E37_79B9));
                    })
                }),
            ),
            (
                "floor",
                Box::new(|t| {
                    throughput(t, for_time, &|i| {
                        let _ = black_box(floor.call(i, succeed));
                    })
                }),
            ),
            (
                "engine by hand",
                Box::new(|t| {
                    throughput(t, for_time, &|i| {
                        let _ = black_box(by_hand(&breakers::hand_ok, i, succeed));
                    })
                }),
            ),
            (
                "engine #[circuit_breaker]",
                Box::new(|t| {
                    throughput(t, for_time, &|i| {
                        let _ = black_box(macro_ok(i));
                    })
                }),
            ),
            (
                "failsafe default",
                Box::new(|t| {
                    throughput(t, for_time, &|i| {
                        let _ = black_box(failsafe_call(&fd, i, succeed));
                    })
                }),
            ),
            (
                "failsafe consecutive",
                Box::new(|t| {
                    throughput(t, for_time, &|i| {
                        let _ = black_box(failsafe_call(&fc, i, succeed));
                    })
                }),
            ),
            (
                "recloser",
                Box::new(|t| {
                    throughput(t, for_time, &|i| {
                        let _ = black_box(recloser_call(&r, i, succeed));
                    })
                }),
            ),
        ];
        for (name, run) in &rows {
            let per: Vec<f64> = counts
                .iter()
                .map(|&t| {
                    let mut v: Vec<f64> = (0..3).map(|_| run(t)).collect();
                    v.sort_by(f64::total_cmp);
                    v[1]
                })
                .collect();
            print!("| {name} |");
            for v in &per {
                print!(" {:.1} |", v / 1e6);
            }
            let best = per.iter().copied().fold(0.0, f64::max);
            println!(" {:.2} |", best / per[0]);
            if *name == "engine by hand" {
                scaling = Some((counts.clone(), per));
            }
        }
        println!(
            "\nStripes in use on the shared engine breaker: {}.",
            breakers::hand_ok.snapshot().stripes
        );
    }

    // The issue's targets, measured in this run.
    let hand = find(&all, "1.", "engine by hand");
    let mac = find(&all, "1.", "engine #[circuit_breaker]");
    let mac_async = find(&all, "1.", "engine #[circuit_breaker] async");
    let floor = find(&all, "1.", "floor");
    let open = find(&all, "3.", "engine by hand");
    let open_floor = find(&all, "3.", "floor");
    let peers = ["failsafe default", "failsafe consecutive", "recloser"];
    let best_peer = peers
        .iter()
        .map(|p| (find(&all, "1.", p).mean, *p))
        .fold((f64::INFINITY, ""), |a, b| if b.0 < a.0 { b } else { a });
    let recloser = find(&all, "1.", "recloser");
    let count = find(&all, "1.", "engine by hand, standalone, count window");
    let standalone = find(&all, "1.", "engine by hand, standalone");
    let coarse = find(&all, "1.", "engine by hand, standalone, CoarseClock");
    let call = find(&all, "1.", "engine call(|| ..), standalone");
    let explicit = find(&all, "1.", "engine acquire + record, standalone");
    let mixed = find(&all, "2.", "engine by hand, standalone");
    // A failure's cost over a success's, from one failure in ten: mixed = 0.9 s + 0.1 f.
    let failure = (mixed.mean - 0.9 * standalone.mean) / 0.1;
    let run_protected = find(&all, "1.", "engine run_protected (async)");
    let _ = (best_peer, run_protected, open_floor);
    println!("\n### Targets of issue 14 (this run; ratios of means unless said)\n");
    println!("| goal | measured | verdict |");
    println!("|---|---|---|");
    println!(
        "| closed success, 1 thread, default config: no slower than recloser | by hand {:.1} ns vs recloser {:.1} ns: {:.2}x | {} |",
        hand.mean,
        recloser.mean,
        hand.mean / recloser.mean,
        verdict(hand.mean <= recloser.mean)
    );
    println!(
        "| the same on the opt-in CoarseClock: no slower than recloser | standalone {:.1} ns vs recloser {:.1} ns: {:.2}x | {} |",
        coarse.mean,
        recloser.mean,
        coarse.mean / recloser.mean,
        verdict(coarse.mean <= recloser.mean)
    );
    println!(
        "| explicit acquire + record no slower than call(|| ..) | {:.1} ns vs {:.1} ns: {:.2}x | {} |",
        explicit.mean,
        call.mean,
        explicit.mean / call.mean,
        verdict(explicit.mean <= call.mean)
    );
    println!(
        "| the count window faster than recloser | {:.1} ns vs {:.1} ns: {:.2}x | {} |",
        count.mean,
        recloser.mean,
        count.mean / recloser.mean,
        verdict(count.mean < recloser.mean)
    );
    println!(
        "| a failure at most 2x a success (Closed) | failure {:.1} ns (from 10 % failures) vs success {:.1} ns: {:.2}x | {} |",
        failure,
        standalone.mean,
        failure / standalone.mean,
        verdict(failure <= 2.0 * standalone.mean)
    );
    let worst_tail = [hand, mac, mac_async, open]
        .iter()
        .map(|s| s.p999 / s.p50)
        .fold(0.0, f64::max);
    let worst_warm = [hand, mac, mac_async, open]
        .iter()
        .map(|s| s.warm_p999 / s.p50)
        .fold(0.0, f64::max);
    println!(
        "| p99.9 (batched) at most 3x p50, engine subjects of scenarios 1 and 3 | worst p99.9 / p50 = {:.2} (warm: {:.2}) | {} |",
        worst_tail,
        worst_warm,
        verdict(worst_tail <= 3.0)
    );
    let async_ratio = mac_async.mean / mac.mean;
    println!(
        "| `#[circuit_breaker]` async within 1.25x of sync | {:.2}x ({:.1} vs {:.1} ns) | {} |",
        async_ratio,
        mac_async.mean,
        mac.mean,
        verdict(async_ratio <= 1.25)
    );
    let _ = floor;
    if let Some((counts, per)) = scaling {
        let at = |t: usize| counts.iter().position(|&c| c == t).map(|i| per[i]);
        if let (Some(one), Some(two)) = (at(1), at(2)) {
            println!(
                "| 2 threads not slower than 1 (on 2 cores) | {:.2}x of 1 thread ({} cores here) | {} |",
                two / one,
                cores,
                verdict(two >= one)
            );
        }
        match (at(1), at(16)) {
            (Some(one), Some(sixteen)) if cores >= 16 => println!(
                "| 16 threads >= 8x single-thread (>= 16 cores) | {:.1}x | {} |",
                sixteen / one,
                verdict(sixteen >= 8.0 * one)
            ),
            _ => println!(
                "| 16 threads >= 8x single-thread (>= 16 cores) | not measurable on {cores} cores | n/a |"
            ),
        }
    }
}
