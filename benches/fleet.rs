#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! What the fleet quorum costs and how fast it is (issue 12), against a `redis-server` the
//! bench starts on a free loopback port:
//!
//! - `fleet_closed_success` (criterion, one group): `acquire` + `record(Success)` on a
//!   `Closed` registry member with no fleet, next to the same with a fleet attached and its
//!   background heartbeat running. The hot path never touches the fleet: both load the same
//!   gate word. Aim: within 5 %.
//! - propagation: from the moment the quorum is reached (the second replica trips) to the
//!   third replica refusing, p50 and p99 over repeated runs (pub/sub on loopback; aim: under
//!   50 ms).
//! - Redis commands per replica per second at steady state, by components and
//!   `sync_interval`, read from `INFO commandstats` with traffic running: never proportional
//!   to calls.
//!
//! `cargo bench --bench fleet` (add `-- --quick` for a fast criterion pass).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::fleet::Fleet;
use breaker::{
    CircuitConfig, CircuitError, CircuitState, FakeClock, GlobalCircuitBreaker, Outcome, Permit,
};
use breaker_suite::redis_server::RedisServer;
use criterion::{Criterion, Throughput};

fn call(registry: &GlobalCircuitBreaker, component: &str, outcome: Outcome) -> bool {
    match registry.acquire(component) {
        Permit::Allowed(guard) => {
            black_box(guard.record(outcome));
            true
        }
        Permit::Rejected(e) => {
            black_box(e);
            false
        }
    }
}

fn closed_path(c: &mut Criterion, runtime: &tokio::runtime::Runtime, url: &str) {
    let off = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
    let off_member = off.register("member").unwrap();
    let on = Arc::new(GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap());
    let on_member = on.register("member").unwrap();
    let _fleet = runtime.block_on(async {
        Fleet::builder()
            .url(url)
            .namespace("bench_closed")
            .sync_interval(Duration::from_millis(100))
            .start(Arc::clone(&on))
            .await
            .unwrap()
    });
    let mut g = c.benchmark_group("fleet_closed_success");
    g.throughput(Throughput::Elements(1));
    g.bench_function("fleet_off", |b| {
        b.iter(|| {
            if let Permit::Allowed(guard) = off_member.acquire() {
                black_box(guard.record(Outcome::Success));
            }
        })
    });
    g.bench_function("fleet_on", |b| {
        b.iter(|| {
            if let Permit::Allowed(guard) = on_member.acquire() {
                black_box(guard.record(Outcome::Success));
            }
        })
    });
    g.finish();
}

struct Replica {
    clock: FakeClock,
    registry: Arc<GlobalCircuitBreaker>,
    fleet: Fleet,
}

const COOLDOWN: Duration = Duration::from_secs(10);

async fn replica(url: &str, ns: &str, id: &str, components: usize, sync: Duration) -> Replica {
    let clock = FakeClock::new();
    let registry = Arc::new(
        GlobalCircuitBreaker::builder()
            .config(CircuitConfig {
                min_calls: 1,
                open_cooldown: COOLDOWN,
                half_open_required_successes: 1,
                ..CircuitConfig::DEFAULT
            })
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    for i in 0..components {
        registry.register(&format!("c{i}")).unwrap();
    }
    let fleet = Fleet::builder()
        .url(url)
        .namespace(ns)
        .replica_id(id)
        .sync_interval(sync)
        .replica_ttl(sync * 5)
        .stale_after(sync * 10)
        .manual_ticks()
        .start(Arc::clone(&registry))
        .await
        .unwrap();
    Replica {
        clock,
        registry,
        fleet,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Polls (bounded) until `done`.
async fn until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}

async fn propagation(url: &str, runs: usize) {
    let sync = Duration::from_secs(1);
    let a = replica(url, "bench_prop", "a", 1, sync).await;
    let b = replica(url, "bench_prop", "b", 1, sync).await;
    let c = replica(url, "bench_prop", "c", 1, sync).await;
    for r in [&a, &b, &c] {
        r.clock.advance(sync);
        let _ = r.fleet.tick().await;
    }
    let refused = |r: &Replica| {
        matches!(
            r.registry.acquire("c0"),
            Permit::Rejected(CircuitError::FleetOpen { .. })
        )
    };
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        call(&a.registry, "c0", Outcome::Failure);
        call(&b.registry, "c0", Outcome::Failure);
        let quorum_reached = Instant::now();
        assert_eq!(
            b.registry.component("c0").unwrap().state(),
            CircuitState::Open
        );
        assert!(until(|| refused(&c)).await, "the verdict reached c");
        samples.push(quorum_reached.elapsed());
        for r in [&a, &b] {
            r.clock.advance(COOLDOWN);
            call(&r.registry, "c0", Outcome::Success);
        }
        assert!(until(|| !refused(&c)).await, "the verdict lifted on c");
        // Keep the three live on each other's clocks.
        for r in [&a, &b, &c] {
            r.clock.advance(sync);
            let _ = r.fleet.tick().await;
        }
    }
    samples.sort_unstable();
    println!(
        "fleet propagation (quorum reached -> last replica refuses), {runs} runs on loopback: \
         p50 {:?}, p99 {:?}, max {:?}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

async fn commands(server: &RedisServer, url: &str) {
    println!("fleet Redis commands per replica per second at steady state (3 replicas, 1000 calls per replica between heartbeats):");
    println!("  components  sync_interval  commands/replica/s  commands/replica/heartbeat");
    for components in [1, 10, 100] {
        for sync in [Duration::from_millis(100), Duration::from_secs(1)] {
            let ns = format!("bench_cmd_{components}_{}", sync.as_millis());
            let mut replicas = Vec::new();
            for id in ["a", "b", "c"] {
                replicas.push(replica(url, &ns, id, components, sync).await);
            }
            let total = || {
                ["hset", "hgetall", "hdel", "publish"]
                    .iter()
                    .map(|c| server.command_calls(c))
                    .sum::<u64>()
            };
            let beats = 10u64;
            let before = total();
            for _ in 0..beats {
                for r in &replicas {
                    for i in 0..1000 {
                        call(
                            &r.registry,
                            &format!("c{}", i % components),
                            Outcome::Success,
                        );
                    }
                    r.clock.advance(sync);
                    let _ = r.fleet.tick().await;
                }
            }
            let per_beat = (total() - before) as f64 / (beats as f64 * replicas.len() as f64);
            println!(
                "  {components:>10}  {:>13?}  {:>18.1}  {per_beat:>26.1}",
                sync,
                per_beat / sync.as_secs_f64()
            );
        }
    }
}

fn main() {
    let Some(server) = RedisServer::start("bench fleet") else {
        return;
    };
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    closed_path(&mut c, &runtime, &url);
    c.final_summary();
    runtime.block_on(propagation(&url, 200));
    runtime.block_on(commands(&server, &url));
}
