//! [`Classify`]: how a response counts toward the breaker.

use crate::Outcome;

/// Decides how a finished call counts: a success, a failure, or neither
/// ([`Outcome::Ignored`]). Closures `Fn(&Result<T, E>) -> Outcome` are classifiers too.
pub trait Classify<T, E> {
    /// The outcome of one call.
    fn classify(&self, result: &Result<T, E>) -> Outcome;
}

impl<F, T, E> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// The default for HTTP services: `Err` and `5xx` responses are failures, every other
/// response (`4xx` included: the caller's fault, not the dependency's) a success.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerErrorsAsFailures;

impl<B, E> Classify<http::Response<B>, E> for ServerErrorsAsFailures {
    fn classify(&self, result: &Result<http::Response<B>, E>) -> Outcome {
        match result {
            Ok(response) if !response.status().is_server_error() => Outcome::Success,
            _ => Outcome::Failure,
        }
    }
}

/// For any service: `Ok` is a success, `Err` a failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsAsFailures;

impl<T, E> Classify<T, E> for ErrorsAsFailures {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}
