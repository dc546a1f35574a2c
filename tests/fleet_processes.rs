#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The fleet quorum across OS processes: the test re-executes its own binary as replica
//! processes (`BREAKER_FLEET_REPLICA` selects the hidden entry point below), all sharing one
//! `redis-server`, and drives each over stdin/stdout with bounded waits. Each replica keeps
//! its own `FakeClock`, advanced by the driver's `tick` command.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use breaker::fleet::Fleet;
use breaker::{FakeClock, GlobalCircuitBreaker, Outcome, Permit};
use breaker_suite::redis_server::RedisServer;
use breaker_suite::Patience;
use breaker_suite::{small_config, trip, COOLDOWN};

const ROLE: &str = "BREAKER_FLEET_REPLICA";
const URL: &str = "BREAKER_FLEET_URL";
const SYNC: Duration = Duration::from_secs(1);
const TTL: Duration = Duration::from_secs(5);
const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// The replica process: commands on stdin, one `REPLY ...` line on stdout for each.
#[test]
fn replica_entry_point() {
    let (Ok(id), Ok(url)) = (std::env::var(ROLE), std::env::var(URL)) else {
        return; // run as a plain test: nothing to do
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(serve(id, url));
}

async fn serve(id: String, url: String) {
    let clock = FakeClock::new();
    let registry = Arc::new(
        GlobalCircuitBreaker::builder()
            .config(small_config(4))
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let db = registry.register("db").unwrap();
    let fleet = Fleet::builder()
        .url(url)
        .namespace("procs")
        .replica_id(id)
        .sync_interval(SYNC)
        .replica_ttl(TTL)
        .manual_ticks()
        .start(Arc::clone(&registry))
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    println!("REPLY started");
    while let Some(command) = rx.recv().await {
        let reply = match command.trim() {
            "call" => match registry.acquire("db") {
                Permit::Allowed(g) => {
                    g.record(Outcome::Success);
                    "ok".to_owned()
                }
                Permit::Rejected(e) => e.reason().to_owned(),
            },
            "trip" => {
                trip(&db);
                db.state().as_str().to_owned()
            }
            "recover" => {
                clock.advance(COOLDOWN + Duration::from_millis(1));
                if let Permit::Allowed(g) = db.acquire() {
                    g.record(Outcome::Success);
                }
                db.state().as_str().to_owned()
            }
            "tick" => {
                clock.advance(SYNC);
                match fleet.tick().await {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => format!("local: {e}"),
                }
            }
            "peers" => fleet.snapshot().live_peers.to_string(),
            other => format!("unknown command {other}"),
        };
        println!("REPLY {reply}");
    }
}

/// A replica process, driven by the test.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(id: &str, url: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "replica_entry_point",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, id)
            .env(URL, url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest prints `test replica_entry_point ... ` before the first reply.
                if let Some((_, reply)) = line.split_once("REPLY ") {
                    if tx.send(reply.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        let mut proc = Self {
            child,
            stdin,
            replies,
        };
        assert_eq!(proc.reply(), "started");
        proc
    }

    fn reply(&mut self) -> String {
        self.replies
            .recv_timeout(REPLY_DEADLINE)
            .expect("the replica process answers in time")
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        self.reply()
    }

    /// Asks `call` until the answer is `want`, within a bounded real deadline.
    fn call_until(&mut self, want: &str) {
        let mut patience = Patience::new(REPLY_DEADLINE, Duration::from_millis(10));
        let mut last;
        loop {
            last = self.ask("call");
            if last == want || !patience.again() {
                break;
            }
        }
        assert!(last == want, "wanted `{want}`, last answer `{last}`");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn three_processes_share_one_redis() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let Some(server) = RedisServer::start("fleet processes") else {
        return;
    };
    let url = server.url();
    let mut procs: Vec<Proc> = ["a", "b", "c"]
        .iter()
        .map(|id| Proc::spawn(id, &url))
        .collect();
    for p in &mut procs {
        assert_eq!(p.ask("tick"), "ok");
    }
    assert_eq!(procs[2].ask("tick"), "ok");
    assert_eq!(procs[2].ask("peers"), "2");

    // One bad replica opens alone.
    assert_eq!(procs[0].ask("trip"), "open");
    for p in &mut procs {
        assert_eq!(p.ask("tick"), "ok");
    }
    assert_eq!(procs[1].ask("call"), "ok");
    assert_eq!(procs[2].ask("call"), "ok");

    // A real outage: the quorum reaches c through Redis pub/sub.
    assert_eq!(procs[1].ask("trip"), "open");
    procs[2].call_until("fleet_open");

    // A process started mid-outage refuses from its first call.
    let mut d = Proc::spawn("d", &url);
    assert_eq!(d.ask("call"), "fleet_open");

    // Recovery lifts the verdict everywhere.
    assert_eq!(procs[0].ask("recover"), "closed");
    assert_eq!(procs[1].ask("recover"), "closed");
    procs[2].call_until("ok");
    d.call_until("ok");

    // A killed process stops counting after replica_ttl: a and b open again, b is killed,
    // and c, ticking with a, lets calls through once b's heartbeat is TTL old on its clock.
    assert_eq!(procs[0].ask("trip"), "open");
    assert_eq!(procs[1].ask("trip"), "open");
    procs[2].call_until("fleet_open");
    drop(procs.remove(1));
    let mut beats = 0;
    while procs[1].ask("call") == "fleet_open" {
        assert_eq!(procs[0].ask("tick"), "ok");
        assert_eq!(procs[1].ask("tick"), "ok");
        assert_eq!(d.ask("tick"), "ok");
        beats += 1;
        assert!(
            beats <= 10,
            "the killed replica still counts after {beats} ticks"
        );
    }
    assert_eq!(procs[1].ask("peers"), "2", "a and d");
}
