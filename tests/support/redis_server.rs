//! A real `redis-server` for the fleet tests, started on a free loopback port and stopped on
//! drop, and a loopback proxy that can stall the bytes between a client and it.
//!
//! `redis-server` missing: in CI (`CI=true`) [`RedisServer::start`] fails the test; elsewhere
//! it prints a skip line and returns `None`, and the test returns early. `bash scripts/test`
//! installs it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

// Test fixtures: failing the test with a message when the fixture cannot do its job is their
// purpose, hence the `expect`s and `panic!`s.

/// How long the server gets to answer `PING` after a start.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` child on `127.0.0.1:<port>`, killed (and waited for) on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    password: Option<String>,
    child: Option<Child>,
    dir: PathBuf,
}

/// Whether `redis-server` can be run here.
pub fn redis_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free loopback port (bound, read, released: the usual small race is acceptable here).
#[allow(clippy::expect_used)]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl RedisServer {
    /// Starts a server without a password, or returns `None` (after a skip line) where
    /// `redis-server` is missing outside CI.
    ///
    /// # Panics
    ///
    /// In CI when `redis-server` is missing; anywhere when it does not answer in time.
    pub fn start(test: &str) -> Option<Self> {
        Self::start_with(test, None)
    }

    /// [`start`](Self::start) with `--requirepass password`.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    #[allow(clippy::panic)]
    pub fn start_with(test: &str, password: Option<&str>) -> Option<Self> {
        if !redis_available() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: redis-server is missing in CI (bash scripts/test installs it)");
            }
            // Written to the stderr handle, not with `eprintln!`, which libtest captures and
            // hides for a passing test: a skip must show.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {test}: redis-server is not installed (bash scripts/test installs it)"
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "breaker-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::create_dir_all(&dir);
        let mut server = Self {
            port: free_port(),
            password: password.map(str::to_owned),
            child: None,
            dir,
        };
        server.spawn();
        Some(server)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, with the password if it has one.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The URL with another password (a wrong one).
    pub fn url_with_password(&self, password: &str) -> String {
        format!("redis://:{password}@127.0.0.1:{}", self.port)
    }

    #[allow(clippy::expect_used, clippy::panic)]
    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = &self.password {
            command.args(["--requirepass", p]);
        }
        self.child = Some(command.spawn().expect("redis-server starts"));
        let mut patience = crate::Patience::new(START_DEADLINE, Duration::from_millis(20));
        loop {
            if self.command(&["PING"]).is_some_and(|r| r == "PONG") {
                return;
            }
            if !patience.again() {
                break;
            }
        }
        panic!(
            "redis-server on port {} did not answer PING within {START_DEADLINE:?}",
            self.port
        );
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: `--save ""`).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs one command through redis-rs's blocking client and returns its reply as text,
    /// or `None` if the server does not answer (within 2s).
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()?;
        conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut cmd = redis::cmd(args.first()?);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let value: redis::Value = cmd.query(&mut conn).ok()?;
        Some(match value {
            redis::Value::SimpleString(s) => s,
            redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            redis::Value::VerbatimString { text, .. } => text,
            redis::Value::Okay => "OK".to_owned(),
            other => format!("{other:?}"),
        })
    }

    /// Writes `value` as `field` of `key`'s hash (a record another replica, or an attacker,
    /// could write).
    pub fn hset(&self, key: &str, field: &str, value: &[u8]) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
            return false;
        };
        redis::cmd("HSET")
            .arg(key)
            .arg(field)
            .arg(value)
            .query::<i64>(&mut conn)
            .is_ok()
    }

    /// The fields of `key`'s hash.
    pub fn hkeys(&self, key: &str) -> Vec<String> {
        let Ok(client) = redis::Client::open(self.url()) else {
            return Vec::new();
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
            return Vec::new();
        };
        redis::cmd("HKEYS")
            .arg(key)
            .query(&mut conn)
            .unwrap_or_default()
    }

    /// `INFO commandstats`' `calls=` for `cmd` (lower case), summed.
    pub fn command_calls(&self, cmd: &str) -> u64 {
        let info = self.command(&["INFO", "commandstats"]).unwrap_or_default();
        info.lines()
            .filter(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
            .filter_map(|l| l.split("calls=").nth(1))
            .filter_map(|v| v.split(',').next())
            .filter_map(|v| v.parse::<u64>().ok())
            .sum()
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback TCP proxy in front of a server; [`stall`](Self::stall) stops it forwarding
/// (connections stay open, bytes wait), [`resume`](Self::resume) lets them flow again.
#[derive(Debug)]
pub struct StallProxy {
    port: u16,
    stalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl StallProxy {
    /// A proxy on a free loopback port forwarding to `127.0.0.1:target`.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    #[allow(clippy::expect_used)]
    pub fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        listener.set_nonblocking(true).expect("non-blocking accept");
        let stalled = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&stalled), Arc::clone(&stop));
        let accept = thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                            continue;
                        };
                        for (from, to) in [
                            (client.try_clone(), server.try_clone()),
                            (server.try_clone(), client.try_clone()),
                        ] {
                            if let (Ok(from), Ok(to)) = (from, to) {
                                let (s, st) = (Arc::clone(&s), Arc::clone(&st));
                                thread::spawn(move || pump(from, to, &s, &st));
                            }
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            port,
            stalled,
            stop,
            threads: Mutex::new(vec![accept]),
        }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops forwarding: clients' requests and the server's replies wait.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::Relaxed);
    }

    /// Forwards again.
    pub fn resume(&self) {
        self.stalled.store(false, Ordering::Relaxed);
    }
}

/// Copies `from` to `to` while not stopped, holding bytes while stalled.
fn pump(mut from: TcpStream, mut to: TcpStream, stalled: &AtomicBool, stop: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = [0u8; 16 * 1024];
    while !stop.load(Ordering::Relaxed) {
        if stalled.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Bytes read as the stall began wait with the rest.
                while stalled.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(5));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for t in threads {
            let _ = t.join();
        }
    }
}
