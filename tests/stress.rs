#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Bounded stress: 64 threads and 512 tokio tasks hammer six components of one
//! registry with random outcomes, held and cancelled calls, panics, concurrent reloads,
//! forced transitions and a clock that keeps moving. Afterwards: nothing deadlocked, every
//! call is counted exactly once, no half-open slot was lost (every breaker can still close)
//! and the fuse's tally matches the components.
//!
//! Seconds, not minutes; no sleeps (the clock is a `FakeClock`). `STRESS_SEED` replays a run.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use breaker::{
    CallGuard, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, ConfigValue, FakeClock,
    GlobalCircuitBreaker, GlobalTripConditions, Outcome, Permit,
};

const COMPONENTS: usize = 6;
const THREADS: usize = 64;
const OPS_PER_THREAD: usize = 6_000;
const TASKS: usize = 512;
const OPS_PER_TASK: usize = 100;
/// The whole run must finish well within this, or it is reported as a deadlock.
const DEADLINE: Duration = Duration::from_secs(120);

fn name(c: usize) -> String {
    format!("stress_{c}")
}

/// Two valid configs the reloaders alternate between (same bucket count).
fn configs() -> [CircuitConfig; 2] {
    let base = CircuitConfig {
        rolling_window: Duration::from_secs(2),
        window_buckets: 4,
        min_calls: 5,
        error_rate_threshold: 0.5,
        consecutive_failures_threshold: Some(5),
        slow_call_threshold: Some(Duration::from_millis(300)),
        slow_call_rate_threshold: 0.8,
        open_cooldown: Duration::from_millis(200),
        open_backoff_multiplier: 2.0,
        open_cooldown_max: Duration::from_secs(2),
        half_open_max_concurrent: 3,
        half_open_required_successes: 2,
        half_open_allowed_failures: 1,
        half_open_max_wait: Some(Duration::from_secs(1)),
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: 0.5,
            min_components: 3,
            min_calls: 0,
        },
        ..CircuitConfig::DEFAULT
    };
    [
        base,
        CircuitConfig {
            rolling_window: Duration::from_secs(4),
            min_calls: 3,
            error_rate_threshold: 0.3,
            consecutive_failures_threshold: None,
            slow_call_threshold: None,
            half_open_max_concurrent: 1,
            half_open_required_successes: 1,
            half_open_allowed_failures: 0,
            ..base
        },
    ]
}

/// xorshift64*: a tiny deterministic generator per thread / task.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        Self((seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the callers did, per component; compared with the snapshots at the end.
#[derive(Default)]
struct Tally {
    admitted: [AtomicU64; COMPONENTS],
    rejected: [AtomicU64; COMPONENTS],
    successes: [AtomicU64; COMPONENTS],
    failures: [AtomicU64; COMPONENTS],
    ignored: [AtomicU64; COMPONENTS],
    /// Dropped guards and panics: a panic is a failure; a drop is ignored, or a failure if the
    /// call was already slow, which only the engine knows.
    dropped: [AtomicU64; COMPONENTS],
    panicked: [AtomicU64; COMPONENTS],
}

fn add(counter: &[AtomicU64; COMPONENTS], c: usize) {
    counter[c].fetch_add(1, Ordering::Relaxed);
}

struct World {
    registry: GlobalCircuitBreaker,
    components: Vec<Arc<ComponentBreaker>>,
    clock: FakeClock,
    tally: Tally,
    reloads: AtomicU64,
    forced: AtomicU64,
}

impl World {
    /// Counts an acquire's answer.
    fn count(&self, c: usize, permit: &Permit<'_>) {
        match permit {
            Permit::Allowed(_) => add(&self.tally.admitted, c),
            Permit::Rejected(e) => {
                assert!(!matches!(e, CircuitError::ComponentMissing { .. }), "{e:?}");
                add(&self.tally.rejected, c);
            }
        }
    }

