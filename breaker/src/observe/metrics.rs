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
//! | `breaker_unhealthy_components` | gauge | none: members `Open` or `HalfOpen` (what the fuse counts; an unhealthy keyed family is one) |
//! | `breaker_family_keys` | gauge | `family`, `state`: live keys in each state |
//! | `breaker_family_evictions_total` | counter | `family`: idle keys evicted |
//! | `breaker_family_overflow_calls_total` | counter | `family`: calls sent to the overflow breaker (the family was full) |
//! | `breaker_family_capped_trips_total` | counter | `family`: trips the ejection cap kept closed |
//!
//! A keyed family's keys appear in the per-breaker series above with `component` = the family
//! and a `key` label (its overflow breaker as `key="__overflow__"`), at most `max_keys + 1`
//! series sets per family; a family with `per_key_metrics = false` exports its aggregates only.
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
use prometheus_client::encoding::EncodeLabelSet;
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

/// A series' labels: `component` and, for a key of a family, `key`, then the metric's own.
type Labels<'a> = Vec<(&'static str, &'a str)>;

/// Every breaker exported, with its identifying labels: the fuse, the components, and each
/// family's keys and overflow breaker (unless the family turned per-key series off).
fn breakers(snapshot: &RegistrySnapshot) -> Vec<(Labels<'_>, &ComponentSnapshot)> {
    let mut out: Vec<(Labels<'_>, &ComponentSnapshot)> = std::iter::once(&snapshot.global)
        .chain(&snapshot.components)
        .map(|c| (vec![("component", c.component.as_str())], c))
        .collect();
    for family in snapshot.families.iter().filter(|f| f.per_key_metrics) {
        for key in family.keys.iter().chain(std::iter::once(&family.overflow)) {
            let labels = vec![
                ("component", family.family.as_str()),
                ("key", key.component.key().unwrap_or_default()),
            ];
            out.push((labels, key));
        }
    }
    out
}

fn with<'a>(labels: &Labels<'a>, more: &[(&'static str, &'a str)]) -> Labels<'a> {
    let mut out = labels.clone();
    out.extend_from_slice(more);
    out
}

fn encode_snapshot(snapshot: &RegistrySnapshot, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
    let breakers = breakers(snapshot);
    let all = || breakers.iter();

    counters(
        &mut encoder,
        "breaker_calls",
        "Calls that finished, by outcome; `slow` ones are also counted as success or failure.",
        all().flat_map(|(l, c)| {
            [
                ("success", c.successes),
                ("failure", c.failures),
                ("ignored", c.ignored),
                ("slow", c.slow_calls),
            ]
            .map(|(outcome, n)| (with(l, &[("outcome", outcome)]), n))
        }),
    )?;
    counters(
        &mut encoder,
        "breaker_rejections",
        "Calls refused without running, by reason.",
        all().flat_map(|(l, c)| {
            let r = c.rejections;
            [
                ("open", r.open),
                ("half_open_exhausted", r.half_open_exhausted),
                ("global_open", r.global_open),
                ("forced_open", r.forced_open),
            ]
            .map(|(reason, n)| (with(l, &[("reason", reason)]), n))
        }),
    )?;
    gauges(
        &mut encoder,
        "breaker_state",
        "1 for the breaker's current state, 0 for the others.",
        all().flat_map(|(l, c)| {
            CircuitState::ALL.map(|s| (with(l, &[("state", s.as_str())]), i64::from(c.state == s)))
        }),
    )?;
    gauges(
        &mut encoder,
        "breaker_failure_rate",
        "Failed calls over calls in the rolling window, as the trip check weighs them.",
        all().map(|(l, c)| (l.clone(), failure_rate(c))),
    )?;
    counters(
        &mut encoder,
        "breaker_transitions",
        "State transitions, by the state left and the state entered.",
        all().flat_map(|(l, c)| {
            c.transitions.iter().map(|t| {
                (
                    with(l, &[("from", t.from.as_str()), ("to", t.to.as_str())]),
                    t.count,
                )
            })
        }),
    )?;
    let families = &snapshot.families;
    gauges(
        &mut encoder,
        "breaker_family_keys",
        "Live keys of a keyed family, by state.",
        families.iter().flat_map(|f| {
            CircuitState::ALL.map(|s| {
                let n = f.keys.iter().filter(|k| k.state == s).count();
                (
                    vec![("family", f.family.as_str()), ("state", s.as_str())],
                    i64::try_from(n).unwrap_or(i64::MAX),
                )
            })
        }),
    )?;
    for (name, help, value) in [
        (
            "breaker_family_evictions",
            "Idle keys a keyed family evicted.",
            (|f| f.evictions) as fn(&crate::FamilySnapshot) -> u64,
        ),
        (
            "breaker_family_overflow_calls",
            "Calls a full keyed family sent to its overflow breaker.",
            |f| f.overflow_calls,
        ),
        (
            "breaker_family_capped_trips",
            "Trips a keyed family's ejection cap (max_open_ratio) kept closed.",
            |f| f.capped_trips,
        ),
    ] {
        counters(
            &mut encoder,
            name,
            help,
            families
                .iter()
                .map(|f| (vec![("family", f.family.as_str())], value(f))),
        )?;
    }
    let help = "Members of the global fuse (components, keyed families) that are unhealthy.";
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

fn counters<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
    }
    Ok(())
}

fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (L, V)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        metric.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}
