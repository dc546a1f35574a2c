//! [`Reject`]: what a refused request turns into, as an error or as an HTTP response.

use std::fmt;
use std::time::Duration;

use http::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};

use crate::{CallError, CircuitError};

/// What the service answers when the breaker refuses a request, and so its error type.
pub trait Reject<T, E> {
    /// The wrapped service's error type.
    type Error;

    /// The answer to a refused request (the inner service is not called), and to one the
    /// layer's [`timeout`](super::CircuitBreakerLayer::timeout) cut off
    /// ([`CircuitError::Timeout`]).
    fn reject(&self, error: CircuitError) -> Result<T, Self::Error>;

    /// The inner service's own error, as [`Error`](Self::Error).
    fn inner_error(error: E) -> Self::Error;
}

/// What a [`Reject`] policy reads from a request before refusing it (HTTP: the `Accept`
/// header). Called only for a refused request, so admitted ones pay nothing for it.
pub trait Negotiate<Req> {
    /// The policy that answers `request`.
    fn negotiate(&self, request: &Req) -> Self;
}

/// The default: a refusal is [`CallError::Rejected`], the inner service's errors are
/// [`CallError::Inner`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RejectAsError;

impl<Req> Negotiate<Req> for RejectAsError {
    fn negotiate(&self, _: &Req) -> Self {
        *self
    }
}

impl<T, E> Reject<T, E> for RejectAsError {
    type Error = CallError<E>;

    fn reject(&self, error: CircuitError) -> Result<T, CallError<E>> {
        Err(CallError::Rejected(error))
    }

    fn inner_error(error: E) -> CallError<E> {
        CallError::Inner(error)
    }
}

/// For HTTP services: a refusal is answered by [`service_unavailable`], in JSON or text as
/// the request's `Accept` asks, and the error type stays the inner service's (so an axum
/// route keeps `Infallible`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceUnavailable {
    format: Format,
}

impl<B: RefusalBody, E> Reject<Response<B>, E> for ServiceUnavailable {
    type Error = E;

    fn reject(&self, error: CircuitError) -> Result<Response<B>, E> {
        Ok(service_unavailable(&error, self.format))
    }

    fn inner_error(error: E) -> E {
        error
    }
}

impl<B> Negotiate<Request<B>> for ServiceUnavailable {
    fn negotiate(&self, request: &Request<B>) -> Self {
        Self {
            format: Format::accepted(request.headers()),
        }
    }
}

/// For HTTP services: a refusal is answered by a function of the [`CircuitError`].
#[derive(Clone, Copy)]
pub struct RespondWith<F>(pub(crate) F);

impl<F> fmt::Debug for RespondWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RespondWith")
            .field(&std::any::type_name::<F>())
            .finish()
    }
}

impl<F: Clone, Req> Negotiate<Req> for RespondWith<F> {
    fn negotiate(&self, _: &Req) -> Self {
        self.clone()
    }
}

impl<F, B, E> Reject<Response<B>, E> for RespondWith<F>
where
    F: Fn(&CircuitError) -> Response<B>,
{
    type Error = E;

    fn reject(&self, error: CircuitError) -> Result<Response<B>, E> {
        Ok((self.0)(&error))
    }

    fn inner_error(error: E) -> E {
        error
    }
}

/// The body of a refusal: JSON or text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `text/plain`: the error's message.
    #[default]
    Text,
    /// `application/json`: `{"error":"circuit_open","reason":..,"component":..,"retry_after_ms":..}`.
    Json,
}

impl Format {
    /// JSON when `Accept` lists `application/json`, a `+json` type or `application/*` (with a
    /// non-zero `q`); text otherwise, for `*/*` and without `Accept` too (a person with
    /// `curl` reads the text; a client that parses JSON asks for it).
    pub fn accepted(headers: &HeaderMap) -> Self {
        let json = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or("").to_ascii_lowercase();
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                !refused
                    && (media == "application/json"
                        || media == "application/*"
                        || (media.starts_with("application/") && media.ends_with("+json")))
            });
        if json {
            Self::Json
        } else {
            Self::Text
        }
    }
}

/// A response body a refusal can be written into. `()` stays empty (the headers still say
/// why); for another body type, answer with [`respond_with`](super::CircuitBreakerLayer::respond_with).
pub trait RefusalBody {
    /// The body holding `text`.
    fn refusal(text: String) -> Self;
}

impl RefusalBody for () {
    fn refusal(_: String) -> Self {}
}

impl RefusalBody for String {
    fn refusal(text: String) -> Self {
        text
    }
}

impl RefusalBody for Vec<u8> {
    fn refusal(text: String) -> Self {
        text.into_bytes()
    }
}

#[cfg(feature = "http")]
impl RefusalBody for axum::body::Body {
    fn refusal(text: String) -> Self {
        Self::from(text)
    }
}

/// `503 Service Unavailable` with a small body in `format`, `Retry-After` in whole seconds
/// (rounded up, at least 1; `1` for the refusals with no known wait: every probe slot taken,
/// forced open), and the error itself in the response extensions for outer layers to log.
///
/// A [`CircuitError::Timeout`] (the layer's [`timeout`](super::CircuitBreakerLayer::timeout)
/// cut the call off) is `504 Gateway Timeout` instead, without `Retry-After` (the breaker
/// did not refuse; the JSON body is `{"error":"timeout","component":..,"timeout_ms":..}`).
pub fn service_unavailable<B: RefusalBody>(error: &CircuitError, format: Format) -> Response<B> {
    if let CircuitError::Timeout { component, after } = error {
        return gateway_timeout(error, component, *after, format);
    }
    let wait = error.retry_after().unwrap_or(Duration::from_secs(1));
    let (content_type, body) = match format {
        Format::Json => {
            let body = format!(
                "{{\"error\":\"circuit_open\",\"reason\":\"{}\",\"component\":{},\"retry_after_ms\":{}}}",
                error.reason(),
                json_string(error.component()),
                wait.as_millis(),
            );
            ("application/json", body)
        }
        Format::Text => ("text/plain; charset=utf-8", format!("{error}\n")),
    };
    let mut response = Response::new(B::refusal(body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(RETRY_AFTER, HeaderValue::from(seconds_up(wait).max(1)));
    response.extensions_mut().insert(error.clone());
    response
}

/// [`service_unavailable`]'s answer to a timed-out call.
fn gateway_timeout<B: RefusalBody>(
    error: &CircuitError,
    component: &str,
    after: Duration,
    format: Format,
) -> Response<B> {
    let (content_type, body) = match format {
        Format::Json => {
            let body = format!(
                "{{\"error\":\"timeout\",\"component\":{},\"timeout_ms\":{}}}",
                json_string(component),
                after.as_millis(),
            );
            ("application/json", body)
        }
        Format::Text => ("text/plain; charset=utf-8", format!("{error}\n")),
    };
    let mut response = Response::new(B::refusal(body));
    *response.status_mut() = StatusCode::GATEWAY_TIMEOUT;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.extensions_mut().insert(error.clone());
    response
}

/// `s` as a JSON string (component names are plain ASCII, but nothing here relies on it).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 || c == '<' || c == '>' || c == '&' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Rounded up: a client told `Retry-After: 0` with 300 ms of cooldown left would be refused.
fn seconds_up(wait: Duration) -> u64 {
    wait.as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
}
