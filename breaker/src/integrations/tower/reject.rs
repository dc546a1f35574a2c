//! [`Reject`]: what a refused request turns into, as an error or as an HTTP response.

use std::fmt;
use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderValue, Response, StatusCode};

use crate::{CallError, CircuitError};

/// What the service answers when the breaker refuses a request, and so its error type.
pub trait Reject<T, E> {
    /// The wrapped service's error type.
    type Error;

    /// The answer to a refused request (the inner service is not called).
    fn reject(&self, error: CircuitError) -> Result<T, Self::Error>;

    /// The inner service's own error, as [`Error`](Self::Error).
    fn inner_error(error: E) -> Self::Error;
}

/// The default: a refusal is [`CallError::Rejected`], the inner service's errors are
/// [`CallError::Inner`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RejectAsError;

impl<T, E> Reject<T, E> for RejectAsError {
    type Error = CallError<E>;

    fn reject(&self, error: CircuitError) -> Result<T, CallError<E>> {
        Err(CallError::Rejected(error))
    }

    fn inner_error(error: E) -> CallError<E> {
        CallError::Inner(error)
    }
}

/// For HTTP services: a refusal is answered by [`service_unavailable`], and the error type
/// stays the inner service's (so an axum route keeps `Infallible`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceUnavailable;

impl<B: Default, E> Reject<Response<B>, E> for ServiceUnavailable {
    type Error = E;

    fn reject(&self, error: CircuitError) -> Result<Response<B>, E> {
        Ok(service_unavailable(&error))
    }

    fn inner_error(error: E) -> E {
        error
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

/// `503 Service Unavailable` with an empty body, `Retry-After` in whole seconds (rounded up)
/// when [`CircuitError::retry_after`] knows, and the error itself in the response extensions
/// for outer layers to log.
pub fn service_unavailable<B: Default>(error: &CircuitError) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    if let Some(wait) = error.retry_after() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds_up(wait)));
    }
    response.extensions_mut().insert(error.clone());
    response
}

/// Rounded up: a client told `Retry-After: 0` with 300 ms of cooldown left would be refused.
fn seconds_up(wait: Duration) -> u64 {
    wait.as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
}
