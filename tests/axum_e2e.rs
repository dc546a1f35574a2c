#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! End to end over loopback: an axum gateway calls an upstream axum server through a reqwest
//! client guarded by `CircuitBreakerLayer`. The upstream fails, the breaker opens and the
//! gateway answers 503 + Retry-After without calling it; the upstream recovers, the (fake)
//! cooldown passes, probes succeed and the breaker closes. The gateway also serves the
//! read-only admin router. Ports are ephemeral, time is a `FakeClock`, nothing sleeps.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use breaker::layer::{service_unavailable, CircuitBreaker, CircuitBreakerLayer, Format};
use breaker::{CallError, CircuitConfig, CircuitState, FakeClock, GlobalCircuitBreaker, Outcome};
use tower::{Layer, ServiceExt};

type Classifier = fn(&Result<reqwest::Response, reqwest::Error>) -> Outcome;
type Upstream = CircuitBreaker<reqwest::Client, Classifier>;

/// reqwest's responses are not `http::Response`s, so the gateway says what a failure is.
fn upstream_outcome(result: &Result<reqwest::Response, reqwest::Error>) -> Outcome {
    match result {
        Ok(response) if !response.status().is_server_error() => Outcome::Success,
        _ => Outcome::Failure,
    }
}

#[derive(Clone)]
struct Upstreams {
    failing: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
}

async fn price(State(up): State<Upstreams>) -> Response {
    up.hits.fetch_add(1, Ordering::SeqCst);
    if up.failing.load(Ordering::SeqCst) {
        (StatusCode::INTERNAL_SERVER_ERROR, "matching engine down").into_response()
    } else {
        "42000".into_response()
    }
}

#[derive(Clone)]
struct Gateway {
    client: reqwest::Client,
    upstream: Upstream,
    url: String,
}

