//! A read-only axum [`Router`] for operators: `GET /breakers` (the [`RegistrySnapshot`] as
//! JSON) and `GET /metrics` (the [Prometheus export](crate::metrics)). It has no route that
//! changes a breaker; any other method is answered `405 Method Not Allowed`.
//!
//! ```
//! use std::sync::Arc;
//! use breaker::{CircuitConfig, GlobalCircuitBreaker};
//!
//! let breakers = Arc::new(GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?);
//! let admin: axum::Router = axum::Router::new().nest("/admin", breaker::http::router(breakers));
//! // Or for the process-wide registry: `breaker::http::router(breaker::registry())`.
//! # let _ = admin;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ops::Deref;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::HeaderMap;

use crate::{metrics, GlobalCircuitBreaker, RegistrySnapshot};

/// The routes, serving `registry` (an `Arc`, or the `&'static` of [`crate::registry`]).
/// Merge or nest it into your app's router; it carries its own state.
pub fn router<R>(registry: R) -> Router
where
    R: Deref<Target = GlobalCircuitBreaker> + Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/breakers", get(breakers::<R>))
        .route("/metrics", get(prometheus::<R>))
        .with_state(registry)
}

async fn breakers<R: Deref<Target = GlobalCircuitBreaker>>(
    State(registry): State<R>,
) -> Json<RegistrySnapshot> {
    Json(registry.snapshot())
}

/// Both formats, by the scraper's `Accept` ([`metrics::Format::from_accept`]).
async fn prometheus<R: Deref<Target = GlobalCircuitBreaker>>(
    State(registry): State<R>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = metrics::Format::from_accept(accept);
    (
        [(CONTENT_TYPE, format.content_type())],
        metrics::encode(&registry, format),
    )
}
