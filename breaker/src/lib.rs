#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod config;
mod engine;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "tower")]
pub mod layer;
mod macros;
#[cfg(feature = "prometheus")]
pub mod metrics;
mod names;
mod registry;
mod snapshot;
#[cfg(feature = "watch")]
mod watch;

pub use config::{
    CircuitConfig, ConfigError, ConfigLayer, ConfigValue, FileError, FileReport,
    GlobalTripConditions, SampleWeighting, Violation, MAX_DURATION,
};
pub use engine::guard::Breaker;
pub use engine::{
    CallError, CallGuard, CircuitError, CircuitState, Clock, ComponentBreaker, Exponential,
    FakeClock, Outcome, Permit, Recorded, Sliding, SystemClock, WindowStats, WindowStrategy,
};
pub use engine::{Transition, TransitionReason};
pub use macros::{breakers, circuit_breaker};
pub use names::{ComponentName, GLOBAL};
pub use registry::{
    install, registry, AlreadyInstalled, ComponentHandle, Event, GlobalCircuitBreaker,
    RegistryBuilder, RegistryError,
};
pub use snapshot::{ComponentSnapshot, RegistrySnapshot, Rejections, TransitionCount};
#[cfg(feature = "watch")]
pub use watch::{watch, watch_with, ConfigWatcher, WatchOptions};