async fn quote(State(gw): State<Gateway>) -> Response {
    let request = gw.client.get(&gw.url).build().unwrap();
    match gw.upstream.oneshot(request).await {
        Ok(response) if response.status().is_success() => {
            let body = response.text().await.unwrap_or_default();
            (StatusCode::OK, body).into_response()
        }
        Ok(_) | Err(CallError::Inner(_)) => StatusCode::BAD_GATEWAY.into_response(),
        Err(CallError::Rejected(refused)) => service_unavailable::<Body>(&refused, Format::Text),
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

struct Harness {
    clock: FakeClock,
    breakers: Arc<GlobalCircuitBreaker>,
    failing: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    client: reqwest::Client,
    gateway: SocketAddr,
}

impl Harness {
    async fn start() -> Self {
        let (clock, breakers, _log) = breaker_suite::registry(CircuitConfig {
            min_calls: 4,
            open_cooldown: Duration::from_secs(30),
            ..CircuitConfig::DEFAULT
        });
        let breakers = Arc::new(breakers);
        let failing = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let upstream = serve(
            Router::new()
                .route("/price", get(price))
                .with_state(Upstreams {
                    failing: Arc::clone(&failing),
                    hits: Arc::clone(&hits),
                }),
        )
        .await;

        // Loopback only: no proxy from the environment.
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let guard = CircuitBreakerLayer::for_component(&breakers, "upstream")
            .unwrap()
            .classify(upstream_outcome as Classifier);
        let gateway = Gateway {
            upstream: guard.layer(client.clone()),
            client: client.clone(),
            url: format!("http://{upstream}/price"),
        };
        let app = Router::new()
            .route("/quote", get(quote))
            .with_state(gateway)
            .nest("/admin", breaker::http::router(Arc::clone(&breakers)));
        let gateway = serve(app).await;
        Self {
            clock,
            breakers,
            failing,
            hits,
            client,
            gateway,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("http://{}{path}", self.gateway);
        self.client.get(url).send().await.unwrap()
    }

    async fn quote(&self) -> (StatusCode, Option<String>) {
        let response = self.get("/quote").await;
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), retry_after)
    }

    fn state(&self) -> CircuitState {
        self.breakers.component("upstream").unwrap().state()
    }
}

#[tokio::test]
async fn an_upstream_outage_opens_the_breaker_and_recovery_closes_it() {
    tokio::time::timeout(Duration::from_secs(30), outage_and_recovery())
        .await
        .expect("the scenario finishes in time");
}

async fn outage_and_recovery() {
    let h = Harness::start().await;

    assert_eq!(h.quote().await, (StatusCode::OK, None));
    assert_eq!(h.state(), CircuitState::Closed);

    // The upstream starts failing: 502s until the window trips (4 calls, 3 failures).
    h.failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        assert_eq!(h.quote().await.0, StatusCode::BAD_GATEWAY);
    }
    assert_eq!(h.state(), CircuitState::Open);

    // Open: refused at the gateway, the upstream is not called.
    let hits = h.hits.load(Ordering::SeqCst);
    assert_eq!(
        h.quote().await,
        (StatusCode::SERVICE_UNAVAILABLE, Some("30".to_owned()))
    );
    h.clock.advance(Duration::from_millis(12_300));
    assert_eq!(
        h.quote().await,
        (StatusCode::SERVICE_UNAVAILABLE, Some("18".to_owned()))
    );
    assert_eq!(h.hits.load(Ordering::SeqCst), hits);

    // The admin routes see it.
    let snapshot = json(h.get("/admin/breakers").await).await;
    let upstream = &snapshot["components"][0];
    assert_eq!(upstream["component"], "upstream");
    assert_eq!(upstream["state"], "open");
    assert_eq!(upstream["rejections"]["open"], 2);
    let metrics = h.get("/admin/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"breaker_state{component="upstream",state="open"} 1"#));
    assert!(metrics.contains(r#"breaker_rejections_total{component="upstream",reason="open"} 2"#));

    // Recovery: after the cooldown, three successful probes close it.
    h.failing.store(false, Ordering::SeqCst);
    h.clock.advance(Duration::from_millis(17_700));
    assert_eq!(h.quote().await, (StatusCode::OK, None));
    assert_eq!(h.state(), CircuitState::HalfOpen);
    assert_eq!(h.quote().await.0, StatusCode::OK);
    assert_eq!(h.quote().await.0, StatusCode::OK);
    assert_eq!(h.state(), CircuitState::Closed);
    assert_eq!(h.hits.load(Ordering::SeqCst), hits + 3);
    assert_eq!(h.quote().await, (StatusCode::OK, None));
}

#[tokio::test]
async fn the_admin_router_is_read_only() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let breakers = Arc::new(GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap());
        breakers.register("db").unwrap();
        let admin = breaker::http::router(Arc::clone(&breakers));

        let response = admin
            .clone()
            .oneshot(request(Method::GET, "/metrics"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            breaker::metrics::TEXT_CONTENT_TYPE
        );
        let response = admin
            .clone()
            .oneshot(request(Method::GET, "/breakers"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");

        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            for path in ["/breakers", "/metrics"] {
                let response = admin
                    .clone()
                    .oneshot(request(method.clone(), path))
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
            }
        }
        let response = admin
            .oneshot(request(Method::GET, "/breakers/db/reset"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            breakers.component("db").unwrap().state(),
            CircuitState::Closed
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn an_axum_route_guarded_in_http_mode_answers_503_itself() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let (clock, breakers, _log) = breaker_suite::registry(CircuitConfig {
            min_calls: 2,
            ..CircuitConfig::DEFAULT
        });
        let failing = Arc::new(AtomicBool::new(true));
        let handler_failing = Arc::clone(&failing);
        // The route's own 5xx trip the breaker; axum needs `Error = Infallible`, which the
        // HTTP mode keeps.
        let app = Router::new()
            .route(
                "/orders",
                get(move || async move {
                    if handler_failing.load(Ordering::SeqCst) {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }),
            )
            .route_layer(
                CircuitBreakerLayer::for_component(&breakers, "orders")
                    .unwrap()
                    .http(),
            );

        for _ in 0..2 {
            let response = app.clone().oneshot(request(Method::GET, "/orders")).await;
            assert_eq!(
                response.unwrap().status(),
                StatusCode::INTERNAL_SERVER_ERROR
            );
        }
        let refused = app
            .clone()
            .oneshot(request(Method::GET, "/orders"))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "30");
        assert_eq!(
            refused.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        // A client that asks for JSON gets the refusal as JSON.
        let mut asks_json = request(Method::GET, "/orders");
        asks_json
            .headers_mut()
            .insert(header::ACCEPT, "application/json".parse().unwrap());
        let refused = app.clone().oneshot(asks_json).await.unwrap();
        assert_eq!(refused.headers()[header::CONTENT_TYPE], "application/json");
        let body = http_body_util::BodyExt::collect(refused.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["component"], "orders");
        assert_eq!(body["retry_after_ms"], 30_000);

        // Unmatched paths never reach `route_layer`, so they are not counted.
        let missing = app
            .clone()
            .oneshot(request(Method::GET, "/nope"))
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);

        failing.store(false, Ordering::SeqCst);
        clock.advance(Duration::from_secs(30));
        for _ in 0..3 {
            let probe = app.clone().oneshot(request(Method::GET, "/orders")).await;
            assert_eq!(probe.unwrap().status(), StatusCode::OK);
        }
        let orders = breakers.component("orders").unwrap();
        assert_eq!(orders.state(), CircuitState::Closed);
        assert_eq!(orders.snapshot().rejections.total(), 2);
    })
    .await
    .expect("bounded");
}

fn request(method: Method, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

/// `reqwest`'s own `json` needs its `json` feature; parse the text instead.
async fn json(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}
