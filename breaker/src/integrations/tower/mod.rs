//! A tower [`Layer`] that guards a service with one component's breaker.
//!
//! Each request is admitted (or refused) when it is called; the admitted call's guard travels
//! in the [`ResponseFuture`] and records the outcome when the response arrives, as a
//! [`Classify`] judges it (default [`ServerErrorsAsFailures`]: `Err` and `5xx` fail). What a
//! refused request becomes is a [`Reject`] policy: [`CallError::Rejected`](crate::CallError)
//! (the default), or for HTTP `503 Service Unavailable` with `Retry-After` and a small JSON or
//! text body ([`http`](CircuitBreakerLayer::http)).
//!
//! The outcome is recorded when the response *head* is ready, so a slow body does not make a
//! slow call. Cost per request: the breaker's [`acquire`](ComponentBreaker::acquire) plus, for
//! a breaker shared by `Arc`, one reference-count increment.
//!
//! ```
//! use breaker::layer::{CircuitBreakerLayer, ErrorsAsFailures};
//! use breaker::{CircuitConfig, GlobalCircuitBreaker, Outcome};
//!
//! let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?;
//! // An axum route or hyper service: 503 + Retry-After while the breaker is open.
//! let http = CircuitBreakerLayer::for_component(&registry, "quotes")?.http();
//! // Any other service: `Err` fails, refusals are `CallError::Rejected`.
//! let grpc = CircuitBreakerLayer::for_component(&registry, "ledger")?.classify(ErrorsAsFailures);
//! // Your own rules: a 404 is neither success nor failure.
//! let custom = CircuitBreakerLayer::for_component(&registry, "search")?.classify(
//!     |r: &Result<http::Response<()>, std::io::Error>| match r {
//!         Ok(res) if res.status() == 404 => Outcome::Ignored,
//!         Ok(res) if res.status().is_server_error() => Outcome::Failure,
//!         Ok(_) => Outcome::Success,
//!         Err(_) => Outcome::Failure,
//!     },
//! );
//! # let _ = (http, grpc, custom);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod classify;
mod future;
mod key;
mod reject;
mod service;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

pub use classify::{Classify, ErrorsAsFailures, ServerErrorsAsFailures};
pub use future::ResponseFuture;
pub use key::{Authority, Header, KeyFn, RequestKey, Unkeyed};
pub use reject::{
    service_unavailable, Format, Negotiate, RefusalBody, Reject, RejectAsError, RespondWith,
    ServiceUnavailable,
};
pub use service::CircuitBreaker;
use service::Target;

use std::borrow::Cow;

use crate::{
    CircuitError, ComponentBreaker, ComponentHandle, FamilyConfig, FamilyHandle,
    GlobalCircuitBreaker, RegistryError,
};

/// Wraps services in a [`CircuitBreaker`] for one component, or for a keyed family (a breaker
/// per upstream host, tenant or route, picked from each request). `C` classifies responses,
/// `R` answers refusals, `K` picks a family's key ([`Unkeyed`] for a component).
#[derive(Clone)]
pub struct CircuitBreakerLayer<C = ServerErrorsAsFailures, R = RejectAsError, K = Unkeyed> {
    target: Target,
    classify: C,
    reject: R,
    key: K,
    timeout: Option<Duration>,
}

impl CircuitBreakerLayer {
    /// Guards with `breaker` (from [`GlobalCircuitBreaker::register`], or standalone).
    pub fn new(breaker: Arc<ComponentBreaker>) -> Self {
        Self::with_target(Target::Shared(breaker))
    }

    /// Guards with a `breakers!` component in the process-wide registry, resolved at the first
    /// request so the layer can be built before [`install`](crate::install).
    pub fn for_handle(handle: &'static ComponentHandle) -> Self {
        Self::with_target(Target::Handle(handle))
    }

    /// Guards with `registry`'s component `name`, registered with the defaults if it is new.
    pub fn for_component(
        registry: &GlobalCircuitBreaker,
        name: &str,
    ) -> Result<Self, RegistryError> {
        registry.register(name).map(Self::new)
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            classify: ServerErrorsAsFailures,
            reject: RejectAsError,
            key: Unkeyed,
            timeout: None,
        }
    }
}

impl CircuitBreakerLayer<ServerErrorsAsFailures, RejectAsError, Unkeyed> {
    /// Guards with `registry`'s keyed family `name` (registered with the default
    /// [`FamilyConfig`] if it is new), the key of each request picked by `key`:
    ///
    /// - for a client, the upstream's authority: `|req: &http::Request<B>|
    ///   Cow::Borrowed(req.uri().authority().map_or("", |a| a.as_str()))`, or
    ///   [`for_family_by`](Self::for_family_by) with [`Authority`];
    /// - for a server, a route or a tenant header: [`Header`]`(HeaderName::from_static("x-tenant-id"))`.
    ///
    /// Keys are untrusted input: longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) bytes is
    /// refused ([`CircuitError::InvalidKey`]), and a family full of live keys serves new ones
    /// with its overflow breaker.
    pub fn for_family<Req, F>(
        registry: &GlobalCircuitBreaker,
        name: &str,
        key: F,
    ) -> Result<CircuitBreakerLayer<ServerErrorsAsFailures, RejectAsError, KeyFn<F>>, RegistryError>
    where
        F: Fn(&Req) -> Cow<'_, str>,
    {
        Self::for_family_by(registry, name, KeyFn(key))
    }

