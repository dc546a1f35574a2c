//! What the macros' generated code calls. Not a public API: names and signatures may change
//! in any release.

use std::future::Future;

pub use crate::{
    CallGuard, CircuitConfig, CircuitError, ComponentHandle, GlobalCircuitBreaker, Outcome,
};

/// The value a protected function returns, seen as success or failure.
#[diagnostic::on_unimplemented(
    message = "#[circuit_breaker] cannot classify a return value of type `{Self}`",
    label = "this function must return `Result<T, E>`",
    note = "the breaker records `Ok` as a success and `Err` as a failure, and returns `Err(CircuitError.into())` when it refuses the call"
)]
pub trait Classify {
    /// The error type.
    type Error;
    /// The error, if the call failed.
    fn error(&self) -> Option<&Self::Error>;
}

impl<T, E> Classify for Result<T, E> {
    type Error = E;

    #[inline]
    fn error(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

/// Builds the value a refused call returns.
#[diagnostic::on_unimplemented(
    message = "#[circuit_breaker] cannot protect a function returning `{Self}`",
    label = "this function must return `Result<T, E>` with `E: From<breaker::CircuitError>`",
    note = "the breaker records `Ok` as a success and `Err` as a failure, and a refused call returns `Err(CircuitError.into())` (or calls `fallback = path`)"
)]
pub trait Reject: Classify {
    /// `Err(error.into())`.
    fn rejected(error: CircuitError) -> Self;
}

impl<T, E: From<CircuitError>> Reject for Result<T, E> {
    #[inline]
    fn rejected(error: CircuitError) -> Self {
        Err(E::from(error))
    }
}

/// Runs the sync body as an `FnOnce`, so it may return borrows of `&mut` arguments and move
/// out of its captures.
#[inline(always)]
pub fn call_once<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

/// Pins the async body's output type before its `?` and `return`s are checked.
#[inline(always)]
pub fn typed_future<R, F: Future<Output = R>>(f: F) -> F {
    f
}

/// Acquires from a manifest handle in the process-wide registry.
#[inline]
pub fn acquire(handle: &'static ComponentHandle) -> Result<CallGuard<'static>, CircuitError> {
    handle.breaker().acquire().into_result()
}

/// Acquires from a manifest handle's component in another registry.
#[inline]
pub fn acquire_in(
    registry: &GlobalCircuitBreaker,
    handle: &ComponentHandle,
) -> Result<CallGuard<'static>, CircuitError> {
    handle.in_registry(registry).acquire_owned().into_result()
}

/// The error of a protected call's value (functions with a `fallback`).
#[inline]
pub fn error_of<R: Classify>(out: &R) -> Option<&R::Error> {
    out.error()
}

/// The error of a protected call's value, which must also be rejectable (functions without
/// a `fallback`): one trait bound, so a wrong return type gets one error.
#[inline]
pub fn error_of_rejectable<R: Reject>(out: &R) -> Option<&R::Error> {
    out.error()
}
