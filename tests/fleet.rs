//! The fleet quorum against a real `redis-server` (started by the test on a free loopback
//! port): three registries as three replicas in one process, each on its own `FakeClock`.
//!
//! Breaker time and the fleet's membership read the fake clocks; only real I/O (Redis,
//! pub/sub) is waited for, polled with bounded deadlines. `tick()` is called by the test.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::fleet::{Fleet, Report, SCHEMA_VERSION};
use breaker::{
    CircuitError, CircuitState, Event, FakeClock, FleetEvent, GlobalCircuitBreaker, Outcome, Permit,
};
use breaker_suite::redis_server::{RedisServer, StallProxy};
use breaker_suite::{small_config, trip, EventLog, COOLDOWN};

const TTL: Duration = Duration::from_secs(5);
const SYNC: Duration = Duration::from_secs(1);
/// How long real I/O (a notice crossing Redis) may take before a test fails.
const IO_DEADLINE: Duration = Duration::from_secs(5);

struct Replica {
    clock: FakeClock,
    registry: Arc<GlobalCircuitBreaker>,
    log: EventLog,
    fleet: Fleet,
}

impl Replica {
    fn db(&self) -> Arc<breaker::ComponentBreaker> {
        self.registry.component("db").unwrap()
    }

    fn refusal(&self) -> Option<CircuitError> {
        match self.registry.acquire("db") {
            Permit::Allowed(guard) => {
                guard.record(Outcome::Success);
                None
            }
            Permit::Rejected(e) => Some(e),
        }
    }

    fn fleet_events(&self) -> Vec<FleetEvent> {
        self.log
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Fleet(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// Advances this replica's clock by one `sync_interval` and ticks.
    async fn beat(&self) {
        self.clock.advance(SYNC);
        let _ = self.fleet.tick().await;
    }
}

async fn replica(url: &str, ns: &str, id: &str) -> Replica {
    let clock = FakeClock::new();
    let log = EventLog::default();
    let registry = Arc::new(
        GlobalCircuitBreaker::builder()
            .config(small_config(4))
            .clock(clock.clone())
            .on_event(log.hook())
            .build()
            .unwrap(),
    );
    registry.register("db").unwrap();
    let fleet = Fleet::builder()
        .url(url)
        .namespace(ns)
        .replica_id(id)
        .sync_interval(SYNC)
        .replica_ttl(TTL)
        .stale_after(Duration::from_secs(10))
        .start_timeout(Duration::from_secs(3))
        .manual_ticks()
        .start(Arc::clone(&registry))
        .await
        .unwrap();
    Replica {
        clock,
        registry,
        log,
        fleet,
    }
}

/// Polls `done` every few milliseconds until it holds or `IO_DEADLINE` passes.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + IO_DEADLINE;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(done(), "not within {IO_DEADLINE:?}: {what}");
}

fn is_fleet_open(e: &Option<CircuitError>) -> bool {
    matches!(e, Some(CircuitError::FleetOpen { .. }))
}

/// Recovers `r`'s open breaker: past the cooldown, one probe succeeds.
fn recover(r: &Replica) {
    r.clock.advance(COOLDOWN + Duration::from_millis(1));
    match r.db().acquire() {
        Permit::Allowed(g) => {
            g.record(Outcome::Success);
        }
        Permit::Rejected(e) => panic!("the probe was refused: {e}"),
    }
    assert_eq!(r.db().state(), CircuitState::Closed);
}

async fn three(server: &RedisServer, ns: &str) -> [Replica; 3] {
    let url = server.url();
    [
        replica(&url, ns, "a").await,
        replica(&url, ns, "b").await,
        replica(&url, ns, "c").await,
    ]
}

async fn beat_all(replicas: &[&Replica]) {
    for r in replicas {
        r.beat().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_replica_opens_alone_and_a_real_outage_opens_all_then_recovery_lifts_it() {
    let Some(server) = RedisServer::start("fleet quorum") else {
        return;
    };
    let [a, b, c] = three(&server, "quorum").await;
    beat_all(&[&a, &b, &c]).await;
    for r in [&a, &b, &c] {
        assert!(r.fleet.snapshot().connected, "{:?}", r.fleet.snapshot());
        assert_eq!(r.fleet.snapshot().live_peers, 2);
    }

    // The poisoning case: a's path to the dependency is bad; it opens alone.
    trip(&a.db());
    beat_all(&[&a, &b, &c]).await;
    assert!(matches!(a.refusal(), Some(CircuitError::Open { .. })));
    for r in [&b, &c] {
        assert_eq!(
            r.refusal(),
            None,
            "one open replica must not open the others"
        );
        let s = r.fleet.snapshot();
        assert_eq!(s.components[0].open_replicas, Some(1), "{s:?}");
        assert!(!s.components[0].verdict_open);
    }

    // A real outage: b sees it too. The quorum (2 of 3) reaches c at once, by pub/sub.
    trip(&b.db());
    eventually("c refuses with FleetOpen", || is_fleet_open(&c.refusal())).await;
    match c.refusal() {
        Some(CircuitError::FleetOpen {
            component,
            open_replicas,
            live_replicas,
            retry_after,
        }) => {
            assert_eq!(component, "db");
            assert_eq!((open_replicas, live_replicas), (2, 3));
            assert!(
                retry_after >= SYNC && retry_after <= COOLDOWN,
                "{retry_after:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.db().state(),
        CircuitState::Closed,
        "c's own breaker stays closed"
    );
    assert!(c.fleet_events().iter().any(|e| matches!(
        e,
        FleetEvent::QuorumOpen {
            open_replicas: 2,
            ..
        }
    )));
    assert!(c.registry.snapshot().fleet.unwrap().refused_calls >= 1);

    // A replica started during the outage refuses from its first call.
    let d = replica(&server.url(), "quorum", "d").await;
    assert!(
        is_fleet_open(&d.refusal()),
        "a replica started mid-outage starts informed"
    );

    // Recovery: a's and b's probes find the dependency back; the verdict lifts everywhere.
    recover(&a);
    recover(&b);
    eventually("c lets calls through again", || c.refusal().is_none()).await;
    eventually("d lets calls through again", || d.refusal().is_none()).await;
    assert!(c
        .fleet_events()
        .iter()
        .any(|e| matches!(e, FleetEvent::QuorumLifted { .. })));
}
