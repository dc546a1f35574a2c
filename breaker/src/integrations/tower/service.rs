//! [`CircuitBreaker`]: the service the layer wraps around another.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_service::Service;

use super::future::Timer;
use super::key::{RequestKey, Unkeyed};
use super::{Classify, Negotiate, Reject, RejectAsError, ResponseFuture, ServerErrorsAsFailures};
use crate::{ComponentBreaker, ComponentHandle, Family, FamilyHandle, Permit};

/// Calls the inner service only when the component's breaker lets the request through, and
/// records how the call went. Built by [`CircuitBreakerLayer`](super::CircuitBreakerLayer).
#[derive(Clone)]
pub struct CircuitBreaker<S, C = ServerErrorsAsFailures, R = RejectAsError, K = Unkeyed> {
    inner: S,
    target: Target,
    classify: C,
    reject: R,
    key: K,
    timeout: Option<Duration>,
}

impl<S, C, R, K> CircuitBreaker<S, C, R, K> {
    pub(crate) fn new(
        inner: S,
        target: Target,
        classify: C,
        reject: R,
        key: K,
        timeout: Option<Duration>,
    ) -> Self {
        Self {
            inner,
            target,
            classify,
            reject,
            key,
            timeout,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, by value.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, R, K, Req, T, E> Service<Req> for CircuitBreaker<S, C, R, K>
where
    S: Service<Req, Response = T, Error = E>,
    C: Classify<T, E> + Clone,
    R: Reject<T, E> + Negotiate<Req>,
    K: RequestKey<Req>,
{
    type Response = T;
    type Error = R::Error;
    type Future = ResponseFuture<S::Future, C, R>;

    /// The inner service's readiness: the breaker never makes a caller wait, it refuses.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(R::inner_error)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // Admission happens here, not in `poll_ready`: a permit taken there would hold a
        // half-open slot for a request that may never be sent.
        let permit = self
            .target
            .acquire(self.key.key(&request).as_deref().unwrap_or_default());
        match permit {
            Permit::Allowed(guard) => {
                // Negotiated only for a timed call: an untimed one never answers for the layer.
                let timer = self
                    .timeout
                    .map(|after| Timer::new(&guard, after, self.reject.negotiate(&request)));
                let future = self.inner.call(request);
                ResponseFuture::called(future, guard, self.classify.clone(), timer)
            }
            Permit::Rejected(error) => {
                ResponseFuture::rejected(error, self.reject.negotiate(&request))
            }
        }
    }
}

impl<S: fmt::Debug, C, R, K> fmt::Debug for CircuitBreaker<S, C, R, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("component", &self.target.name())
            .finish_non_exhaustive()
    }
}

/// The breaker a layer guards with.
#[derive(Clone)]
pub(crate) enum Target {
    /// Resolved on each call, so building the layer does not create the process-wide
    /// registry (which would make a later [`install`](crate::install) fail).
    Handle(&'static ComponentHandle),
    Shared(Arc<ComponentBreaker>),
    /// A keyed family: the request's key picks the breaker.
    Family(Arc<Family>),
    /// A `breakers!` family, resolved on each call like `Handle`.
    FamilyHandle(&'static FamilyHandle),
}

impl Target {
    /// `key` is ignored by a plain component's target.
    #[inline]
    fn acquire(&self, key: &str) -> Permit<'static> {
        match self {
            Self::Handle(handle) => handle.breaker().acquire(),
            Self::Shared(breaker) => breaker.acquire_owned(),
            Self::Family(family) => family.acquire(key),
            Self::FamilyHandle(handle) => handle.family().acquire(key),
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Self::Handle(handle) => handle.name(),
            Self::Shared(breaker) => breaker.name(),
            Self::Family(family) => family.name(),
            Self::FamilyHandle(handle) => handle.name(),
        }
    }
}
