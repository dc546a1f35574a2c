#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod clock;
mod component;
mod config;
mod default_registry;
mod error;
mod fuse;
pub mod guard;
mod half_open;
mod handle;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "tower")]
pub mod layer;
mod macros;
#[cfg(feature = "prometheus")]
pub mod metrics;
mod names;
mod protect;
mod registry;
mod snapshot;
mod state;
mod sync;
mod telemetry;
mod transition;
#[cfg(feature = "watch")]
mod watch;
mod window;

pub use clock::{Clock, FakeClock, SystemClock};
pub use component::ComponentBreaker;
pub use config::{
    CircuitConfig, ConfigError, ConfigLayer, ConfigValue, FileError, FileReport,
    GlobalTripConditions, SampleWeighting, Violation, MAX_DURATION,
};
pub use default_registry::{install, registry, AlreadyInstalled};
pub use error::{CallError, CircuitError};
pub use guard::{Breaker, CallGuard, Outcome, Permit, Recorded};
pub use handle::ComponentHandle;
pub use macros::{breakers, circuit_breaker};
pub use names::{ComponentName, GLOBAL};
pub use registry::{GlobalCircuitBreaker, RegistryBuilder, RegistryError};
pub use snapshot::{ComponentSnapshot, RegistrySnapshot, Rejections, TransitionCount};
pub use state::CircuitState;
pub use telemetry::{Event, Transition, TransitionReason};
#[cfg(feature = "watch")]
pub use watch::{watch, watch_with, ConfigWatcher, WatchOptions};
pub use window::{Exponential, Sliding, WindowStats, WindowStrategy};
