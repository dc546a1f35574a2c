#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A real test of a family: three local upstream HTTP servers on 127.0.0.1 (axum, ephemeral
//! ports) behind one reqwest client guarded by the family layer keyed by authority. One
//! server fails (500): only its key opens, the other two keep serving, and the failing one
//! recovers through its own probes. Breaker time is a `FakeClock`; real I/O is awaited with
//! bounded timeouts.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use breaker::layer::CircuitBreakerLayer;
use breaker::{
    CallError, CircuitConfig, CircuitState, FakeClock, FamilyConfig, GlobalCircuitBreaker, Outcome,
};
use tower::{Layer, Service, ServiceExt};

const IO: Duration = Duration::from_secs(10);
const COOLDOWN: Duration = Duration::from_secs(30);

#[derive(Clone, Default)]
struct Upstream {
    failing: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
}

async fn answer(State(up): State<Upstream>) -> StatusCode {
    up.hits.fetch_add(1, Ordering::Relaxed);
    if up.failing.load(Ordering::Relaxed) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn serve(up: Upstream) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/", get(answer)).with_state(up);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

type Classifier = fn(&Result<reqwest::Response, reqwest::Error>) -> Outcome;

fn outcome(result: &Result<reqwest::Response, reqwest::Error>) -> Outcome {
    match result {
        Ok(response) if !response.status().is_server_error() => Outcome::Success,
        _ => Outcome::Failure,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_upstream_opens_only_its_own_key() {
    let upstreams: Vec<Upstream> = (0..3).map(|_| Upstream::default()).collect();
    let mut addrs = Vec::new();
    for up in &upstreams {
        addrs.push(serve(up.clone()).await);
    }
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    registry
        .register_family_with(
            "upstream_host",
            FamilyConfig::DEFAULT,
            CircuitConfig {
                min_calls: 5,
                error_rate_threshold: 0.5,
                open_cooldown: COOLDOWN,
                half_open_max_concurrent: 2,
                half_open_required_successes: 2,
                ..CircuitConfig::DEFAULT
            },
        )
        .unwrap();
    // Loopback only: no proxy from the environment.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let layer =
        CircuitBreakerLayer::for_family(&registry, "upstream_host", |r: &reqwest::Request| {
            Cow::Borrowed(r.url().authority())
        })
        .unwrap()
        .classify(outcome as Classifier);
    let service = layer.layer(client.clone());
    let call = |addr: SocketAddr| {
        let mut service = service.clone();
        let request = client.get(format!("http://{addr}/")).build().unwrap();
        async move {
            let ready = tokio::time::timeout(IO, service.ready())
                .await
                .expect("ready in time");
            let call = ready.unwrap().call(request);
            tokio::time::timeout(IO, call)
                .await
                .expect("answered in time")
        }
    };

    upstreams[1].failing.store(true, Ordering::Relaxed);
    for _ in 0..5 {
        for &addr in &addrs {
            let _ = call(addr).await;
        }
    }
    let family = registry.family("upstream_host").unwrap();
    let key = |i: usize| family.key(&addrs[i].to_string()).unwrap();
    assert_eq!(
        key(1).state(),
        CircuitState::Open,
        "the failing upstream's key opened"
    );
    assert_eq!(key(0).state(), CircuitState::Closed);
    assert_eq!(key(2).state(), CircuitState::Closed);
    assert_eq!(family.live(), 3);

    // The other two keep serving; the failing one is refused without being called.
    let hits_before = upstreams[1].hits.load(Ordering::Relaxed);
    for _ in 0..3 {
        assert_eq!(call(addrs[0]).await.unwrap().status(), StatusCode::OK);
        assert_eq!(call(addrs[2]).await.unwrap().status(), StatusCode::OK);
        assert!(matches!(call(addrs[1]).await, Err(CallError::Rejected(_))));
    }
    assert_eq!(
        upstreams[1].hits.load(Ordering::Relaxed),
        hits_before,
        "spared while open"
    );

    // It recovers through its own probes once its cooldown is over.
    upstreams[1].failing.store(false, Ordering::Relaxed);
    clock.advance(COOLDOWN);
    for _ in 0..2 {
        assert_eq!(call(addrs[1]).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        key(1).state(),
        CircuitState::Closed,
        "closed by its own probes"
    );
    assert_eq!(
        key(0).snapshot().transitions.len(),
        0,
        "its siblings never moved"
    );
    assert_eq!(registry.global().state(), CircuitState::Closed);
}
