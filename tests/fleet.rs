#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The fleet quorum against a real `redis-server` (started by the test on a free loopback
//! port): three registries as three replicas in one process, each on its own `FakeClock`.
//!
//! Breaker time and the fleet's membership read the fake clocks; only real I/O (Redis,
//! pub/sub) is waited for, polled with bounded deadlines. `tick()` is called by the test.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::fleet::{Fleet, Report, SCHEMA_VERSION};
use breaker::{
    CircuitError, CircuitState, Event, FakeClock, FleetEvent, GlobalCircuitBreaker, Outcome, Permit,
};
use breaker_suite::redis_server::{RedisServer, StallProxy};
use breaker_suite::Patience;
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
    try_replica(url, ns, id, Duration::from_secs(3)).await
}

async fn try_replica(url: &str, ns: &str, id: &str, start_timeout: Duration) -> Replica {
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
        .start_timeout(start_timeout)
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
    let mut patience = Patience::new(IO_DEADLINE, Duration::from_millis(5));
    while !done() {
        assert!(
            patience.again_async().await,
            "not within {IO_DEADLINE:?}: {what}"
        );
    }
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

/// Ticks `r` (advancing its clock) until `done` holds, within `IO_DEADLINE` of real time:
/// for what a full read repairs, after a reconnect say.
async fn ticked_until(r: &Replica, what: &str, mut done: impl FnMut() -> bool) {
    let mut patience = Patience::new(IO_DEADLINE, Duration::from_millis(20));
    loop {
        r.beat().await;
        if done() {
            return;
        }
        assert!(
            patience.again_async().await,
            "not within {IO_DEADLINE:?}: {what}"
        );
    }
}

fn serves(r: &Replica, calls: u32) {
    for _ in 0..calls {
        assert_eq!(r.refusal(), None, "a call failed because of Redis");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_traffic_means_local_mode_and_a_restart_resyncs() {
    let Some(mut server) = RedisServer::start("fleet redis killed") else {
        return;
    };
    let [a, b, c] = three(&server, "kill").await;
    beat_all(&[&a, &b, &c]).await;
    trip(&a.db());
    trip(&b.db());
    eventually("c refuses with FleetOpen", || is_fleet_open(&c.refusal())).await;

    // Traffic on a and b while Redis dies: every call is answered by the local breakers
    // (a and b are open: refused by their own state, never failed by Redis).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered: Vec<_> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let traffic: Vec<_> = [&a, &b]
        .iter()
        .zip(&answered)
        .map(|(r, count)| {
            let (db, stop, count) = (r.db(), Arc::clone(&stop), Arc::clone(count));
            std::thread::spawn(move || {
                let mut answered = 0u64;
                while !stop.load(Ordering::Relaxed) && answered < 1_000_000 {
                    match db.acquire() {
                        Permit::Allowed(g) => {
                            g.record(Outcome::Success);
                        }
                        Permit::Rejected(e) => assert!(
                            matches!(
                                e,
                                CircuitError::Open { .. } | CircuitError::FleetOpen { .. }
                            ),
                            "{e}"
                        ),
                    }
                    answered += 1;
                    count.store(answered, Ordering::Relaxed);
                }
                answered
            })
        })
        .collect();
    server.kill();
    for r in [&a, &b, &c] {
        assert!(r.fleet.tick().await.is_err());
        let s = r.fleet.snapshot();
        assert!(!s.connected && s.last_error.is_some(), "{s:?}");
        assert!(r
            .fleet_events()
            .iter()
            .any(|e| matches!(e, FleetEvent::Disconnected { .. })));
        assert!(!r.registry.snapshot().fleet.unwrap().connected);
    }
    // Both threads have had calls answered before they are told to stop: waited for, since a
    // loaded machine may start them later than all of the above.
    eventually("both traffic threads answered", || {
        answered.iter().all(|c| c.load(Ordering::Relaxed) > 0)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in traffic {
        assert!(t.join().unwrap() > 0);
    }
    // A blip shorter than stale_after keeps the verdict; past it, the stale verdict refuses
    // nothing and c serves on its own breaker.
    assert!(is_fleet_open(&c.refusal()));
    c.clock.advance(Duration::from_secs(11));
    let _ = c.fleet.tick().await;
    serves(&c, 100);
    assert!(c
        .fleet_events()
        .iter()
        .any(|e| matches!(e, FleetEvent::QuorumLifted { .. })));

    // Back: every replica reconnects, republishes and rereads; the outage is seen again.
    server.restart();
    for r in [&a, &b, &c] {
        ticked_until(r, "reconnected", || r.fleet.snapshot().connected).await;
        assert!(r
            .fleet_events()
            .iter()
            .any(|e| matches!(e, FleetEvent::Connected { .. })));
    }
    let mut fields = server.hkeys("breaker:{kill:db}:reports");
    fields.sort();
    assert_eq!(fields, ["a", "b", "c"], "every replica republished");
    ticked_until(&c, "c refuses again after the resync", || {
        is_fleet_open(&c.refusal())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_stops_counting_after_replica_ttl_and_is_collected() {
    let Some(server) = RedisServer::start("fleet replica killed") else {
        return;
    };
    let [a, b, c] = three(&server, "ttl").await;
    beat_all(&[&a, &b, &c]).await;
    trip(&a.db());
    trip(&b.db());
    eventually("c refuses with FleetOpen", || is_fleet_open(&c.refusal())).await;

    // b dies: its report stays in Redis but its heartbeat stands still.
    drop(b);
    let mut beats = 0u32;
    while is_fleet_open(&c.refusal()) {
        a.beat().await;
        c.beat().await;
        beats += 1;
        assert!(beats <= 10, "b still counts after {beats} beats");
    }
    assert_eq!(
        u64::from(beats),
        TTL.as_secs(),
        "b dropped out exactly one replica_ttl after its last heartbeat, on c's clock"
    );
    assert_eq!(c.fleet.snapshot().live_peers, 1);
    // Long silent: collected by whoever sees it.
    for _ in 0..(6 * TTL.as_secs()) {
        a.beat().await;
        c.beat().await;
    }
    let mut fields = server.hkeys("breaker:{ttl:db}:reports");
    fields.sort();
    assert_eq!(fields, ["a", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_redis_never_slows_a_call() {
    let Some(server) = RedisServer::start("fleet stall") else {
        return;
    };
    let proxy = StallProxy::start(server.port());
    let url = format!("redis://127.0.0.1:{}", proxy.port());
    let a = replica(&url, "stall", "a").await;
    a.beat().await;
    assert!(a.fleet.snapshot().connected);

    proxy.stall();
    const CALLS: u64 = 20_000;
    let done = Arc::new(AtomicU64::new(0));
    let (db, counter) = (a.db(), Arc::clone(&done));
    // Calls on a plain thread while every Redis exchange hangs: a transition (the trip at
    // the end) wakes the publisher, whose write hangs too.
    let caller = std::thread::spawn(move || {
        for i in 0..CALLS {
            if let Permit::Allowed(g) = db.acquire() {
                g.record(if i + 4 >= CALLS {
                    Outcome::Failure
                } else {
                    Outcome::Success
                });
            }
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let tick = a.fleet.tick().await;
    let mut patience = Patience::new(IO_DEADLINE, Duration::from_millis(5));
    while done.load(Ordering::Relaxed) < CALLS && patience.again_async().await {}
    assert_eq!(
        done.load(Ordering::Relaxed),
        CALLS,
        "every call completed while Redis was stalled"
    );
    caller.join().unwrap();
    assert!(tick.is_err(), "a stalled Redis is local mode");
    assert!(!a.fleet.snapshot().connected);
    proxy.resume();
    ticked_until(&a, "reconnected after the stall", || {
        a.fleet.snapshot().connected
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_error_and_local_mode_and_the_right_one_works() {
    let Some(server) = RedisServer::start_with("fleet auth", Some("s3cret")) else {
        return;
    };
    let wrong = replica(&server.url_with_password("nope"), "auth", "w").await;
    let s = wrong.fleet.snapshot();
    assert!(!s.connected);
    let error = s.last_error.unwrap_or_default();
    assert!(
        error.to_lowercase().contains("auth") || error.contains("WRONGPASS"),
        "{error}"
    );
    assert!(
        !error.contains("nope"),
        "the password is never shown: {error}"
    );
    assert!(wrong
        .fleet_events()
        .iter()
        .any(|e| matches!(e, FleetEvent::Disconnected { .. })));
    serves(&wrong, 100);

    // rediss:// against this plain-text server: the TLS handshake starts (rustls with the
    // ring provider: no panic for want of one) and never completes; local mode.
    let tls = replica(&server.url().replace("redis://", "rediss://"), "auth", "t").await;
    let s = tls.fleet.snapshot();
    assert!(!s.connected && s.last_error.is_some(), "{s:?}");
    serves(&tls, 10);

    let right = replica(&server.url(), "auth", "r").await;
    assert!(
        right.fleet.snapshot().connected,
        "{:?}",
        right.fleet.snapshot()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_redis_at_start_returns_in_local_mode_within_the_timeout() {
    let port = breaker_suite::redis_server::free_port();
    let started = Instant::now();
    let r = try_replica(
        &format!("redis://127.0.0.1:{port}"),
        "down",
        "a",
        Duration::from_millis(500),
    )
    .await;
    assert!(started.elapsed() < IO_DEADLINE);
    assert!(!r.fleet.snapshot().connected);
    assert_eq!(r.registry.snapshot().fleet.unwrap().disconnects, 1);
    serves(&r, 100);
    let metrics = breaker::metrics::encode(&r.registry, breaker::metrics::Format::Text);
    assert!(metrics.contains("breaker_fleet_connected 0"), "{metrics}");
    assert!(
        metrics.contains("breaker_fleet_disconnects_total 1"),
        "{metrics}"
    );

    // TLS is built in: a rediss:// URL is accepted (and, with nothing there, local mode).
    let tls = try_replica(
        &format!("rediss://127.0.0.1:{port}"),
        "down",
        "t",
        Duration::from_millis(500),
    )
    .await;
    assert!(!tls.fleet.snapshot().connected);
    serves(&tls, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_records_are_ignored_and_counted() {
    let Some(server) = RedisServer::start("fleet hostile") else {
        return;
    };
    let a = replica(&server.url(), "evil", "a").await;
    let key = "breaker:{evil:db}:reports";
    let open = |v: u32| {
        format!(r#"{{"v":{v},"seq":1,"state":"open","since_ms":0,"gen":1,"rate":1.0,"calls":9}}"#)
    };
    assert!(server.hset(key, "garbage", b"\xff not json"));
    assert!(server.hset(key, "future", open(SCHEMA_VERSION + 1).as_bytes()));
    assert!(server.hset(key, "huge", &vec![b' '; 1 << 20]));
    assert!(server.hset(key, "bad_rate", open(1).replace("1.0", "7.5").as_bytes()));
    // A well-formed open report from a stranger counts; one is not a quorum.
    assert!(server.hset(key, "stranger", open(1).as_bytes()));
    assert!(Report::decode(open(1).as_bytes()).is_ok());
    a.beat().await;
    let s = a.fleet.snapshot();
    assert!(s.connected);
    assert_eq!(s.ignored_records, 4, "{s:?}");
    assert_eq!(a.registry.snapshot().fleet.unwrap().ignored_records, 4);
    assert_eq!(s.components[0].open_replicas, Some(1));
    serves(&a, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_forces_open_and_releases_fleet_wide() {
    let Some(server) = RedisServer::start("fleet force") else {
        return;
    };
    let [a, b, c] = three(&server, "ops").await;
    // Replica a's read-only router: its recent events show what the fleet did, and who.
    let ops = breaker::http::router(Arc::clone(&a.registry));
    beat_all(&[&a, &b, &c]).await;
    a.fleet.force_open("db", "alice").await.unwrap();
    for r in [&a, &b, &c] {
        eventually("forced open everywhere", || {
            r.db().state() == CircuitState::ForcedOpen
        })
        .await;
        assert!(r.fleet_events().iter().any(|e| matches!(
            e,
            FleetEvent::ForcedOpen { by, .. } if by == "alice"
        )));
    }
    // A replica that missed the notice applies it at its next full read.
    let d = replica(&server.url(), "ops", "d").await;
    assert_eq!(d.db().state(), CircuitState::ForcedOpen);
    assert_eq!(
        d.fleet.snapshot().components[0].forced_by.as_deref(),
        Some("alice")
    );

    b.fleet.release("db", "bob").await.unwrap();
    for r in [&a, &b, &c, &d] {
        eventually("released everywhere", || {
            r.db().state() == CircuitState::Closed
        })
        .await;
        assert!(r.fleet_events().iter().any(|e| matches!(
            e,
            FleetEvent::Released { by, .. } if by == "bob"
        )));
    }
    assert!(matches!(
        a.fleet.force_open("nope", "alice").await,
        Err(breaker::fleet::FleetError::UnknownComponent(_))
    ));
    // An operator who gives no name is `unknown`; a long name is cut to 32 characters.
    a.fleet.force_open("db", "").await.unwrap();
    eventually("forced by an unnamed operator", || {
        c.fleet_events()
            .iter()
            .any(|e| matches!(e, FleetEvent::ForcedOpen { by, .. } if by == "unknown"))
    })
    .await;
    let long = "\u{e9}".repeat(40);
    a.fleet.release("db", &long).await.unwrap();
    eventually("released by a long-named operator", || {
        c.fleet_events()
            .iter()
            .any(|e| matches!(e, FleetEvent::Released { by, .. } if *by == "\u{e9}".repeat(32)))
    })
    .await;

    let recent = recent_events(&ops).await;
    let by = |kind: &str| {
        recent
            .iter()
            .find(|e| e["kind"] == kind)
            .map(|e| (e["component"].clone(), e["reason"].clone()))
    };
    assert_eq!(
        by("fleet_forced_open"),
        Some(("db".into(), "by alice".into())),
        "{recent:?}"
    );
    assert_eq!(
        by("fleet_released"),
        Some(("db".into(), "by bob".into())),
        "{recent:?}"
    );
}

/// `GET /events/recent` of a router, as JSON records.
async fn recent_events(app: &axum::Router) -> Vec<serde_json::Value> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::get("/events/recent")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    json["events"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_files_fleet_section_is_validated_and_followed() {
    let Some(server) = RedisServer::start("fleet config") else {
        return;
    };
    let [a, b, c] = three(&server, "cfg").await;
    beat_all(&[&a, &b, &c]).await;
    trip(&a.db());
    a.beat().await;
    c.beat().await;
    assert_eq!(c.refusal(), None, "min_open_replicas = 2 by default");

    let bad = "[fleet]\nmin_open_replicas = 1\nopen_replica_ratio = 1.5\n";
    let e = c.registry.reload_from_str(bad).unwrap_err();
    assert_eq!(e.line(), Some(3), "{e}");
    assert!(e.to_string().contains("open_replica_ratio = 1.5"), "{e}");
    assert!(matches!(e, breaker::FileError::Fleet { .. }));
    c.beat().await;
    assert_eq!(c.refusal(), None, "the running settings stay");
    let typo = "[fleet]\nmin_open_replica = 1\n";
    assert_eq!(
        c.registry.reload_from_str(typo).unwrap_err().line(),
        Some(2)
    );

    // A quorum of one, set explicitly: a alone now opens c.
    c.registry
        .reload_from_str("[fleet]\nmin_open_replicas = 1\nopen_replica_ratio = 0.0\n")
        .unwrap();
    assert_eq!(c.registry.fleet_config().unwrap().min_open_replicas, 1);
    c.beat().await;
    assert!(is_fleet_open(&c.refusal()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_commands_follow_components_and_heartbeats_never_calls() {
    let Some(server) = RedisServer::start("fleet commands") else {
        return;
    };
    let a = replica(&server.url(), "cmds", "a").await;
    a.registry.register("cache").unwrap();
    a.beat().await;
    let commands = || {
        ["hset", "hgetall", "hdel", "publish"]
            .iter()
            .map(|c| server.command_calls(c))
            .sum::<u64>()
    };
    let mut per_beat = Vec::new();
    for calls in [0u32, 10_000] {
        let before = commands();
        serves(&a, calls);
        a.beat().await;
        per_beat.push(commands() - before);
    }
    // One HSET and one HGETALL per component per heartbeat, whatever the traffic.
    assert_eq!(per_beat, [4, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_and_urls_that_cannot_work_are_refused_before_anything_starts() {
    let registry = Arc::new(GlobalCircuitBreaker::new(small_config(4)).unwrap());
    let start = |b: breaker::fleet::FleetBuilder| b.start(Arc::clone(&registry));
    let e = start(Fleet::builder().min_open_replicas(0))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, breaker::fleet::FleetError::Config(c) if c.field == "min_open_replicas"),
        "{e}"
    );
    let e = start(Fleet::builder().url("redis://:hunter2@[::1"))
        .await
        .unwrap_err();
    assert!(matches!(e, breaker::fleet::FleetError::Url { .. }), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");

    // A running fleet keeps its settings when new ones are invalid.
    let port = breaker_suite::redis_server::free_port();
    let r = try_replica(
        &format!("redis://127.0.0.1:{port}"),
        "cfg2",
        "a",
        Duration::from_millis(300),
    )
    .await;
    let bad = breaker::FleetConfig {
        open_replica_ratio: -1.0,
        ..breaker::FleetConfig::default()
    };
    assert!(r.fleet.reconfigure(&bad).is_err());
    let one = breaker::FleetConfig {
        min_open_replicas: 1,
        ..breaker::FleetConfig::default()
    };
    r.fleet.reconfigure(&one).unwrap();
    assert_eq!(r.fleet.snapshot().components[0].quorum, 1);
    assert_eq!(r.fleet.replica_id(), "a");
    // A registry with no component yet still tells local mode from connected.
    let empty = Fleet::builder()
        .url(format!("redis://127.0.0.1:{port}"))
        .start_timeout(Duration::from_millis(300))
        .manual_ticks()
        .start(Arc::new(
            GlobalCircuitBreaker::new(small_config(4)).unwrap(),
        ))
        .await
        .unwrap();
    assert!(empty.tick().await.is_err());
    assert!(!empty.snapshot().connected);
    assert!(format!("{:?}", r.fleet).contains("cfg2"));
}

/// Every quorum setting of the builder, and a whole config, is checked before anything
/// connects (no Redis is needed to be refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_builder_setting_is_checked_at_start() {
    let registry = Arc::new(GlobalCircuitBreaker::new(small_config(4)).unwrap());
    let refused = |b: breaker::fleet::FleetBuilder| {
        let registry = Arc::clone(&registry);
        async move {
            match b.start(registry).await {
                Err(breaker::fleet::FleetError::Config(c)) => c.field,
                other => panic!("not refused for its config: {other:?}"),
            }
        }
    };
    assert_eq!(
        refused(Fleet::builder().open_replica_ratio(1.5)).await,
        "open_replica_ratio"
    );
    assert_eq!(
        refused(Fleet::builder().sync_interval(Duration::from_millis(5))).await,
        "sync_interval"
    );
    assert_eq!(
        refused(Fleet::builder().sync_interval(SYNC).replica_ttl(SYNC)).await,
        "replica_ttl"
    );
    assert_eq!(
        refused(Fleet::builder().stale_after(Duration::from_millis(500))).await,
        "stale_after"
    );
    let unnamed = breaker::FleetConfig {
        namespace: String::new(),
        ..breaker::FleetConfig::default()
    };
    assert_eq!(
        refused(Fleet::builder().config(unnamed.clone())).await,
        "namespace"
    );
    assert!(matches!(
        Fleet::start(Arc::clone(&registry), unnamed).await,
        Err(breaker::fleet::FleetError::Config(c)) if c.field == "namespace"
    ));
}

#[test]
fn outside_a_tokio_runtime_start_is_an_error_not_a_panic() {
    let registry = Arc::new(GlobalCircuitBreaker::new(small_config(4)).unwrap());
    let started = futures::executor::block_on(Fleet::builder().start(registry));
    assert!(matches!(
        started,
        Err(breaker::fleet::FleetError::NoRuntime)
    ));
}

#[test]
fn the_default_replica_id_is_unique_per_process_start() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = breaker_suite::redis_server::free_port();
    let ids: Vec<String> = (0..2)
        .map(|_| {
            runtime.block_on(async {
                let registry = Arc::new(GlobalCircuitBreaker::new(small_config(4)).unwrap());
                let fleet = Fleet::builder()
                    .url(format!("redis://127.0.0.1:{port}"))
                    .start_timeout(Duration::from_millis(200))
                    .manual_ticks()
                    .start(registry)
                    .await
                    .unwrap();
                fleet.replica_id().to_owned()
            })
        })
        .collect();
    let pid = std::process::id().to_string();
    assert!(ids[0].contains(&format!("-{pid}-")), "{ids:?}");
    assert_ne!(
        ids[0], ids[1],
        "a random suffix keeps two fleets of one process apart"
    );
}