    /// [`for_family`](Self::for_family) with a [`RequestKey`] picker ([`Authority`],
    /// [`Header`], your own).
    pub fn for_family_by<K>(
        registry: &GlobalCircuitBreaker,
        name: &str,
        key: K,
    ) -> Result<CircuitBreakerLayer<ServerErrorsAsFailures, RejectAsError, K>, RegistryError> {
        let family = registry.register_family(name, FamilyConfig::DEFAULT)?;
        Ok(Self::with_target(Target::Family(family)).key_by(key))
    }

    /// Guards with a `breakers!` family in the process-wide registry, resolved at the first
    /// request (like [`for_handle`](Self::for_handle)); `key` as for
    /// [`for_family`](Self::for_family).
    pub fn for_family_handle<Req, F>(
        handle: &'static FamilyHandle,
        key: F,
    ) -> CircuitBreakerLayer<ServerErrorsAsFailures, RejectAsError, KeyFn<F>>
    where
        F: Fn(&Req) -> Cow<'_, str>,
    {
        Self::with_target(Target::FamilyHandle(handle)).key_by(KeyFn(key))
    }
}

impl<C, R, K> CircuitBreakerLayer<C, R, K> {
    /// Classifies responses with `classify` (a [`Classify`] or a closure).
    pub fn classify<C2>(self, classify: C2) -> CircuitBreakerLayer<C2, R, K> {
        CircuitBreakerLayer {
            target: self.target,
            classify,
            reject: self.reject,
            key: self.key,
            timeout: self.timeout,
        }
    }

    /// Cuts off a call whose response is not ready `after` its admission, on the breaker's
    /// [`Clock`](crate::Clock) (a [`FakeClock`](crate::FakeClock) in tests; the real clock's
    /// timer is tokio's, feature `tokio`): the inner future is dropped, the call recorded as a
    /// failure (and as slow, when `after` is at least `slow_call_threshold`), so a half-open
    /// probe's slot comes back, and the answer is the refusal policy's for
    /// [`CircuitError::Timeout`]: `Err(CallError::Rejected(CircuitError::Timeout { .. }))` by
    /// default, `504 Gateway Timeout` (no `Retry-After`) with [`http`](Self::http), the
    /// function's response with [`respond_with`](Self::respond_with).
    ///
    /// The deadline starts at admission; a response head ready in the poll the deadline
    /// passes still counts. Untimed calls pay nothing for it; a timed one allocates its timer.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// Answers refusals with `reject`.
    pub fn reject_with<R2>(self, reject: R2) -> CircuitBreakerLayer<C, R2, K> {
        CircuitBreakerLayer {
            target: self.target,
            classify: self.classify,
            reject,
            key: self.key,
            timeout: self.timeout,
        }
    }

    /// Picks a keyed family's key with `key` (a [`RequestKey`]).
    fn key_by<K2>(self, key: K2) -> CircuitBreakerLayer<C, R, K2> {
        CircuitBreakerLayer {
            target: self.target,
            classify: self.classify,
            reject: self.reject,
            key,
            timeout: self.timeout,
        }
    }

    /// Answers refusals with [`service_unavailable`]: `503`, `Retry-After`, and a small body
    /// in JSON or text as the request's `Accept` asks (the requests are `http::Request`s).
    pub fn http(self) -> CircuitBreakerLayer<C, ServiceUnavailable, K> {
        self.reject_with(ServiceUnavailable::default())
    }

    /// Answers refusals with the response `respond` makes from the [`CircuitError`].
    pub fn respond_with<F, B>(self, respond: F) -> CircuitBreakerLayer<C, RespondWith<F>, K>
    where
        F: Fn(&CircuitError) -> http::Response<B>,
    {
        self.reject_with(RespondWith(respond))
    }
}

impl<S, C: Clone, R: Clone, K: Clone> Layer<S> for CircuitBreakerLayer<C, R, K> {
    type Service = CircuitBreaker<S, C, R, K>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker::new(
            inner,
            self.target.clone(),
            self.classify.clone(),
            self.reject.clone(),
            self.key.clone(),
            self.timeout,
        )
    }
}

impl<C, R, K> fmt::Debug for CircuitBreakerLayer<C, R, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("component", &self.target.name())
            .field("classify", &std::any::type_name::<C>())
            .field("reject", &std::any::type_name::<R>())
            .field("timeout", &self.timeout)
            .finish()
    }
}
