//! Prometheus (OpenMetrics text) export, read from [`GlobalCircuitBreaker::snapshot`] at scrape
//! time: nothing is counted twice and the call path is untouched.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `breaker_calls_total` | counter | `component`, `outcome` = `success` \| `failure` \| `ignored` \| `slow` |
//! | `breaker_rejections_total` | counter | `component`, `reason` = `open` \| `half_open_exhausted` \| `global_open` \| `forced_open` |
//! | `breaker_state` | gauge | `component`, `state`: one series per [`CircuitState::ALL`], 1 for the current state |
//! | `breaker_failure_rate` | gauge | `component`: the window's error rate, in `[0, 1]` |
//! | `breaker_transitions_total` | counter | `component`, `from`, `to`: transitions seen at least once |
//! | `breaker_unhealthy_components` | gauge | none: components `Open` or `HalfOpen` (what the fuse counts) |
//!
//! The global fuse is exported as component `"__global__"` ([`GLOBAL`](crate::GLOBAL)). A
//! `slow` call is also a `success` or a `failure`, so leave `outcome="slow"` out when summing.
//!
//! ```
//! use std::sync::Arc;
//! use breaker::metrics::BreakerCollector;
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
//! // Or, without a registry of your own:
//! assert!(breaker::metrics::encode(&breakers).ends_with("# EOF\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::ops::Deref;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{text, DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::{CircuitState, ComponentSnapshot, GlobalCircuitBreaker, RegistrySnapshot};

/// The `prometheus-client` this module is built on, so a [`Registry`] you create is the same
/// type that [`BreakerCollector`] registers into.
pub use prometheus_client;

/// The content type of [`encode`]'s output (OpenMetrics text 1.0.0).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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
    /// [`Registry::register_collector`].
    pub const fn new(registry: R) -> Self {
        Self { registry }
    }
}

impl<R> Collector for BreakerCollector<R>
where
    R: Deref<Target = GlobalCircuitBreaker> + fmt::Debug + Send + Sync + 'static,
{
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> fmt::Result {
        encode_snapshot(&self.registry.snapshot(), encoder)
    }
}

/// The whole exposition for `registry` (ending in `# EOF`), for a `/metrics` handler that has
/// no Prometheus registry of its own. Serve it as [`CONTENT_TYPE`].
pub fn encode(registry: &GlobalCircuitBreaker) -> String {
    let mut metrics = Registry::default();
    metrics.register_collector(Box::new(Frozen(registry.snapshot())));
    let mut out = String::new();
    // A `String` never refuses a write, and the encoders only fail when their writer does.
    let _ = text::encode(&mut out, &metrics);
    out
}

/// A snapshot already taken, so [`encode`] can borrow a registry that is not `'static`.
#[derive(Debug)]
struct Frozen(RegistrySnapshot);

impl Collector for Frozen {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> fmt::Result {
        encode_snapshot(&self.0, encoder)
    }
}

type Labels<'a, const N: usize> = [(&'static str, &'a str); N];

fn encode_snapshot(snapshot: &RegistrySnapshot, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
    let all = || std::iter::once(&snapshot.global).chain(&snapshot.components);

    counters(
        &mut encoder,
        "breaker_calls",
        "Calls that finished, by outcome; `slow` ones are also counted as success or failure.",
        all().flat_map(|c| {
            [
                ("success", c.successes),
                ("failure", c.failures),
                ("ignored", c.ignored),
                ("slow", c.slow_calls),
            ]
            .map(|(outcome, n)| {
                (
                    [("component", c.component.as_str()), ("outcome", outcome)],
                    n,
                )
            })
        }),
    )?;
    counters(
        &mut encoder,
        "breaker_rejections",
        "Calls refused without running, by reason.",
        all().flat_map(|c| {
            let r = c.rejections;
            [
                ("open", r.open),
                ("half_open_exhausted", r.half_open_exhausted),
                ("global_open", r.global_open),
                ("forced_open", r.forced_open),
            ]
            .map(|(reason, n)| ([("component", c.component.as_str()), ("reason", reason)], n))
        }),
    )?;
    gauges(
        &mut encoder,
        "breaker_state",
        "1 for the breaker's current state, 0 for the others.",
        all().flat_map(|c| {
            CircuitState::ALL.map(|s| {
                let labels = [("component", c.component.as_str()), ("state", s.as_str())];
                (labels, i64::from(c.state == s))
            })
        }),
    )?;
    gauges(
        &mut encoder,
        "breaker_failure_rate",
        "Failed calls over calls in the rolling window, as the trip check weighs them.",
        all().map(|c| ([("component", c.component.as_str())], failure_rate(c))),
    )?;
    counters(
        &mut encoder,
        "breaker_transitions",
        "State transitions, by the state left and the state entered.",
        all().flat_map(|c| {
            c.transitions.iter().map(|t| {
                let labels = [
                    ("component", c.component.as_str()),
                    ("from", t.from.as_str()),
                    ("to", t.to.as_str()),
                ];
                (labels, t.count)
            })
        }),
    )?;
    if let Some(fleet) = snapshot.fleet {
        encoder
            .encode_descriptor(
                "breaker_fleet_connected",
                "1 while the fleet quorum reaches Redis, 0 in local mode.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&i64::from(fleet.connected))?;
        for (name, help, value) in [
            (
                "breaker_fleet_disconnects",
                "Times the fleet quorum lost Redis.",
                fleet.disconnects,
            ),
            (
                "breaker_fleet_ignored_records",
                "Records read from Redis and ignored (malformed, oversized, future version).",
                fleet.ignored_records,
            ),
            (
                "breaker_fleet_refusals",
                "Calls refused because a quorum of replicas saw the component open.",
                fleet.refused_calls,
            ),
        ] {
            encoder
                .encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
        }
    }
    let help = "Components that are open or half-open, as the global fuse counts them.";
    encoder
        .encode_descriptor(
            "breaker_unhealthy_components",
            help,
            None,
            MetricType::Gauge,
        )?
        .encode_gauge(&i64::from(snapshot.unhealthy))
}

/// The window's rate is an `f32`; widening it as is would print `0.6` as
/// `0.6000000238418579`, so it is rounded to the six decimals an `f32` can vouch for.
fn failure_rate(c: &ComponentSnapshot) -> f64 {
    (f64::from(c.window.error_rate) * 1e6).round() / 1e6
}

fn counters<'a, const N: usize>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (Labels<'a, N>, u64)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

fn gauges<'a, const N: usize, V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (Labels<'a, N>, V)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        metric.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}
