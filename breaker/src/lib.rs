//! Per-component circuit breakers with a derived global fuse, a lock-free hot path,
//! hot-reloadable config and telemetry.
//!
//! Each dependency a service calls (an exchange websocket, a REST API, a database) gets its own
//! [`ComponentBreaker`]. A [`GlobalCircuitBreaker`] holds them, with defaults they follow, the
//! hooks that see every transition, and a global fuse (`"__global__"`) whose state is *derived*
//! from the components: when enough of them are unhealthy it refuses calls to the healthy ones
//! too, while still letting half-open probes through so the system can recover.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use breaker::{Breaker, CircuitConfig, CircuitState, FakeClock, GlobalCircuitBreaker, Outcome, Permit};
//!
//! let clock = FakeClock::new();
//! let registry = GlobalCircuitBreaker::builder()
//!     .config(CircuitConfig { min_calls: 4, ..CircuitConfig::DEFAULT })
//!     .clock(clock.clone())
//!     .build()?;
//! let exchange = registry.register("binance_rest")?;
//!
//! for _ in 0..4 {
//!     if let Permit::Allowed(guard) = exchange.acquire() {
//!         guard.record(Outcome::Failure);
//!     }
//! }
//! assert_eq!(exchange.state(), CircuitState::Open);
//! assert!(!registry.acquire("binance_rest").is_allowed());
//!
//! clock.advance(Duration::from_secs(30)); // open_cooldown
//! let probe = exchange.acquire().into_result()?;
//! assert_eq!(exchange.state(), CircuitState::HalfOpen);
//! probe.record(Outcome::Success);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The state machine
//!
//! ```mermaid
//! stateDiagram-v2
//!     [*] --> Closed
//!     Closed --> Open: error_rate >= error_rate_threshold (calls >= min_calls)<br/>or slow_call_rate >= slow_call_rate_threshold<br/>or consecutive failures >= consecutive_failures_threshold
//!     Open --> HalfOpen: open_cooldown elapsed (x open_backoff_multiplier^reopens, <= open_cooldown_max)
//!     HalfOpen --> Closed: half_open_required_successes probes succeeded
//!     HalfOpen --> Open: more than half_open_allowed_failures probes failed<br/>or half_open_max_wait elapsed
//!     Closed --> ForcedOpen: force_open()
//!     Closed --> Disabled: disable()
//!     ForcedOpen --> Closed: reset()
//!     Disabled --> Closed: reset()
//! ```
//!
//! | from | to | when | config fields |
//! |---|---|---|---|
//! | Closed | Open | a failure or slow call is recorded and the window holds `>= min_calls` calls with `failures / calls >= error_rate_threshold` | `rolling_window`, `window_buckets`, `min_calls`, `error_rate_threshold`, `sample_weighting`, `exponential_half_life` |
//! | Closed | Open | same, with `slow / calls >= slow_call_rate_threshold` (a call is slow when it takes `>= slow_call_threshold`) | `slow_call_threshold`, `slow_call_rate_threshold` |
//! | Closed | Open | a failure makes `consecutive_failures_threshold` failures in a row (no `min_calls` gate) | `consecutive_failures_threshold` |
//! | Open | HalfOpen | the first acquire after `open_cooldown × open_backoff_multiplier^reopens`, capped at `open_cooldown_max` | `open_cooldown`, `open_backoff_multiplier`, `open_cooldown_max` |
//! | HalfOpen | Closed | `half_open_required_successes` probes succeeded (window emptied, backoff reset) | `half_open_required_successes` |
//! | HalfOpen | Open | `half_open_allowed_failures + 1` probes failed (a slow probe counts as failed); `reopens += 1` | `half_open_allowed_failures` |
//! | HalfOpen | Open | the first acquire `half_open_max_wait` after entering HalfOpen; `reopens += 1` | `half_open_max_wait` |
//! | any | ForcedOpen | [`ComponentBreaker::force_open`]; nothing automatic leaves it | |
//! | any | Disabled | [`ComponentBreaker::disable`]: calls pass and are counted, nothing trips, the fuse is bypassed | |
//! | any | Closed | [`ComponentBreaker::reset`]: window, consecutive count and backoff cleared | |
//!
//! While `HalfOpen`, at most `half_open_max_concurrent` probes are in flight; other callers get
//! [`CircuitError::HalfOpenExhausted`]. Every transition bumps the breaker's generation; an
//! outcome recorded for an earlier generation is [`Recorded::Stale`] and cannot influence the
//! new state.
//!
//! ## The global fuse
//!
//! | from | to | when | config fields (registry defaults) |
//! |---|---|---|---|
//! | Closed | Open | at least `min_components` components are registered, `unhealthy / components >= component_open_ratio` (unhealthy = Open or HalfOpen), and the windows hold `>= min_calls` calls in total | `global_trip_conditions.*` |
//! | Open | Closed | the same condition no longer holds | `global_trip_conditions.*` |
//!
//! It is re-derived on every component transition that changes its health and on reload. While
//! it is open, calls to `Closed` components fail with [`CircuitError::GlobalOpen`]; `HalfOpen`
//! components still admit their probes, `Open` ones reject as usual, `Disabled` ones bypass it.
//!
//! # Recording outcomes
//!
//! A [`CallGuard`] is RAII: however the call ends, its half-open slot comes back. See the
//! [`guard`] module for the full table: `record(Success | Failure | Ignored)` count as such; a
//! guard dropped during a panic records a failure; a guard dropped otherwise (a cancelled
//! future) counts as ignored, or as a failure if the call had already run past
//! `slow_call_threshold`.
//!
//! # Config
//!
//! [`CircuitConfig::DEFAULT`] documents every field's default; [`CircuitConfig::validate`]
//! names the field, the value and the rule of the first problem. Reload with
//! [`GlobalCircuitBreaker::reload`] or [`GlobalCircuitBreaker::reload_component`]: state and
//! counts survive, a refused config leaves the running one in force, and both emit an
//! [`Event`]. `window_buckets` is fixed per breaker; changing `rolling_window` restarts the
//! window (lifetime totals are kept).
//!
//! # Time
//!
//! Everything reads the injected [`Clock`]. With slow-call detection off a call reads it once
//! (at record time, for the bucket); with it on, twice.
//!
//! # Memory
//!
//! Per component: about 400 B of fixed state plus, per stripe in use,
//! `window_buckets × 40 B + 64 B` rounded up to 128 B. Stripes are added only when threads
//! collide on the same breaker, up to the core count (at most 64). With the default 10
//! buckets a component used by one thread at a time needs about 1 KiB, so 10,000 such
//! components fit in about 10 MiB; a component hammered by 16 cores grows to about 11 KiB.
#![forbid(unsafe_code)]

mod clock;
mod component;
mod config;
mod default_registry;
mod error;
mod fuse;
pub mod guard;
mod half_open;
mod names;
mod protect;
mod registry;
mod snapshot;
mod state;
mod sync;
mod telemetry;
mod transition;
mod window;

pub use clock::{Clock, FakeClock, SystemClock};
pub use component::ComponentBreaker;
pub use config::{
    CircuitConfig, ConfigError, ConfigValue, GlobalTripConditions, SampleWeighting, Violation,
    MAX_DURATION,
};
pub use default_registry::{install, registry, AlreadyInstalled};
pub use error::{CallError, CircuitError};
pub use guard::{Breaker, CallGuard, Outcome, Permit, Recorded};
pub use names::GLOBAL;
pub use registry::{GlobalCircuitBreaker, RegistryBuilder, RegistryError};
pub use snapshot::{ComponentSnapshot, RegistrySnapshot, Rejections, TransitionCount};
pub use state::CircuitState;
pub use telemetry::{Event, Transition, TransitionReason};
pub use window::{Exponential, Sliding, WindowStats, WindowStrategy};
