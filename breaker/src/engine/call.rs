//! Helpers that acquire, run and record in one call, classifying `Ok` as a success and `Err`
//! as a failure.

use std::future::Future;

use super::error::CallError;
use super::guard::Permit;
use super::ComponentBreaker;

impl ComponentBreaker {
    /// Runs `f` if the breaker lets it through and records its result. A panic in `f` is
    /// recorded as a failure and then propagates.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use breaker::{CircuitConfig, ComponentBreaker, SystemClock};
    /// let breaker = ComponentBreaker::new("db", CircuitConfig::DEFAULT, Arc::new(SystemClock))?;
    /// let rows: Result<u32, _> = breaker.call(|| Ok::<_, std::io::Error>(42));
    /// assert_eq!(rows.ok(), Some(42));
    /// # Ok::<(), breaker::BuildError>(())
    /// ```
    #[inline]
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        run(self.acquire(), f)
    }

    /// Awaits `fut` if the breaker lets it through and records its result. A panic in `fut`
    /// is recorded as a failure and then propagates, wherever it is caught. If the returned
    /// future is dropped before it finishes, the call counts as cancelled (see
    /// [`CallGuard`](crate::CallGuard)).
    pub async fn run_protected<T, E>(
        &self,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, CallError<E>> {
        run_async(self.acquire(), fut).await
    }
}

/// Runs `f` if `permit` lets it, and records its result (for the registry's by-name versions
/// too).
#[inline(always)]
pub(crate) fn run<T, E>(
    permit: Permit<'_>,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, CallError<E>> {
    let guard = permit.into_result().map_err(CallError::Rejected)?;
    let out = f();
    guard.record_result(&out);
    out.map_err(CallError::Inner)
}

/// [`run`] for a future.
pub(crate) async fn run_async<T, E>(
    permit: Permit<'_>,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, CallError<E>> {
    let guard = permit.into_result().map_err(CallError::Rejected)?;
    // A panic in `fut` unwinds through this `async fn`'s `poll`, which drops `guard` while
    // unwinding: a failure, even under a `catch_unwind` that keeps this future alive.
    let out = fut.await;
    guard.record_result(&out);
    out.map_err(CallError::Inner)
}
