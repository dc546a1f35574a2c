//! Axum routers for operators.
//!
//! The read-only [`router`] (or [`builder`] to set its limits) serves:
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /` | the live dashboard: one self-contained HTML page (no CDN) |
//! | `GET /events` | Server-Sent Events: `snapshot` every second, `transition` and `config` as they happen |
//! | `GET /events/recent?limit=N` | the last transitions and reloads, with reasons |
//! | `GET /breakers` | every breaker, as JSON |
//! | `GET /breakers/{name}` | one breaker; `404` JSON for an unknown name |
//! | `GET /health` | readiness: `200 {"status":"up"}` or `503 {"status":"degraded","open":[..]}` |
//! | `GET /metrics` | the [Prometheus export](crate::metrics) |
//!
//! It has no route that changes a breaker; any other method is answered `405`. The separate
//! [`admin`] router (force open, disable, reset) is mounted only where you mount it, and
//! refuses every request without its bearer token.
//!
//! ```
//! use std::sync::Arc;
//! use breaker::{CircuitConfig, GlobalCircuitBreaker};
//! use breaker::http::AdminAuth;
//!
//! let breakers = Arc::new(GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?);
//! let app: axum::Router = axum::Router::new()
//!     .nest("/ops", breaker::http::builder(Arc::clone(&breakers)).health_critical(["db"]).build())
//!     .nest("/ops/admin", breaker::http::admin(Arc::clone(&breakers), AdminAuth::bearer("s3cret")));
//! // Or for the process-wide registry: `breaker::http::router(breaker::registry())`.
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The event feed is one [`on_event`](GlobalCircuitBreaker::on_event) hook per router built:
//! it formats the event and sends it into a bounded broadcast without waiting, so no SSE
//! client can slow a call or a transition. It sees the events from the moment the router is
//! built; `last_transition` is `null` until the component's first transition after that.
//! The SSE stream and its tick need the tokio runtime axum serves on, with its time driver.

mod admin;
mod duration;
mod feed;
mod json;
mod routes;
mod sse;
mod state;

use std::ops::Deref;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;

pub use admin::{admin, AdminAuth};
use feed::Feed;
use state::{Clients, Inner, Ops};

use crate::GlobalCircuitBreaker;

/// The read-only routes with the default limits, serving `registry` (an `Arc`, or the
/// `&'static` of [`crate::registry`]). Merge or nest it into your app's router; it carries
/// its own state.
pub fn router<R>(registry: R) -> Router
where
    R: Deref<Target = GlobalCircuitBreaker> + Send + Sync + 'static,
{
    builder(registry).build()
}

/// The read-only routes, with limits to set before [`build`](RouterBuilder::build).
pub fn builder<R>(registry: R) -> RouterBuilder
where
    R: Deref<Target = GlobalCircuitBreaker> + Send + Sync + 'static,
{
    RouterBuilder {
        registry: Arc::new(registry),
        critical: None,
        sse_clients: 16,
        sse_queue: 256,
        recent_events: 100,
    }
}

/// Sets up the read-only router: which components make `/health` degraded, and the bounds
/// of the event streams.
pub struct RouterBuilder {
    registry: state::Registry,
    critical: Option<Vec<String>>,
    sse_clients: usize,
    sse_queue: usize,
    recent_events: usize,
}

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("critical", &self.critical)
            .field("sse_clients", &self.sse_clients)
            .field("sse_queue", &self.sse_queue)
            .field("recent_events", &self.recent_events)
            .finish_non_exhaustive()
    }
}

impl RouterBuilder {
    /// `GET /health` answers `503 degraded` while any of these components is `open` or
    /// `forced_open` (a name not registered counts as up). Default: the global fuse alone.
    pub fn health_critical<I, S>(mut self, components: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.critical = Some(components.into_iter().map(Into::into).collect());
        self
    }

    /// At most `clients` SSE streams at once (default 16); the next gets `503`.
    pub fn sse_clients(mut self, clients: usize) -> Self {
        self.sse_clients = clients;
        self
    }

    /// Events a stream may fall behind by before it is dropped (default 256, at least 1).
    pub fn sse_queue(mut self, events: usize) -> Self {
        self.sse_queue = events.max(1);
        self
    }

    /// Transitions and reloads `GET /events/recent` keeps (default 100).
    pub fn recent_events(mut self, events: usize) -> Self {
        self.recent_events = events;
        self
    }

    /// The router, with its event hook registered on the registry.
    pub fn build(self) -> Router {
        let feed = Arc::new(Feed::new(
            Arc::clone(self.registry.clock()),
            self.sse_queue,
            self.recent_events,
        ));
        let hook = Arc::clone(&feed);
        self.registry.on_event(move |event| hook.push(event));
        let ops = Ops(Arc::new(Inner {
            registry: self.registry,
            feed,
            critical: self.critical,
            clients: Clients {
                cap: self.sse_clients,
                ..Clients::default()
            },
            recent: self.recent_events,
        }));
        Router::new()
            .route("/", get(routes::dashboard))
            .route("/events", get(sse::events))
            .route("/events/recent", get(routes::recent))
            .route("/breakers", get(routes::breakers))
            .route("/breakers/{name}", get(routes::breaker))
            .route("/health", get(routes::health))
            .route("/metrics", get(routes::prometheus))
            .with_state(ops)
    }
}
