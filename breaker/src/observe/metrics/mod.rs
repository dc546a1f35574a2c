//! Prometheus export, read from [`GlobalCircuitBreaker::snapshot`] at scrape time: nothing is
//! counted twice and the call path is untouched. Both exposition formats, chosen by the
//! scraper's `Accept` header ([`Format::from_accept`]): OpenMetrics 1.0.0 when it asks for
//! `application/openmetrics-text` (Prometheus does by default), the text format 0.0.4
//! otherwise.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `breaker_calls_total` | counter | `component`, `outcome` = `success` \| `failure` \| `ignored` \| `slow` | calls that finished |
//! | `breaker_rejections_total` | counter | `component`, `reason` = `open` \| `half_open_exhausted` \| `global_open` \| `forced_open` | calls refused without running |
//! | `breaker_state` | gauge | `component`, `state`: one series per [`CircuitState::ALL`](crate::CircuitState::ALL) | 1 for the state the next call would see |
//! | `breaker_transitions_total` | counter | `component`, `from`, `to`: all 25 pairs, from 0 | state transitions |
//! | `breaker_window_failure_rate` | gauge | `component` | the current window's failure rate, in `[0, 1]` (restarts at each transition) |
//! | `breaker_trip_failure_rate` | gauge | `component` | the window's failure rate at the last trip to open, kept through the outage |
//! | `breaker_failure_rate` | gauge | `component` | deprecated: the same as `breaker_window_failure_rate` |
//! | `breaker_window_calls` | gauge | `component` | calls in the current window (what `min_calls` compares) |
//! | `breaker_unhealthy_components` | gauge | none | components open or half-open (what the fuse counts) |
//!
//! The global fuse is exported as component `"__global__"` ([`GLOBAL`](crate::GLOBAL)). A
//! `slow` call is also a `success` or a `failure`, so leave `outcome="slow"` out when summing.
//! Every series of a component exists from its registration, at zero.
//!
//! ```
//! use std::sync::Arc;
//! use breaker::metrics::{BreakerCollector, Format};
//! use breaker::{CircuitConfig, GlobalCircuitBreaker};
//! use breaker::metrics::prometheus_client::registry::Registry;
//!
//! let breakers = Arc::new(GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?);
//! breakers.register("binance_rest")?;
//!
//! let mut metrics = Registry::default();
//! metrics.register_collector(Box::new(BreakerCollector::new(Arc::clone(&breakers))));
//! let mut text = String::new();
//! breaker::metrics::prometheus_client::encoding::text::encode(&mut text, &metrics)?;
//! assert!(text.contains(r#"breaker_state{component="binance_rest",state="closed"} 1"#));
//!
//! // Or, without a registry of your own, in the format the scraper asked for:
//! let format = Format::from_accept("application/openmetrics-text; version=1.0.0");
//! assert!(breaker::metrics::encode(&breakers, format).ends_with("# EOF\n"));
//! let text = breaker::metrics::encode(&breakers, Format::Text);
//! assert!(text.starts_with("# HELP breaker_calls_total "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod collector;
mod format;
mod text;

pub use format::{Format, CONTENT_TYPE, TEXT_CONTENT_TYPE};

use std::fmt;
use std::ops::Deref;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use crate::observe::families;
use crate::{GlobalCircuitBreaker, RegistrySnapshot};

/// The `prometheus-client` this module is built on, so a
/// [`Registry`](prometheus_client::registry::Registry) you create is the same type that
/// [`BreakerCollector`] registers into.
pub use prometheus_client;

/// A [`Collector`] that snapshots a registry on every scrape. `R` is anything that derefs to
/// the registry: an `Arc`, or the `&'static` that [`crate::registry`] returns.
#[derive(Debug, Clone)]
pub struct BreakerCollector<R> {
    registry: R,
}

impl<R> BreakerCollector<R>
where
    R: Deref<Target = GlobalCircuitBreaker>,
{
    /// A collector for `registry`; register it with
    /// [`Registry::register_collector`](prometheus_client::registry::Registry::register_collector).
    pub const fn new(registry: R) -> Self {
        Self { registry }
    }
}

impl<R> Collector for BreakerCollector<R>
where
    R: Deref<Target = GlobalCircuitBreaker> + fmt::Debug + Send + Sync + 'static,
{
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let snapshot = self.registry.snapshot();
        collector::describe(&families::families(&snapshot), encoder)
    }
}

/// The whole exposition for `registry` in `format`, for a `/metrics` handler that has no
/// Prometheus registry of its own. Serve it as [`Format::content_type`].
pub fn encode(registry: &GlobalCircuitBreaker, format: Format) -> String {
    encode_snapshot(&registry.snapshot(), format)
}

/// [`encode`] for a snapshot already taken.
pub fn encode_snapshot(snapshot: &RegistrySnapshot, format: Format) -> String {
    let families = families::families(snapshot);
    let mut out = String::new();
    // A `String` never refuses a write, and the encoders only fail when their writer does.
    let _ = text::write(&mut out, &families, format);
    out
}
