//! Reading breakers: point-in-time snapshots and, with the `prometheus` feature, their
//! Prometheus export. Everything here reads the engine's own counters; nothing is counted
//! twice and the call path is untouched.

#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod metrics;
mod snapshot;

pub use snapshot::{
    ComponentSnapshot, FamilySnapshot, RegistrySnapshot, Rejections, TransitionCount,
};
