//! The JSON the read-only router serves: a [`ComponentSnapshot`] with durations a person
//! reads (`5m 56s`) beside their milliseconds, the last transition with its reason, and the
//! engine's internal fields under `debug`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::duration::{human, millis};
use super::feed::{Feed, Record, RecordView};
use crate::TransitionCount;
use crate::{CircuitState, ComponentSnapshot, ConfigLayer, GlobalCircuitBreaker, Rejections};
use crate::{FamilySnapshot, FleetStatus, RegistrySnapshot, WindowStats};

/// `GET /breakers`.
#[derive(Debug, Serialize)]
pub(crate) struct BreakersView<'a> {
    pub(crate) global: ComponentView<'a>,
    pub(crate) unhealthy: u32,
    pub(crate) config_file: ConfigFileView<'a>,
    pub(crate) components: Vec<ComponentView<'a>>,
    /// Each keyed family with its live keys (and its overflow breaker) as breakers.
    pub(crate) families: Vec<FamilyView<'a>>,
    /// The fleet quorum's link to Redis and its counters, once a fleet is attached.
    pub(crate) fleet: Option<FleetStatus>,
    pub(crate) debug: RouterDebug,
}

/// One keyed family: its roll-up and its keys, each a breaker like a component.
#[derive(Debug, Serialize)]
pub(crate) struct FamilyView<'a> {
    family: &'a str,
    live: u32,
    unhealthy: u32,
    family_unhealthy: bool,
    max_keys: u32,
    evictions: u64,
    overflowing: bool,
    overflow_calls: u64,
    capped_trips: u64,
    keys: Vec<ComponentView<'a>>,
    overflow: ComponentView<'a>,
}

/// The routers' own counters, under `debug` of `GET /breakers`.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct RouterDebug {
    /// SSE streams open now.
    pub(crate) sse_clients: usize,
    /// The most allowed at once.
    pub(crate) sse_cap: usize,
    /// Streams dropped for falling behind.
    pub(crate) sse_dropped: u64,
    /// Streams refused over the cap.
    pub(crate) sse_refused: u64,
    /// Events the recent-events ring missed (a reader held it).
    pub(crate) feed_missed: u64,
}

/// The config file in force and the last reload's result.
#[derive(Debug, Serialize)]
pub(crate) struct ConfigFileView<'a> {
    path: Option<String>,
    last_reload: Option<RecordView<'a>>,
}

/// One breaker.
#[derive(Debug, Serialize)]
pub(crate) struct ComponentView<'a> {
    component: &'a str,
    state: CircuitState,
    time_in_state: String,
    time_in_state_ms: u64,
    retry_after: Option<String>,
    retry_after_ms: Option<u64>,
    calls: u64,
    successes: u64,
    failures: u64,
    slow_calls: u64,
    ignored: u64,
    rejections: &'a Rejections,
    window: &'a WindowStats,
    consecutive_failures: u32,
    half_open_in_flight: u32,
    transitions: &'a [TransitionCount],
    last_transition: Option<RecordView<'a>>,
    /// Each field of the config in force and the layer it came from (`/breakers` and
    /// `/breakers/{name}`; not in the SSE snapshots, which repeat every second).
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<BTreeMap<&'static str, FieldView>>,
    debug: Debug,
}

/// One config field's value and where it came from.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldView {
    value: serde_json::Value,
    /// `default` (built in), `registry` (the registry's defaults in code), `manifest` (the
    /// `breakers!` entry), `code` (`register_with`, `reload_component`) or `file`.
    layer: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    section: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
}

/// `name`'s config in force, field by field with its layer.
fn config_of(
    registry: &GlobalCircuitBreaker,
    name: &str,
) -> Option<BTreeMap<&'static str, FieldView>> {
    let sources = registry.config_sources(name)?;
    let config = registry.component(name)?.config();
    let values = serde_json::to_value(config).unwrap_or_default();
    let views = sources.into_iter().map(|(field, layer)| {
        let (layer, path, section, line) = match layer {
            ConfigLayer::BuiltIn => ("default", None, None, None),
            ConfigLayer::RegistryDefaults => ("registry", None, None, None),
            ConfigLayer::Manifest => ("manifest", None, None, None),
            ConfigLayer::Code => ("code", None, None, None),
            ConfigLayer::File {
                path,
                section,
                line,
            } => (
                "file",
                path.map(|p| p.display().to_string()),
                Some(section),
                Some(line),
            ),
        };
        // `global_trip_conditions.min_calls` is a path into the nested table.
        let value = field
            .split('.')
            .try_fold(&values, |v, key| v.get(key))
            .cloned()
            .unwrap_or_default();
        let view = FieldView {
            value,
            layer,
            path,
            section,
            line,
        };
        (field, view)
    });
    Some(views.collect())
}

