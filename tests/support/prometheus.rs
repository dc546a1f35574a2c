//! The real Prometheus tools for the metrics tests: finding `promtool` and `prometheus`
//! (Debian package `prometheus`, which `scripts/test` installs), running them on free
//! 127.0.0.1 ports in a scratch folder, and a small blocking HTTP GET for their API. A missing
//! tool fails the test under `CI=true` and skips it (with a printed line) otherwise.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

// Fixtures: when one cannot do what the test asked, failing the test on the spot, with a
// message, is their job.

/// `name` on the `PATH`, or `None` (with a printed skip line) when it is missing outside CI.
///
/// # Panics
///
/// Under `CI=true` when `name` is missing: CI must run these tests, not skip them.
#[allow(clippy::panic)]
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("`{name}` is not installed (Debian package `prometheus`; `bash scripts/test` installs it)");
        }
        println!("skipped: `{name}` is not installed (Debian package `prometheus`; `bash scripts/test` installs it)");
    }
    found
}

/// Runs `tool` with `args`, feeding it `stdin`.
///
/// # Panics
///
/// If the tool cannot be started or its pipes fail.
#[allow(clippy::expect_used)]
pub fn run(tool: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("the tool reads its input");
    child.wait_with_output().expect("the tool finishes")
}

/// A scratch folder, removed on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new empty folder under the system's temp dir.
    ///
    /// # Panics
    ///
    /// If it cannot be created.
    #[allow(clippy::expect_used)]
    pub fn new(what: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "breaker-{what}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the scratch folder is created");
        Self(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free port on 127.0.0.1 (bound, then released for the process that will listen on it).
///
/// # Panics
///
/// If no port can be bound.
#[allow(clippy::expect_used)]
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A running `prometheus`, killed (and its storage removed) on drop.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    /// Where its API listens.
    pub addr: SocketAddr,
    scratch: Scratch,
}

impl Prometheus {
    /// Starts `binary` with `config` (a `prometheus.yml`) on a free 127.0.0.1 port, its
    /// storage and config in a scratch folder, its output in `prometheus.log` there.
    ///
    /// # Panics
    ///
    /// If the files cannot be written or the process cannot be started.
    #[allow(clippy::expect_used)]
    pub fn start(binary: &Path, config: &str) -> Self {
        let scratch = Scratch::new("prometheus");
        let config_path = scratch.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("the config is written");
        let log = std::fs::File::create(scratch.path().join("prometheus.log"))
            .expect("the log is created");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                scratch.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log is shared"))
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        Self {
            child,
            addr,
            scratch,
        }
    }

    /// What it has logged so far (for a failure message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` on its API; `None` while it is not answering.
    pub fn get(&self, path: &str) -> Option<String> {
        get(self.addr, path)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking `GET path` over HTTP/1.0 with a 5 s timeout: the body of a `200`, else `None`.
pub fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?;
    (status == "200").then(|| body.to_owned())
}

/// Polls `check` until it returns `Some`, at most until `deadline` from now (and at most 1,000
/// times), 100 ms apart: a bounded wait on real processes, never on breaker time.
pub fn poll<T>(deadline: Duration, check: impl FnMut() -> Option<T>) -> Option<T> {
    crate::poll_every(Duration::from_millis(100), deadline, check)
}

/// `s` percent-encoded for a URL's query string.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
