#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `GET /events`: a snapshot at once and every second, transitions as they happen, a cap on
//! clients, and a stalled client that neither slows the engine nor is buffered without
//! bound: it is dropped, and counted. Real sockets on 127.0.0.1; every wait is bounded.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::{CircuitConfig, GlobalCircuitBreaker, Outcome};

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 2,
    ..CircuitConfig::DEFAULT
};

/// Serves `app` on a runtime thread of its own (so a test's blocking loop cannot starve it).
fn serve(app: axum::Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

/// A raw SSE client: sends the request, reads only when asked.
struct Client(std::net::TcpStream, String);

impl Client {
    fn connect(addr: SocketAddr, path: &str) -> Self {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        Self(s, String::new())
    }

    /// Reads until `needle` has arrived (bounded), returning everything read so far.
    fn until(&mut self, needle: &str, within: Duration) -> &str {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 16 * 1024];
        while !self.1.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in time; got {:?}",
                tail(&self.1)
            );
            match self.0.read(&mut buf) {
                Ok(0) => panic!("closed before {needle:?}; got {:?}", tail(&self.1)),
                Ok(n) => self.1.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("{e}"),
            }
        }
        &self.1
    }
}

fn tail(s: &str) -> &str {
    &s[s.len().saturating_sub(400)..]
}

fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(body).unwrap()
}

fn status_of(addr: SocketAddr, path: &str) -> String {
    let mut c = Client::connect(addr, path);
    let head = c.until("\r\n", Duration::from_secs(10));
    head.lines().next().unwrap().to_owned()
}

#[test]
fn a_stream_starts_with_a_snapshot_and_pushes_transitions_as_they_happen() {
    let (_clock, registry, _log) = breaker_suite::registry(CONFIG);
    let registry = Arc::new(registry);
    let db = registry.register("db").unwrap();
    let addr = serve(breaker::http::router(Arc::clone(&registry)));

    let mut client = Client::connect(addr, "/events");
    let text = client
        .until("event: snapshot", Duration::from_secs(10))
        .to_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{text}"
    );
    client.until("\"component\":\"db\"", Duration::from_secs(10));

    breaker_suite::trip(&db);
    let text = client
        .until("event: transition", Duration::from_secs(10))
        .to_owned();
    let data = text
        .split("event: transition")
        .nth(1)
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("data: ")))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["component"], "db");
    assert_eq!(
        (event["from"].as_str(), event["to"].as_str()),
        (Some("closed"), Some("open"))
    );
    assert!(event["reason"].as_str().unwrap().starts_with("error rate"));

    // The next tick's snapshot has it open (ticks are a real second apart).
    client.1.clear();
    let text = client.until("\"state\":\"open\"", Duration::from_secs(10));
    assert!(text.contains("event: snapshot"), "{text}");
}

#[test]
fn clients_over_the_cap_are_refused_503() {
    let (_clock, registry, _log) = breaker_suite::registry(CONFIG);
    let registry = Arc::new(registry);
    let addr = serve(
        breaker::http::builder(Arc::clone(&registry))
            .sse_clients(2)
            .build(),
    );

    let mut a = Client::connect(addr, "/events");
    a.until("event: snapshot", Duration::from_secs(10));
    let mut b = Client::connect(addr, "/events");
    b.until("event: snapshot", Duration::from_secs(10));
    assert!(status_of(addr, "/events").starts_with("HTTP/1.1 503"));
    assert_eq!(get_json(addr, "/breakers")["debug"]["sse_refused"], 1);

    // A client gone gives its place back (noticed when the server next writes to it).
    drop(a);
    assert!(
        breaker_suite::eventually(Duration::from_secs(10), || {
            get_json(addr, "/breakers")["debug"]["sse_clients"] == 1
        }),
        "the closed stream kept its slot"
    );
    let mut c = Client::connect(addr, "/events");
    c.until("event: snapshot", Duration::from_secs(10));
}

#[test]
fn a_stalled_client_does_not_block_record_and_is_dropped_when_it_falls_behind() {
    let (_clock, registry, _log) = breaker_suite::registry(CONFIG);
    let registry = Arc::new(registry);
    let db = registry.register("db").unwrap();
    let addr = serve(
        breaker::http::builder(Arc::clone(&registry))
            .sse_queue(16)
            .build(),
    );
    let mut stalled = Client::connect(addr, "/events");
    stalled.until("event: snapshot", Duration::from_secs(10));
    // From here the client reads nothing while the engine makes 40 000 transitions (each
    // an event for the stream): far more than its queue and its socket buffers hold.
    let engine = std::thread::spawn(move || {
        let started = Instant::now();
        for _ in 0..10_000 {
            breaker_suite::call(&db, Outcome::Failure);
            breaker_suite::call(&db, Outcome::Failure);
            assert_eq!(db.state(), breaker::CircuitState::Open);
            db.reset();
            db.force_open();
            db.reset();
        }
        started.elapsed()
    });
    assert!(
        breaker_suite::eventually(Duration::from_secs(60), || engine.is_finished()),
        "the engine was held up by a stalled SSE client"
    );
    let took = engine.join().unwrap();
    assert!(took < Duration::from_secs(30), "{took:?}");

    // It reads again: it is told it fell behind, and the stream ends.
    stalled.until("event: dropped", Duration::from_secs(20));
    let debug = &get_json(addr, "/breakers")["debug"];
    assert_eq!(debug["sse_dropped"], 1);
    assert_eq!(debug["sse_clients"], 0);
}

#[test]
fn the_event_hook_does_not_wait_for_readers() {
    // With no server at all, the hook only sends into a broadcast nobody reads.
    let registry = Arc::new(GlobalCircuitBreaker::new(CONFIG).unwrap());
    let _app = breaker::http::builder(Arc::clone(&registry))
        .sse_queue(1)
        .build();
    let db = registry.register("db").unwrap();
    let started = Instant::now();
    for _ in 0..10_000 {
        db.force_open();
        db.reset();
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}
