//! Push as well as pull: [`MetricsReport`], what [`on_metrics`] hooks receive when the user's
//! code or runtime calls [`metrics_tick`]. A tick takes one snapshot (off the call path, which
//! it costs nothing) and hands the same report to every hook; the report names its series as
//! the Prometheus export does ([`MetricsReport::for_each_series`]), so an exporter to another
//! backend (the `metrics-rs` feature's, say) shows the same names and labels.
//!
//! [`on_metrics`]: GlobalCircuitBreaker::on_metrics
//! [`metrics_tick`]: GlobalCircuitBreaker::metrics_tick

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::observe::families::{self, Kind, Value};
use crate::observe::RegistrySnapshot;
use crate::registry::GlobalCircuitBreaker;

/// The registry's metrics at one tick: every breaker's snapshot (per component its state as
/// the next call would see it, window and trip failure rates, calls by outcome, rejections by
/// reason, transitions), and the same as named series.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsReport {
    /// Every component and the fuse at the tick.
    pub snapshot: RegistrySnapshot,
}

/// Whether a [`Series`] only goes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// A running total (its name ends in `_total`); push it as an absolute value.
    Counter,
    /// A value that goes up and down.
    Gauge,
}

/// One series, named and labelled exactly as the Prometheus export names it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Series<'a> {
    /// The series' name as a scrape shows it (`breaker_calls_total`, `breaker_state`).
    pub name: &'a str,
    /// What it measures.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Its labels, in order (`component` first).
    pub labels: &'a [(&'static str, &'a str)],
    /// Its value now (a counter's total since the breaker was made).
    pub value: f64,
}

impl MetricsReport {
    /// The report of `snapshot`.
    pub fn new(snapshot: RegistrySnapshot) -> Self {
        Self { snapshot }
    }

    /// Calls `visit` with every series of the Prometheus export, in its order: the
    /// `metrics`-crate exporter and any push to another backend read the report this way.
    pub fn for_each_series(&self, mut visit: impl FnMut(Series<'_>)) {
        for family in families::families(&self.snapshot) {
            let name = family.sample_name();
            let kind = match family.kind {
                Kind::Counter => MetricKind::Counter,
                Kind::Gauge => MetricKind::Gauge,
            };
            for sample in &family.samples {
                visit(Series {
                    name: &name,
                    help: family.help,
                    kind,
                    labels: &sample.labels,
                    // Counts fit an f64 exactly up to 2^53, far past any breaker's lifetime.
                    value: match sample.value {
                        Value::Count(n) => n as f64,
                        Value::Rate(r) => r,
                    },
                });
            }
        }
    }
}

/// An `on_metrics` hook, as the registry keeps it.
struct MetricsHook(Box<dyn Fn(&MetricsReport) + Send + Sync>);

impl fmt::Debug for MetricsHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsHook")
    }
}

impl GlobalCircuitBreaker {
    /// A hook that receives a [`MetricsReport`] at every [`metrics_tick`](Self::metrics_tick).
    /// It costs the call path nothing: reports are built only when a tick is asked for. A
    /// hook that panics is logged and skipped, like an [`on_event`](Self::on_event) hook.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use breaker::{CircuitConfig, GlobalCircuitBreaker};
    ///
    /// let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?;
    /// registry.register("db")?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// registry.on_metrics(move |report| {
    ///     report.for_each_series(|s| sink.lock().unwrap().push((s.name.to_owned(), s.value)));
    /// });
    /// // From a timer of your runtime, e.g. every 10 s:
    /// registry.metrics_tick();
    /// assert!(seen.lock().unwrap().iter().any(|(name, _)| name == "breaker_calls_total"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_metrics(&self, hook: impl Fn(&MetricsReport) + Send + Sync + 'static) {
        self.extensions().add(Arc::new(MetricsHook(Box::new(hook))));
    }

    /// Takes one snapshot, hands its [`MetricsReport`] to every
    /// [`on_metrics`](Self::on_metrics) hook (on this thread, in the order they were added)
    /// and returns it. Call it from your runtime's timer; nothing ticks by itself.
    pub fn metrics_tick(&self) -> MetricsReport {
        let report = MetricsReport::new(self.snapshot());
        for extension in self.extensions().all().iter() {
            if let Some(hook) = extension.downcast_ref::<MetricsHook>() {
                if catch_unwind(AssertUnwindSafe(|| (hook.0)(&report))).is_err() {
                    tracing::error!(target: "breaker", "an on_metrics hook panicked; the breaker is unaffected");
                }
            }
        }
        report
    }
}
