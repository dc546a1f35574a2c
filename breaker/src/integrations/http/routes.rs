//! The read-only handlers: `GET /breakers`, `/breakers/{name}`, `/events/recent`, `/health`,
//! `/metrics` and the dashboard page `GET /`.

use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::feed::RecordView;
use super::json::Owned;
use super::state::Ops;
use crate::{metrics, CircuitState};

pub(crate) async fn breakers(State(ops): State<Ops>) -> Response {
    let owned = Owned::read(ops.registry(), &ops.0.feed, true);
    Json(owned.view(ops.debug())).into_response()
}

pub(crate) async fn breaker(State(ops): State<Ops>, Path(name): Path<String>) -> Response {
    let owned = Owned::read(ops.registry(), &ops.0.feed, true);
    match owned.one(&name) {
        Some(view) => Json(view).into_response(),
        None => unknown(&name),
    }
}

/// `404` naming the component, as JSON (so the name is escaped, whatever it holds; `<`, `>`
/// and `&` too, so no browser sniffing the body finds markup in it).
pub(crate) fn unknown(name: &str) -> Response {
    let body = serde_json::json!({ "error": "unknown_component", "component": name });
    let text = body
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

#[derive(Serialize)]
struct Recent<'a> {
    events: Vec<RecordView<'a>>,
    /// Events the ring missed because a reader held it at that instant.
    missed: u64,
}

/// `?limit=N` (at most the ring's size, which is also the default).
pub(crate) async fn recent(State(ops): State<Ops>, uri: Uri) -> Response {
    let limit = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("limit="))
        .map(str::parse::<usize>);
    let limit = match limit {
        None => ops.0.recent,
        Some(Ok(n)) => n.min(ops.0.recent),
        Some(Err(_)) => {
            let body = serde_json::json!({ "error": "bad_limit" });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let records = ops.0.feed.recent(limit);
    let now = ops.0.feed.now();
    Json(Recent {
        events: records.iter().map(|r| r.view(now)).collect(),
        missed: ops.0.feed.missed.load(std::sync::atomic::Ordering::Relaxed),
    })
    .into_response()
}

/// Readiness: `503 degraded` while one of the critical components (default: the global
/// fuse) is `open` or `forced_open`; `half_open` counts as up (probes are let through).
pub(crate) async fn health(State(ops): State<Ops>) -> Response {
    let registry = ops.registry();
    let refusing =
        |state: CircuitState| matches!(state, CircuitState::Open | CircuitState::ForcedOpen);
    let open: Vec<String> = match &ops.0.critical {
        None => {
            let fuse = registry.global();
            if refusing(fuse.state()) {
                vec![fuse.name().to_string()]
            } else {
                Vec::new()
            }
        }
        Some(names) => names
            .iter()
            .filter(|name| {
                registry
                    .component(name)
                    .is_some_and(|b| refusing(b.state()))
            })
            .cloned()
            .collect(),
    };
    if open.is_empty() {
        Json(serde_json::json!({ "status": "up" })).into_response()
    } else {
        let body = serde_json::json!({ "status": "degraded", "open": open });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// Both formats, by the scraper's `Accept` ([`metrics::Format::from_accept`]).
pub(crate) async fn prometheus(State(ops): State<Ops>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = metrics::Format::from_accept(accept);
    (
        [(CONTENT_TYPE, format.content_type())],
        metrics::encode(ops.registry(), format),
    )
        .into_response()
}

/// The page, its style and script in one document: the router may be nested under any
/// prefix, so the page loads nothing by a path of its own, and nothing from elsewhere.
const PAGE: &str = concat!(
    include_str!("assets/head.html"),
    "<style>",
    include_str!("assets/dashboard.css"),
    "</style>\n<script>",
    include_str!("assets/dashboard.js"),
    "</script>\n",
    include_str!("assets/body.html"),
);

/// Nothing but this document's own inline style and script, and requests to its own origin.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

pub(crate) async fn dashboard() -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, CSP),
            (CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}