/// What only the crate's developers read.
#[derive(Debug, Serialize)]
struct Debug {
    generation: u64,
    stripes: usize,
}

/// Holds what the views borrow from.
#[derive(Debug)]
pub(crate) struct Owned {
    pub(crate) snapshot: RegistrySnapshot,
    last: Vec<Option<Arc<Record>>>,
    /// Per family: the last transition of each key, then of the overflow breaker.
    family_last: Vec<Vec<Option<Arc<Record>>>>,
    configs: Vec<Option<BTreeMap<&'static str, FieldView>>>,
    global_last: Option<Arc<Record>>,
    reload: Option<Arc<Record>>,
    path: Option<String>,
    now: Instant,
}

impl Owned {
    /// Everything `GET /breakers` shows, read now (the config of each component only
    /// `with_config`).
    pub(crate) fn read(registry: &GlobalCircuitBreaker, feed: &Feed, with_config: bool) -> Self {
        let snapshot = registry.snapshot();
        let configs = snapshot
            .components
            .iter()
            .map(|c| {
                with_config
                    .then(|| config_of(registry, &c.component))
                    .flatten()
            })
            .collect();
        let last = snapshot
            .components
            .iter()
            .map(|c| feed.last_transition(&c.component))
            .collect();
        let family_last = snapshot
            .families
            .iter()
            .map(|f| {
                f.keys
                    .iter()
                    .chain(std::iter::once(&f.overflow))
                    .map(|k| feed.last_transition(&k.component))
                    .collect()
            })
            .collect();
        Self {
            global_last: feed.last_transition(&snapshot.global.component),
            last,
            family_last,
            configs,
            reload: feed.last_reload(),
            path: registry.config_file().map(|p| p.display().to_string()),
            now: feed.now(),
            snapshot,
        }
    }

    pub(crate) fn view(&self, debug: RouterDebug) -> BreakersView<'_> {
        BreakersView {
            global: component(&self.snapshot.global, &self.global_last, None, self.now),
            unhealthy: self.snapshot.unhealthy,
            config_file: ConfigFileView {
                path: self.path.clone(),
                last_reload: self.reload.as_ref().map(|r| r.view(self.now)),
            },
            components: self
                .snapshot
                .components
                .iter()
                .zip(&self.last)
                .zip(&self.configs)
                .map(|((c, last), config)| component(c, last, config.clone(), self.now))
                .collect(),
            families: self
                .snapshot
                .families
                .iter()
                .zip(&self.family_last)
                .map(|(f, last)| family(f, last, self.now))
                .collect(),
            fleet: self.snapshot.fleet,
            debug,
        }
    }

    /// The one component called `name`.
    pub(crate) fn one(&self, name: &str) -> Option<ComponentView<'_>> {
        let i = self
            .snapshot
            .components
            .iter()
            .position(|c| c.component == name)?;
        let config = self.configs[i].clone();
        Some(component(
            &self.snapshot.components[i],
            &self.last[i],
            config,
            self.now,
        ))
    }
}

fn family<'a>(
    f: &'a FamilySnapshot,
    last: &'a [Option<Arc<Record>>],
    now: Instant,
) -> FamilyView<'a> {
    let none = &None;
    let last_of = |i: usize| last.get(i).unwrap_or(none);
    FamilyView {
        family: &f.family,
        live: f.live,
        unhealthy: f.unhealthy,
        family_unhealthy: f.family_unhealthy,
        max_keys: f.max_keys,
        evictions: f.evictions,
        overflowing: f.overflowing,
        overflow_calls: f.overflow_calls,
        capped_trips: f.capped_trips,
        keys: f
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| component(k, last_of(i), None, now))
            .collect(),
        overflow: component(&f.overflow, last_of(f.keys.len()), None, now),
    }
}

fn component<'a>(
    c: &'a ComponentSnapshot,
    last: &'a Option<Arc<Record>>,
    config: Option<BTreeMap<&'static str, FieldView>>,
    now: Instant,
) -> ComponentView<'a> {
    ComponentView {
        component: &c.component,
        state: c.state,
        time_in_state: human(c.time_in_state),
        time_in_state_ms: millis(c.time_in_state),
        retry_after: c.retry_after.map(human),
        retry_after_ms: c.retry_after.map(millis),
        calls: c.calls,
        successes: c.successes,
        failures: c.failures,
        slow_calls: c.slow_calls,
        ignored: c.ignored,
        rejections: &c.rejections,
        window: &c.window,
        consecutive_failures: c.consecutive_failures,
        half_open_in_flight: c.half_open_in_flight,
        transitions: &c.transitions,
        last_transition: last.as_ref().map(|r| r.view(now)),
        config,
        debug: Debug {
            generation: c.generation,
            stripes: c.stripes,
        },
    }
}
