//! The admin router: `POST /breakers/{name}/force-open`, `/disable` and `/reset`, behind a
//! bearer token. Separate from the read-only router, so it exists only where it is mounted.
//!
//! Every request is checked before routing: without `Authorization: Bearer <token>`, or with
//! another token, it is answered `401` (with `WWW-Authenticate: Bearer`, the same for a
//! missing and a wrong token, so a prober learns nothing). The token is compared in constant
//! time. A request with a body is refused `413` (the actions take none); another method is
//! `405`, another path `404`, an unknown component `404` JSON. Every change is logged
//! (`tracing`, target `breaker`, `warn`) with the token's label, the remote address when the
//! server provides `ConnectInfo<SocketAddr>`, the component and the states before and after.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, WWW_AUTHENTICATE};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::routes::unknown;
use crate::{ComponentBreaker, GlobalCircuitBreaker, GLOBAL};

/// The credential the admin router requires.
#[derive(Clone)]
pub struct AdminAuth {
    token: Arc<[u8]>,
    label: Arc<str>,
}

impl AdminAuth {
    /// Requests must carry `Authorization: Bearer <token>`. An empty token matches nothing.
    /// The label in the logs is `"bearer"` until [`label`](Self::label) names it.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self {
            token: token.into().into_bytes().into(),
            label: Arc::from("bearer"),
        }
    }

    /// The name the logs give whoever holds this token (`"oncall"`, `"deploy-bot"`).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Arc::from(label.into());
        self
    }

    /// Whether `header` is this credential.
    fn admits(&self, header: Option<&[u8]>) -> bool {
        let given = header
            .and_then(|h| h.strip_prefix(b"Bearer "))
            .unwrap_or(b"");
        same(&self.token, given)
    }
}

/// The token is never printed.
impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminAuth")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Equal, in time that depends on `expected`'s length only: every byte is folded in, with no
/// early return on the first difference.
fn same(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(0);
    }
    diff == 0 && !expected.is_empty()
}

#[derive(Clone)]
struct Admin {
    registry: super::state::Registry,
    auth: AdminAuth,
}

/// The admin routes for `registry`, refusing every request without `auth`'s credential.
pub fn admin<R>(registry: R, auth: AdminAuth) -> Router
where
    R: Deref<Target = GlobalCircuitBreaker> + Send + Sync + 'static,
{
    let state = Admin {
        registry: Arc::new(registry),
        auth,
    };
    Router::new()
        .route("/breakers/{name}/force-open", post(force_open))
        .route("/breakers/{name}/disable", post(disable))
        .route("/breakers/{name}/reset", post(reset))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

fn remote(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

async fn authenticate(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let header = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    if !admin.auth.admits(header) {
        tracing::warn!(
            target: "breaker",
            remote = ?remote(&request),
            method = %request.method(),
            path = %request.uri().path(),
            credential = if header.is_some() { "wrong" } else { "missing" },
            "breaker admin request refused"
        );
        let body = serde_json::json!({ "error": "unauthorized" });
        return (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, "Bearer realm=\"breaker-admin\"")],
            Json(body),
        )
            .into_response();
    }
    let has_body = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|n| n.trim() != "0");
    if has_body {
        let body = serde_json::json!({ "error": "body_not_accepted" });
        return (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response();
    }
    next.run(request).await
}

async fn force_open(state: State<Admin>, name: Path<String>, request: Request) -> Response {
    act(
        state,
        name,
        request,
        "force_open",
        ComponentBreaker::force_open,
    )
}

async fn disable(state: State<Admin>, name: Path<String>, request: Request) -> Response {
    act(state, name, request, "disable", ComponentBreaker::disable)
}

async fn reset(state: State<Admin>, name: Path<String>, request: Request) -> Response {
    act(state, name, request, "reset", ComponentBreaker::reset)
}

fn act(
    State(admin): State<Admin>,
    Path(name): Path<String>,
    request: Request,
    action: &'static str,
    apply: fn(&ComponentBreaker),
) -> Response {
    let registry: &GlobalCircuitBreaker = &admin.registry;
    let found = if name == GLOBAL {
        None
    } else {
        registry.component(&name)
    };
    let breaker: &ComponentBreaker = match &found {
        Some(b) => b,
        None if name == GLOBAL => registry.global(),
        None => return unknown(&name),
    };
    let before = breaker.state();
    apply(breaker);
    let after = breaker.state();
    tracing::warn!(
        target: "breaker",
        by = %admin.auth.label,
        remote = ?remote(&request),
        component = %name,
        action,
        from = before.as_str(),
        to = after.as_str(),
        "breaker changed by an operator"
    );
    let body = serde_json::json!({
        "component": name,
        "action": action,
        "from": before,
        "state": after,
    });
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3cre"));
        assert!(!same(b"s3cret", b"s3cret!"));
        assert!(!same(b"s3cret", b"S3cret"));
        assert!(!same(b"s3cret", b""));
        assert!(!same(b"", b""), "an empty token admits nobody");
    }
}
