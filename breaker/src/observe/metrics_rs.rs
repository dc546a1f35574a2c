//! The registry's metrics through the [`metrics`](::metrics) crate facade (metrics-rs), for
//! services that export with `metrics-exporter-prometheus`, an OpenTelemetry bridge or any
//! other `metrics` recorder instead of `prometheus-client`. Every series keeps the name and
//! labels of the Prometheus export (the table in the `metrics` module, or the README's
//! Metrics section): counters are set to their totals (`Counter::absolute`), gauges to their
//! values, each family described with its help text.
//!
//! Nothing runs on the call path: [`export`] reads a [`MetricsReport`], which an
//! [`on_metrics`](crate::GlobalCircuitBreaker::on_metrics) tick builds from a snapshot;
//! [`install`] adds the hook that does so at every tick.
//!
//! ```
//! use breaker::{CircuitConfig, GlobalCircuitBreaker};
//!
//! let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?;
//! registry.register("db")?;
//! breaker::metrics_rs::install(&registry);
//! // With your recorder installed (`metrics::set_global_recorder`), from a timer:
//! registry.metrics_tick();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::observe::{MetricKind, MetricsReport};
use crate::registry::GlobalCircuitBreaker;

/// Emits every series of `report` to the recorder in force (the thread's local one, else the
/// global one; none: nothing happens).
pub fn export(report: &MetricsReport) {
    let mut described = String::new();
    report.for_each_series(|s| {
        let labels: Vec<::metrics::Label> = s
            .labels
            .iter()
            .map(|&(key, value)| ::metrics::Label::new(key, value.to_owned()))
            .collect();
        let fresh = described != s.name;
        if fresh {
            s.name.clone_into(&mut described);
        }
        match s.kind {
            MetricKind::Counter => {
                if fresh {
                    ::metrics::describe_counter!(s.name.to_owned(), s.help);
                }
                // Counters are whole numbers carried as f64 in the report.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let total = s.value as u64;
                ::metrics::counter!(s.name.to_owned(), labels).absolute(total);
            }
            MetricKind::Gauge => {
                if fresh {
                    ::metrics::describe_gauge!(s.name.to_owned(), s.help);
                }
                ::metrics::gauge!(s.name.to_owned(), labels).set(s.value);
            }
        }
    });
}

/// Adds an [`on_metrics`](GlobalCircuitBreaker::on_metrics) hook to `registry` that
/// [`export`]s every tick's report.
pub fn install(registry: &GlobalCircuitBreaker) {
    registry.on_metrics(export);
}
