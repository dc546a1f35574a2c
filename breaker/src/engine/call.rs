//! Helpers that acquire, run and record in one call, classifying `Ok` as a success and `Err`
//! as a failure.

use std::future::Future;

use crate::engine::guard::{Breaker, Permit};
use crate::{CallError, ComponentBreaker, GlobalCircuitBreaker};

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
    /// # Ok::<(), breaker::RegistryError>(())
    /// ```
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

impl GlobalCircuitBreaker {
    /// [`ComponentBreaker::call`] by component name.
    pub fn call<T, E>(
        &self,
        component: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, CallError<E>> {
        run(self.acquire(component), f)
    }

    /// [`ComponentBreaker::run_protected`] by component name.
    pub async fn run_protected<T, E>(
        &self,
        component: &str,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, CallError<E>> {
        run_async(self.acquire(component), fut).await
    }
}

fn run<T, E>(permit: Permit<'_>, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
    let guard = permit.into_result().map_err(CallError::Rejected)?;
    let out = f();
    guard.record_result(&out);
    out.map_err(CallError::Inner)
}

async fn run_async<T, E>(
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