    /// Half by handle, half by name through the registry.
    fn acquire(&self, c: usize, rng: &mut Rng) -> Permit<'_> {
        let permit = if rng.below(2) == 0 {
            self.components[c].acquire()
        } else {
            self.registry.acquire(&name(c))
        };
        self.count(c, &permit);
        permit
    }

    /// For tasks: a guard that owns its breaker.
    fn acquire_owned(&self, c: usize) -> Permit<'static> {
        let permit = self.components[c].acquire_owned();
        self.count(c, &permit);
        permit
    }

    /// Ends a call in one of the five ways.
    fn end(&self, c: usize, guard: CallGuard<'_>, rng: &mut Rng) {
        match rng.below(20) {
            0..=8 => {
                guard.record(Outcome::Success);
                add(&self.tally.successes, c);
            }
            9..=15 => {
                guard.record(Outcome::Failure);
                add(&self.tally.failures, c);
            }
            16 => {
                guard.record(Outcome::Ignored);
                add(&self.tally.ignored, c);
            }
            17 | 18 => {
                drop(guard);
                add(&self.tally.dropped, c);
            }
            _ => {
                let result = catch_unwind(AssertUnwindSafe(move || {
                    let _guard = guard;
                    // No panic hook: no noise.
                    resume_unwind(Box::new("the call blew up"));
                }));
                let payload = result.expect_err("the call panics");
                assert_eq!(
                    payload.downcast_ref::<&str>(),
                    Some(&"the call blew up"),
                    "the body's own panic comes out"
                );
                add(&self.tally.panicked, c);
            }
        }
    }

    /// Occasional control: reloads, forced transitions, the clock.
    fn control(&self, rng: &mut Rng) {
        match rng.below(400) {
            0..=3 => {
                let config = configs()[rng.below(2) as usize];
                self.registry.reload(config).unwrap();
                self.reloads.fetch_add(1, Ordering::Relaxed);
            }
            4 => {
                // Refused: the running config stays.
                let bad = CircuitConfig {
                    min_calls: 0,
                    ..configs()[0]
                };
                let err = self.registry.reload(bad).unwrap_err();
                assert_eq!(
                    (err.field(), err.value()),
                    ("min_calls", ConfigValue::Count(0))
                );
            }
            5 => {
                self.components[rng.below(COMPONENTS as u64) as usize].force_open();
                self.forced.fetch_add(1, Ordering::Relaxed);
            }
            6 => {
                self.components[rng.below(COMPONENTS as u64) as usize].disable();
                self.forced.fetch_add(1, Ordering::Relaxed);
            }
            7..=10 => self.components[rng.below(COMPONENTS as u64) as usize].reset(),
            11..=60 => self.clock.advance(Duration::from_millis(rng.below(120))),
            _ => {}
        }
    }

    fn thread_body(&self, seed: u64, index: usize) {
        let mut rng = Rng::new(seed, index as u64);
        let mut held: Vec<(usize, CallGuard<'_>)> = Vec::new();
        for _ in 0..OPS_PER_THREAD {
            self.control(&mut rng);
            let c = rng.below(COMPONENTS as u64) as usize;
            if let Permit::Allowed(guard) = self.acquire(c, &mut rng) {
                if guard.is_probe() {
                    // Never more probes in flight than the larger config allows.
                    let in_flight = guard.breaker().snapshot().half_open_in_flight;
                    assert!(in_flight <= 3, "{in_flight} probes in flight");
                }
                if held.len() < 4 && rng.below(4) == 0 {
                    // Hold it across iterations: a long call, ended later.
                    held.push((c, guard));
                } else {
                    self.end(c, guard, &mut rng);
                }
            }
            if !held.is_empty() && rng.below(3) == 0 {
                let (c, guard) = held.swap_remove(rng.below(held.len() as u64) as usize);
                self.end(c, guard, &mut rng);
            }
        }
        for (c, guard) in held {
            self.end(c, guard, &mut rng);
        }
    }

    async fn task_body(self: Arc<Self>, seed: u64, index: usize) {
        let mut rng = Rng::new(seed, 10_000 + index as u64);
        for _ in 0..OPS_PER_TASK {
            self.control(&mut rng);
            let c = rng.below(COMPONENTS as u64) as usize;
            let Permit::Allowed(guard) = self.acquire_owned(c) else {
                tokio::task::yield_now().await;
                continue;
            };
            match rng.below(4) {
                // Held across an await, then ended.
                0 | 1 => {
                    tokio::task::yield_now().await;
                    self.end(c, guard, &mut rng);
                }
                // Cancelled: the future holding the guard is aborted.
                2 => {
                    let parked = tokio::spawn(async move {
                        let _guard = guard;
                        std::future::pending::<()>().await;
                    });
                    tokio::task::yield_now().await;
                    parked.abort();
                    let err = parked.await.unwrap_err();
                    assert!(err.is_cancelled());
                    add(&self.tally.dropped, c);
                }
                // Panics inside its own task.
                _ => {
                    let task = tokio::spawn(async move {
                        let _guard = guard;
                        tokio::task::yield_now().await;
                        resume_unwind(Box::new("the task blew up"));
                    });
                    assert!(task.await.unwrap_err().is_panic());
                    add(&self.tally.panicked, c);
                }
            }
        }
    }
}

