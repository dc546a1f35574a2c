//! Reading breakers: point-in-time snapshots, the metrics report that `on_metrics` hooks
//! receive, and, with the `prometheus` feature, their Prometheus export. Everything here
//! reads the engine's own counters; nothing is counted twice and the call path is untouched.

pub(crate) mod families;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod metrics;
#[cfg(feature = "metrics-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics-rs")))]
pub mod metrics_rs;
mod report;
mod snapshot;

pub use report::{MetricKind, MetricsReport, Series};
pub use snapshot::{
    ComponentSnapshot, FamilySnapshot, FleetStatus, RegistrySnapshot, Rejections, TransitionCount,
};
