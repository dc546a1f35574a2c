#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]
// docs.rs builds with `--cfg docsrs`: each feature-gated item says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod engine;
#[cfg(feature = "fleet")]
#[cfg_attr(docsrs, doc(cfg(feature = "fleet")))]
pub mod fleet;
mod integrations;
mod macro_support;
mod names;
mod observe;
mod registry;

/// What the macros' generated code calls; not a public API.
#[doc(hidden)]
pub use macro_support::private as __private;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
#[doc(inline)]
pub use integrations::http;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
#[doc(inline)]
pub use integrations::tower as layer;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
#[doc(inline)]
pub use observe::metrics;
#[cfg(feature = "metrics-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics-rs")))]
#[doc(inline)]
pub use observe::metrics_rs;

pub use config::{
    CircuitConfig, ConfigError, ConfigLayer, ConfigValue, FamilyConfig, FileError, FileReport,
    FleetConfig, FleetConfigError, GlobalTripConditions, SampleWeighting, Violation, MAX_DURATION,
    MAX_FAMILY_KEYS,
};
#[cfg(feature = "watch")]
#[cfg_attr(docsrs, doc(cfg(feature = "watch")))]
pub use config::{ConfigWatcher, WatchOptions};
pub use engine::{
    BuildError, CallError, CallGuard, CircuitError, CircuitState, Clock, CoarseClock,
    ComponentBreaker, Exponential, FakeClock, Outcome, Permit, Recorded, Sleep, Sliding,
    SystemClock, Transition, TransitionReason, WindowStats, WindowStrategy,
};
pub use macro_support::docs::{breakers, circuit_breaker};
pub use names::{ComponentName, GLOBAL};
pub use observe::{
    ComponentSnapshot, FamilySnapshot, FleetStatus, MetricKind, MetricsReport, RegistrySnapshot,
    Rejections, Series, TransitionCount,
};
pub use registry::{
    install, registry, AlreadyInstalled, Breaker, ComponentHandle, Event, Family, FamilyHandle,
    FleetEvent, GlobalCircuitBreaker, IntoKey, KeyError, KeyRef, RegistryBuilder, RegistryError,
    EVICTION_BUDGET, MAX_KEY_LEN, OVERFLOW_KEY,
};
#[cfg(feature = "watch")]
#[cfg_attr(docsrs, doc(cfg(feature = "watch")))]
pub use registry::{watch, watch_with};