fn seed() -> u64 {
    match std::env::var("STRESS_SEED") {
        Ok(v) => v.parse().expect("STRESS_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}

fn run(seed: u64) -> Arc<World> {
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .config(configs()[0])
        .clock(clock.clone())
        .build()
        .unwrap();
    let components = (0..COMPONENTS)
        .map(|c| registry.register(&name(c)).unwrap())
        .collect();
    let world = Arc::new(World {
        registry,
        components,
        clock,
        tally: Tally::default(),
        reloads: AtomicU64::new(0),
        forced: AtomicU64::new(0),
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| runtime.spawn(Arc::clone(&world).task_body(seed, i)))
        .collect();
    std::thread::scope(|s| {
        for i in 0..THREADS {
            let world = &world;
            s.spawn(move || world.thread_body(seed, i));
        }
    });
    runtime.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    world
}

fn check(world: &World) {
    let t = &world.tally;
    for (c, b) in world.components.iter().enumerate() {
        let s = b.snapshot();
        let get = |a: &[AtomicU64; COMPONENTS]| a[c].load(Ordering::Relaxed);
        let at = name(c);
        // Every admitted call is counted exactly once; rejections separately.
        assert_eq!(s.calls, s.successes + s.failures + s.ignored, "{at}");
        assert_eq!(s.calls, get(&t.admitted), "{at}: {s:?}");
        assert_eq!(s.rejections.total(), get(&t.rejected), "{at}: {s:?}");
        assert_eq!(s.successes, get(&t.successes), "{at}");
        assert_eq!(
            s.failures + s.ignored,
            get(&t.failures) + get(&t.panicked) + get(&t.ignored) + get(&t.dropped),
            "{at}"
        );
        assert!(s.failures >= get(&t.failures) + get(&t.panicked), "{at}");
        assert!(s.ignored >= get(&t.ignored), "{at}");
        assert!((0.0..=1.0).contains(&s.window.error_rate), "{at}");
        assert!((0.0..=1.0).contains(&s.window.slow_call_rate), "{at}");
        let transitions: u64 = s.transitions.iter().map(|t| t.count).sum();
        assert_eq!(s.generation, transitions, "{at}");
        // No guard is alive: no slot may still be taken.
        assert_eq!(
            s.half_open_in_flight, 0,
            "{at}: a half-open slot was lost: {s:?}"
        );
    }
    let snap = world.registry.snapshot();
    let unhealthy = snap
        .components
        .iter()
        .filter(|c| c.state.is_unhealthy())
        .count() as u32;
    assert_eq!(snap.unhealthy, unhealthy, "the fuse's tally drifted");
}

/// Every breaker can still close: manual states are reset (documented as the way out), the
/// others recover through cooldowns and probes alone.
fn recover(world: &World) {
    let max = configs()
        .iter()
        .map(|c| {
            c.open_cooldown_max
                .max(c.half_open_max_wait.unwrap_or_default())
        })
        .max()
        .unwrap();
    for b in &world.components {
        if matches!(b.state(), CircuitState::ForcedOpen | CircuitState::Disabled) {
            b.reset();
        }
    }
    for round in 0..50 {
        if world
            .components
            .iter()
            .all(|b| b.state() == CircuitState::Closed)
        {
            assert_eq!(world.registry.global().state(), CircuitState::Closed);
            assert_eq!(world.registry.snapshot().unhealthy, 0);
            return;
        }
        world.clock.advance(max);
        // Several probes at the same instant: a half-open episode needs up to
        // `half_open_required_successes` of them before `half_open_max_wait` runs out.
        for _ in 0..5 {
            for b in &world.components {
                if let Permit::Allowed(g) = b.acquire() {
                    g.record(Outcome::Success);
                }
            }
        }
        let _ = round;
    }
    let states: Vec<_> = world
        .components
        .iter()
        .map(|b| {
            let s = b.snapshot();
            (s.component, s.state, s.half_open_in_flight, s.rejections)
        })
        .collect();
    panic!("some breaker cannot close any more: {states:#?}");
}

#[test]
fn sixty_four_threads_and_tokio_tasks() {
    let seed = seed();
    eprintln!("stress: STRESS_SEED={seed}");
    let started = Instant::now();
    let (done_tx, done_rx) = mpsc::channel();
    let finished = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&finished);
    let runner = std::thread::spawn(move || {
        let world = run(seed);
        flag.store(true, Ordering::SeqCst);
        let _ = done_tx.send(());
        world
    });
    match done_rx.recv_timeout(DEADLINE) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("STRESS_SEED={seed}: no progress after {DEADLINE:?}: deadlock or livelock")
        }
        // The runner panicked: join it below to report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => {}
    }
    let world = match runner.join() {
        Ok(world) => world,
        Err(panic) => {
            eprintln!("stress failed with STRESS_SEED={seed}");
            resume_unwind(panic)
        }
    };
    assert!(finished.load(Ordering::SeqCst));
    let ran = started.elapsed();
    let calls: u64 = world
        .tally
        .admitted
        .iter()
        .chain(&world.tally.rejected)
        .map(|a| a.load(Ordering::Relaxed))
        .sum();
    eprintln!(
        "stress: {calls} acquires, {} reloads, {} forced transitions in {ran:.2?}",
        world.reloads.load(Ordering::Relaxed),
        world.forced.load(Ordering::Relaxed),
    );
    let result = catch_unwind(AssertUnwindSafe(|| {
        check(&world);
        recover(&world);
    }));
    if let Err(panic) = result {
        eprintln!("stress failed with STRESS_SEED={seed}");
        resume_unwind(panic);
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry reloads under traffic.
// ---------------------------------------------------------------------------------------------

const GEOMETRY_WRITERS: usize = 3;
const GEOMETRY_CALLS_PER_WRITER: u64 = 100_000;
/// The final batch each writer records once the reloads have stopped.
const FINAL_BATCH: u64 = 100;

/// Windows much longer than the (frozen) clock ever moves, so every outcome stays inside
/// whatever geometry is in force: the window must then count every call except the ones
/// that raced a reload.
fn geometries() -> [CircuitConfig; 6] {
    let base = CircuitConfig {
        min_calls: u32::MAX,
        error_rate_threshold: 1.0,
        ..CircuitConfig::DEFAULT
    };
    [
        (600, 10),
        (1200, 30),
        (600, 60),
        (900, 1000),
        (300, 3),
        (600, 1),
    ]
    .map(|(secs, buckets)| CircuitConfig {
        rolling_window: Duration::from_secs(secs),
        window_buckets: buckets,
        ..base
    })
}

/// Issue 9: writers record while another thread flips `rolling_window` and `window_buckets`
/// back and forth (growing the ring past its first size and shrinking it again). Afterwards
/// the totals are exact, the window holds every call except at most those that overlapped a
/// reload, and no stripe is left with a bucket that drops what is recorded into it.
#[test]
fn geometry_reloads_under_traffic() {
    let seed = seed();
    eprintln!("stress: STRESS_SEED={seed}");
    let clock = FakeClock::new();
    // Somewhere in the middle of buckets of every width, far from the origin.
    clock.advance(Duration::from_millis(12_345_678));
    let registry = GlobalCircuitBreaker::builder()
        .config(geometries()[0])
        .clock(clock.clone())
        .build()
        .unwrap();
    let b = registry.register("geometry").unwrap();
    // Odd while a reload is running: a writer that sees it change around its call raced one.
    let reloading = AtomicU64::new(0);
    let racers = AtomicU64::new(0);
    let recorded = AtomicU64::new(0);
    let writers_done = AtomicU64::new(0);
    let started = Instant::now();
    let reloads = std::thread::scope(|s| {
        for w in 0..GEOMETRY_WRITERS {
            let (b, reloading, racers, recorded, writers_done) =
                (&b, &reloading, &racers, &recorded, &writers_done);
            s.spawn(move || {
                let mut rng = Rng::new(seed, w as u64);
                for _ in 0..GEOMETRY_CALLS_PER_WRITER {
                    let before = reloading.load(Ordering::SeqCst);
                    let outcome = match rng.below(3) {
                        0 => Outcome::Failure,
                        _ => Outcome::Success,
                    };
                    b.acquire().into_result().unwrap().record(outcome);
                    let after = reloading.load(Ordering::SeqCst);
                    if before % 2 == 1 || before != after {
                        racers.fetch_add(1, Ordering::Relaxed);
                    }
                    recorded.fetch_add(1, Ordering::Relaxed);
                }
                writers_done.fetch_add(1, Ordering::SeqCst);
            });
        }
        let mut rng = Rng::new(seed, 999);
        let mut reloads = 0u64;
        while writers_done.load(Ordering::SeqCst) < GEOMETRY_WRITERS as u64 {
            assert!(
                started.elapsed() < DEADLINE,
                "STRESS_SEED={seed}: no progress"
            );
            let config = geometries()[rng.below(6) as usize];
            reloading.fetch_add(1, Ordering::SeqCst);
            registry.reload(config).unwrap();
            reloading.fetch_add(1, Ordering::SeqCst);
            reloads += 1;
            // Let some calls through between reloads, so most calls do not race one.
            let next = recorded.load(Ordering::SeqCst) + 1 + rng.below(200);
            while recorded.load(Ordering::SeqCst) < next
                && writers_done.load(Ordering::SeqCst) < GEOMETRY_WRITERS as u64
            {
                assert!(
                    started.elapsed() < DEADLINE,
                    "STRESS_SEED={seed}: no progress"
                );
                std::thread::yield_now();
            }
        }
        reloads
    });
    let recorded = recorded.load(Ordering::SeqCst);
    let racers = racers.load(Ordering::SeqCst);
    let snap = b.snapshot();
    eprintln!(
        "stress: {recorded} calls, {reloads} geometry reloads, {racers} calls raced one, \
         window {} calls, {} stripes, in {:.2?}",
        snap.window.calls,
        snap.stripes,
        started.elapsed()
    );
    assert!(
        reloads >= 10,
        "STRESS_SEED={seed}: only {reloads} reloads ran"
    );
    assert_eq!(
        snap.calls, recorded,
        "STRESS_SEED={seed}: the totals lost or doubled calls"
    );
    assert!(
        snap.window.calls <= recorded && snap.window.calls + racers >= recorded,
        "STRESS_SEED={seed}: the window holds {} calls of {recorded}, {racers} of them racers",
        snap.window.calls
    );

    // Every writer's stripe still counts into the window: a batch from each thread shows up
    // in full, under the last geometry and under each of the others in turn.
    for config in geometries() {
        registry.reload(config).unwrap();
        let before = b.snapshot().window.calls;
        std::thread::scope(|s| {
            for _ in 0..GEOMETRY_WRITERS {
                s.spawn(|| {
                    for _ in 0..FINAL_BATCH {
                        b.acquire().into_result().unwrap().record(Outcome::Success);
                    }
                });
            }
        });
        let after = b.snapshot();
        assert_eq!(
            after.window.calls,
            before + FINAL_BATCH * GEOMETRY_WRITERS as u64,
            "STRESS_SEED={seed}: a bucket dropped calls after the reloads ({config:?})"
        );
    }
}

const FAMILY_THREADS: usize = 16;

/// Counts a caller out when it ends (panicking or not); the last one out says done.
struct Finish<'a>(&'a AtomicU64, &'a AtomicBool);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if self.0.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.1.store(true, Ordering::Release);
        }
    }
}
const FAMILY_OPS_PER_THREAD: usize = 20_000;
const FAMILY_MAX_KEYS: u32 = 64;

