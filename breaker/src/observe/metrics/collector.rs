//! The [`families`](crate::observe::families) model through `prometheus-client`'s encoder, for
//! [`BreakerCollector`](super::BreakerCollector) inside a user's own registry (with its
//! prefixes and its other metrics).

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::observe::families::{Family, Kind, Value};

/// Describes and encodes every family.
pub(super) fn describe(families: &[Family<'_>], mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
    for family in families {
        let kind = match family.kind {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
        };
        let mut metric = encoder.encode_descriptor(family.name, family.help, None, kind)?;
        for sample in &family.samples {
            // An empty label set writes no braces.
            let mut series = metric.encode_family(&sample.labels)?;
            match (family.kind, sample.value) {
                (Kind::Counter, Value::Count(n)) => {
                    series.encode_counter::<NoLabelSet, _, u64>(&n, None)?
                }
                (Kind::Counter, Value::Rate(r)) => {
                    series.encode_counter::<NoLabelSet, _, u64>(&r, None)?
                }
                (Kind::Gauge, Value::Count(n)) => series.encode_gauge(&n)?,
                (Kind::Gauge, Value::Rate(r)) => series.encode_gauge(&r)?,
            }
        }
    }
    Ok(())
}
