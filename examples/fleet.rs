//! Three replicas of one service share their breakers' health through Redis:
//!
//! ```text
//! cargo run --example fleet                          # starts its own redis-server
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example fleet
//! ```
//!
//! 1. A bad network path on one replica: it opens alone, the other two keep calling.
//! 2. A real outage seen by two: the quorum opens the third (`FleetOpen`).
//! 3. A replica restarted mid-outage refuses from its first call.
//! 4. Recovery: the open replicas' probes succeed, the verdict lifts everywhere.
//! 5. Redis killed mid-run: every replica serves on its own breakers, no call fails.
//!
//! Each replica runs on its own `FakeClock` and the example calls `tick()` itself (what the
//! background task does every `sync_interval`), so the story runs in a blink.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::fleet::Fleet;
use breaker::{
    CircuitConfig, CircuitError, Event, FakeClock, FleetEvent, GlobalCircuitBreaker, Outcome,
    Permit,
};
use breaker_suite::redis_server::RedisServer;

const SYNC: Duration = Duration::from_secs(1);
const COOLDOWN: Duration = Duration::from_secs(10);

struct Replica {
    name: &'static str,
    clock: FakeClock,
    registry: Arc<GlobalCircuitBreaker>,
    fleet: Fleet,
}

impl Replica {
    async fn start(name: &'static str, url: &str) -> Self {
        let clock = FakeClock::new();
        let registry = Arc::new(
            GlobalCircuitBreaker::builder()
                .config(CircuitConfig {
                    min_calls: 5,
                    error_rate_threshold: 0.5,
                    open_cooldown: COOLDOWN,
                    half_open_required_successes: 1,
                    ..CircuitConfig::DEFAULT
                })
                .clock(clock.clone())
                .on_event(move |e| {
                    if let Event::Fleet(f) = e {
                        println!("    [{name}] fleet event: {}", describe(f));
                    }
                })
                .build()
                .unwrap(),
        );
        registry.register("payments_api").unwrap();
        let fleet = Fleet::builder()
            .url(url)
            .namespace("example")
            .replica_id(name)
            .sync_interval(SYNC)
            .manual_ticks()
            .start(Arc::clone(&registry))
            .await
            .unwrap();
        Self {
            name,
            clock,
            registry,
            fleet,
        }
    }

    /// One call to the dependency, which answers `healthy`; what happened, in words.
    fn call(&self, healthy: bool) -> Result<(), CircuitError> {
        match self.registry.acquire("payments_api") {
            Permit::Allowed(guard) => {
                guard.record(if healthy {
                    Outcome::Success
                } else {
                    Outcome::Failure
                });
                Ok(())
            }
            Permit::Rejected(e) => Err(e),
        }
    }

    fn calls(&self, n: u32, healthy: bool) {
        for _ in 0..n {
            let _ = self.call(healthy);
        }
    }

    async fn tick(&self) {
        self.clock.advance(SYNC);
        let _ = self.fleet.tick().await;
    }

    fn show(&self) {
        let state = self.registry.component("payments_api").unwrap().state();
        let answer = match self.call(true) {
            Ok(()) => "calls go through".to_owned(),
            Err(e) => format!("refused: {e}"),
        };
        println!("    {}: breaker {state:?}, {answer}", self.name);
    }
}

fn describe(e: &FleetEvent) -> String {
    match e {
        FleetEvent::Connected { .. } => "connected to Redis".to_owned(),
        FleetEvent::Disconnected { error, .. } => format!("disconnected ({error}); local mode"),
        FleetEvent::QuorumOpen {
            open_replicas,
            live_replicas,
            ..
        } => format!("quorum open: {open_replicas} of {live_replicas} replicas"),
        FleetEvent::QuorumLifted { .. } => "quorum lifted".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Waits (bounded, real time) until `r` answers as `want` says: a notice crossing Redis.
async fn until(r: &Replica, want: impl Fn(&Result<(), CircuitError>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !want(&r.call(true)) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() {
    let mut own_server = None;
    let url = match std::env::var("REDIS_URL") {
        Ok(url) => url,
        Err(_) => match RedisServer::start("example fleet") {
            Some(server) => {
                let url = server.url();
                own_server = Some(server);
                url
            }
            None => return,
        },
    };
    println!("Redis at {url}");
    let a = Replica::start("a", &url).await;
    let b = Replica::start("b", &url).await;
    let c = Replica::start("c", &url).await;
    for r in [&a, &b, &c] {
        r.tick().await;
    }

    println!("\n1. A bad network path on replica a only: it opens alone.");
    a.calls(10, false);
    for r in [&a, &b, &c] {
        r.tick().await;
    }
    for r in [&a, &b, &c] {
        r.show();
    }
    assert!(b.call(true).is_ok() && c.call(true).is_ok());

    println!("\n2. A real outage: b fails too; the quorum (2 of 3) opens c at once.");
    b.calls(10, false);
    until(&c, |r| matches!(r, Err(CircuitError::FleetOpen { .. }))).await;
    for r in [&a, &b, &c] {
        r.show();
    }
    assert!(matches!(c.call(true), Err(CircuitError::FleetOpen { .. })));

    println!("\n3. Replica c restarts mid-outage: it reads the fleet before serving.");
    drop(c);
    let c = Replica::start("c2", &url).await;
    c.show();
    assert!(matches!(c.call(true), Err(CircuitError::FleetOpen { .. })));

    println!("\n4. The dependency recovers: a's and b's probes succeed; the verdict lifts.");
    for r in [&a, &b] {
        r.clock.advance(COOLDOWN);
        let _ = r.call(true);
    }
    until(&c, Result::is_ok).await;
    for r in [&a, &b, &c] {
        r.show();
    }
    assert!(c.call(true).is_ok());

    if let Some(mut server) = own_server {
        println!("\n5. Redis is killed mid-run: every replica serves on its own breakers.");
        server.kill();
        let mut failed = 0;
        for r in [&a, &b, &c] {
            r.tick().await;
            for _ in 0..1000 {
                failed += u32::from(r.call(true).is_err());
            }
            println!(
                "    {}: connected = {}, 1000 calls, {failed} refused",
                r.name,
                r.fleet.snapshot().connected
            );
        }
        assert_eq!(failed, 0, "no call fails because of Redis");
    }
    println!("\nDone.");
}