/// Families under churn: 16 threads send calls to keys drawn from 1,000 (so keys are created,
/// evicted, re-created and sent to overflow all the time), with random outcomes and held
/// guards, while another thread moves the clock, evicts and reloads the family's config.
/// Afterwards: nothing deadlocked, the family never held more than `max_keys` keys, the
/// unhealthy tally matches the keys, and every key can still close.
#[test]
fn families_under_churn() {
    let seed = seed();
    eprintln!("stress: STRESS_SEED={seed}");
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let keys_config = CircuitConfig {
        min_calls: 5,
        consecutive_failures_threshold: Some(4),
        open_cooldown: Duration::from_millis(50),
        open_cooldown_max: Duration::from_millis(500),
        half_open_max_wait: Some(Duration::from_millis(200)),
        ..CircuitConfig::DEFAULT
    };
    let family = registry
        .register_family_with(
            "churn",
            breaker::FamilyConfig {
                max_keys: FAMILY_MAX_KEYS,
                idle_ttl: Duration::from_millis(100),
                max_open_ratio: 0.5,
                ..breaker::FamilyConfig::DEFAULT
            },
            keys_config,
        )
        .unwrap();
    // Set once the callers are done; the clock thread also stops on its round bound.
    let done = AtomicBool::new(false);
    let callers_left = AtomicU64::new(FAMILY_THREADS as u64);
    let admitted = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..FAMILY_THREADS {
            let (family, admitted, callers_left, done) = (&family, &admitted, &callers_left, &done);
            s.spawn(move || {
                let _last_out = Finish(callers_left, done);
                let mut rng = Rng::new(seed, 1_000 + t as u64);
                let mut held: Vec<CallGuard<'static>> = Vec::new();
                for _ in 0..FAMILY_OPS_PER_THREAD {
                    assert!(
                        started.elapsed() < DEADLINE,
                        "families_under_churn deadlocked?"
                    );
                    let key = format!("k{}", rng.below(1_000));
                    if let Permit::Allowed(guard) = family.acquire(&key) {
                        admitted.fetch_add(1, Ordering::Relaxed);
                        match rng.below(10) {
                            0..=5 => {
                                guard.record(Outcome::Success);
                            }
                            6..=7 => {
                                guard.record(Outcome::Failure);
                            }
                            8 => held.push(guard),
                            _ => drop(guard),
                        }
                    }
                    assert!(family.live() <= FAMILY_MAX_KEYS);
                    if held.len() > 4 {
                        held.clear();
                    }
                }
            });
        }
        let (family, registry, done) = (&family, &registry, &done);
        let clock = clock.clone();
        s.spawn(move || {
            let mut rng = Rng::new(seed, 999);
            let mut rounds = 0u32;
            while !done.load(Ordering::Relaxed) && rounds < 50_000 {
                rounds += 1;
                clock.advance(Duration::from_millis(rng.below(20)));
                match rng.below(50) {
                    0 => {
                        family.evict_idle();
                    }
                    1 => {
                        registry
                            .register_family_with(
                                "churn",
                                breaker::FamilyConfig {
                                    max_keys: FAMILY_MAX_KEYS,
                                    idle_ttl: Duration::from_millis(50 + rng.below(100)),
                                    max_open_ratio: 0.5,
                                    ..breaker::FamilyConfig::DEFAULT
                                },
                                CircuitConfig {
                                    min_calls: 5 + rng.below(5) as u32,
                                    ..keys_config
                                },
                            )
                            .unwrap();
                    }
                    _ => std::thread::yield_now(),
                }
            }
        });
    });
    done.store(true, Ordering::Relaxed);
    assert!(admitted.load(Ordering::Relaxed) > 0);
    assert!(family.live() <= FAMILY_MAX_KEYS);
    let keys = family.keys();
    let unhealthy = keys.iter().filter(|k| k.state().is_unhealthy()).count();
    assert_eq!(
        unhealthy as u32,
        family.unhealthy_keys(),
        "the tally matches the keys"
    );
    // Every key (and the overflow breaker) can still close: no probe slot was lost. Time
    // moves only while a key is open (past its longest cooldown), never within a half-open
    // episode (whose `half_open_max_wait` would re-open it).
    for key in keys.iter().chain(std::iter::once(family.overflow())) {
        for _ in 0..10 {
            match key.state() {
                CircuitState::Closed => break,
                CircuitState::Open => clock.advance(Duration::from_secs(1)),
                _ => {}
            }
            if let Permit::Allowed(guard) = key.acquire() {
                guard.record(Outcome::Success);
            }
        }
        assert_eq!(
            key.state(),
            CircuitState::Closed,
            "{} can close",
            key.name()
        );
    }
    assert_eq!(family.unhealthy_keys(), 0);
    clock.advance(Duration::from_secs(10));
    family.evict_idle();
    drop(keys);
    family.evict_idle();
    assert_eq!(family.live(), 0, "every key idle and healthy is evicted");
}
