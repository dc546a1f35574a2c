//! [`GlobalCircuitBreaker`]: the registry of component breakers, their defaults, the derived
//! global fuse and the hooks.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use dashmap::DashMap;

use crate::clock::Timeline;
use crate::component::ComponentBreaker;
use crate::config::ConfigValue;
use crate::file::{FileError, FileLayer, FileReport};
use crate::fuse::Fuse;
use crate::guard::{Breaker, Permit};
use crate::layers::{self, CodeLayer, LayerError};
use crate::names::{self, GLOBAL};
use crate::sync::{lock, Mutex};
use crate::telemetry::{Event, Hook, Hooks, Transition};
use crate::{CircuitConfig, CircuitError, Clock, ConfigError, SystemClock};

/// Why a component could not be registered or reconfigured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is not usable.
    #[error("invalid component name `{name}`: {reason}")]
    InvalidName {
        /// The refused name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// No component has that name.
    #[error("no circuit breaker is registered for component `{name}`")]
    UnknownComponent {
        /// The name that was asked for.
        name: String,
    },
    /// The config is invalid; nothing changed.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The registry: one [`ComponentBreaker`] per component, defaults that components without an
/// override follow, the derived global fuse (`"__global__"`), and the event hooks.
///
/// ```
/// use breaker::{Breaker, CircuitConfig, GlobalCircuitBreaker, Outcome, Permit};
///
/// let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?;
/// registry.register("binance_ws")?;
/// match registry.acquire("binance_ws") {
///     Permit::Allowed(guard) => {
///         // ... call the exchange ...
///         guard.record(Outcome::Success);
///     }
///     Permit::Rejected(e) => eprintln!("not calling: {e}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GlobalCircuitBreaker {
    breakers: DashMap<String, Arc<ComponentBreaker>, rustc_hash::FxBuildHasher>,
    /// The defaults set in code (builder, `reload`): layer 2.
    base: ArcSwap<CircuitConfig>,
    /// The config file in force, if any: layers 3 and 5.
    file: ArcSwapOption<FileLayer>,
    /// The effective defaults: `base` under the file's `[defaults]` and `[global]`.
    config: ArcSwap<CircuitConfig>,
    clock: Arc<dyn Clock>,
    timeline: Timeline,
    fuse: Arc<Fuse>,
    hooks: Arc<Hooks>,
    /// Serialises registration and reloads (never taken by calls).
    config_lock: Mutex<()>,
}

impl fmt::Debug for GlobalCircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalCircuitBreaker")
            .field("components", &self.breakers.len())
            .field("fuse", &self.fuse)
            .finish_non_exhaustive()
    }
}

/// Builds a [`GlobalCircuitBreaker`] with a clock and hooks in place before the first call.
#[must_use]
pub struct RegistryBuilder {
    config: CircuitConfig,
    clock: Arc<dyn Clock>,
    hooks: Vec<Hook>,
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("config", &self.config)
            .field("hooks", &self.hooks.len())
            .finish_non_exhaustive()
    }
}

impl RegistryBuilder {
    /// The defaults every component follows unless it has its own config.
    pub fn config(mut self, config: CircuitConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A hook for every [`Event`].
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Validates the config and builds the registry.
    pub fn build(self) -> Result<GlobalCircuitBreaker, ConfigError> {
        self.config.validate()?;
        let registry = GlobalCircuitBreaker::with_valid(self.config, self.clock);
        for hook in self.hooks {
            registry.hooks.add(hook);
        }
        Ok(registry)
    }
}

impl GlobalCircuitBreaker {
    /// A registry with these defaults and the system clock.
    pub fn new(config: CircuitConfig) -> Result<Self, ConfigError> {
        Self::builder().config(config).build()
    }

    /// A builder, for a custom clock or hooks.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            config: CircuitConfig::DEFAULT,
            clock: Arc::new(SystemClock),
            hooks: Vec::new(),
        }
    }

    pub(crate) fn with_valid(config: CircuitConfig, clock: Arc<dyn Clock>) -> Self {
        let timeline = Timeline::new(Arc::clone(&clock));
        let hooks = Arc::new(Hooks::default());
        let fuse_breaker = ComponentBreaker::build(
            GLOBAL,
            config,
            timeline.clone(),
            None,
            Arc::clone(&hooks),
            true,
        );
        Self {
            // Names come from code and config files, not from attackers, so a fast hash is
            // safe and halves the cost of a lookup by name.
            breakers: DashMap::with_hasher(rustc_hash::FxBuildHasher),
            base: ArcSwap::from_pointee(config),
            file: ArcSwapOption::empty(),
            config: ArcSwap::from_pointee(config),
            clock,
            timeline,
            fuse: Arc::new(Fuse::new(fuse_breaker, config.global_trip_conditions)),
            hooks,
            config_lock: Mutex::new(()),
        }
    }

    /// The breaker for `name`, registered with the registry's defaults if it is new.
    pub fn register(&self, name: &str) -> Result<Arc<ComponentBreaker>, RegistryError> {
        self.insert(name, None)
    }

    /// The breaker for `name` with its own config (which it then keeps across reloads of the
    /// defaults). If `name` is already registered, its config is replaced and its state kept.
    pub fn register_with(
        &self,
        name: &str,
        config: CircuitConfig,
    ) -> Result<Arc<ComponentBreaker>, RegistryError> {
        self.insert(name, Some(config))
    }

    fn insert(
        &self,
        name: &str,
        config: Option<CircuitConfig>,
    ) -> Result<Arc<ComponentBreaker>, RegistryError> {
        names::check(name).map_err(|reason| RegistryError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        if let Some(config) = &config {
            config.validate()?;
        }
        let breaker = self.insert_layered(name, CodeLayer::Defaults);
        if let Some(config) = config {
            // Whether this call or a racing one created it, the explicit config wins.
            self.reload_component(name, config)?;
        }
        Ok(breaker)
    }

    /// Registers a component declared in a `breakers!` manifest (its name and config were
    /// checked at compile time), or returns the one already registered under that name.
    pub(crate) fn declare(
        &self,
        name: &'static str,
        config: Option<CircuitConfig>,
        fields: &'static [&'static str],
    ) -> Arc<ComponentBreaker> {
        if let Some(existing) = self.component(name) {
            return existing;
        }
        let code = match config {
            Some(config) => CodeLayer::Fields(Box::new(config), fields),
            None => CodeLayer::Defaults,
        };
        self.insert_layered(name, code)
    }

    /// Gets or creates `name`, its config layered from `code`, the defaults and the file.
    fn insert_layered(&self, name: &str, code: CodeLayer) -> Arc<ComponentBreaker> {
        if let Some(existing) = self.component(name) {
            return existing;
        }
        // Serialised with reloads, so a component created during a reload cannot miss it.
        let guard = lock(&self.config_lock);
        let defaults = self.config();
        let file = self.file.load_full();
        let (config, refused) = match layers::effective(&defaults, &code, file.as_deref(), name) {
            Ok(config) => (config, None),
            // A combination of layers that breaks a rule: the component starts on the defaults
            // and the refusal is reported, rather than failing a call that cannot handle it.
            Err(e) => (defaults, Some(e)),
        };
        let mut created = false;
        let breaker = Arc::clone(&self.breakers.entry(name.to_owned()).or_insert_with(|| {
            let breaker = Arc::new(ComponentBreaker::build(
                names::intern(name),
                config,
                self.timeline.clone(),
                Some(Arc::clone(&self.fuse)),
                Arc::clone(&self.hooks),
                false,
            ));
            **lock(&breaker.code) = code;
            // A member before it is visible, so the fuse never counts it as unhealthy first.
            self.fuse.add_member(&breaker);
            created = true;
            breaker
        }));
        drop(guard);
        if created {
            if let Some(e) = refused {
                self.hooks.emit(&Event::ConfigRefused {
                    component: Some(breaker.name()),
                    error: layer_config_error(e),
                });
            }
            self.fuse.derive(self.timeline.now_nanos());
        }
        breaker
    }

    /// The breaker for `name`, if registered.
    pub fn component(&self, name: &str) -> Option<Arc<ComponentBreaker>> {
        self.breakers.get(name).map(|b| Arc::clone(b.value()))
    }

    /// The names of all registered components, sorted.
    pub fn components(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.breakers.iter().map(|b| b.value().name()).collect();
        names.sort_unstable();
        names
    }

    /// The global fuse's breaker (`"__global__"`). Its state is derived; forcing or disabling
    /// it is an operator's kill switch, and [`reset`](ComponentBreaker::reset) hands it back to
    /// the derivation at the next component transition.
    pub fn global(&self) -> &ComponentBreaker {
        &self.fuse.breaker
    }

    /// The registry's defaults.
    pub fn config(&self) -> CircuitConfig {
        **self.config.load()
    }

    /// The clock every breaker of this registry reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Validates `config` and makes it the new defaults (layer 2), for every component
    /// without its own config and for the global fuse's conditions. State and counts are kept; a
    /// changed threshold applies at the next evaluation. An invalid config is refused, the
    /// running one stays, and either way an [`Event`] says so.
    pub fn reload(&self, config: CircuitConfig) -> Result<(), ConfigError> {
        let guard = lock(&self.config_lock);
        let file = self.file.load_full();
        let planned = config
            .validate()
            .map_err(|e| (None, LayerError::Invalid(e)))
            .and_then(|()| self.plan(&config, file.as_deref()));
        match planned {
            Ok(plan) => {
                self.base.store(Arc::new(config));
                self.commit(plan);
                drop(guard);
                self.fuse.derive(self.timeline.now_nanos());
                self.hooks.emit(&Event::ConfigReloaded { component: None });
                Ok(())
            }
            Err((component, e)) => {
                drop(guard);
                let error = layer_config_error(e);
                self.hooks.emit(&Event::ConfigRefused {
                    component,
                    error: error.clone(),
                });
                Err(error)
            }
        }
    }

    /// Gives one component its own config (layer 4, replacing a manifest's fields), validated
    /// first; see [`reload`](Self::reload). The file's `[components.<name>]` still applies on
    /// top.
    pub fn reload_component(&self, name: &str, config: CircuitConfig) -> Result<(), RegistryError> {
        let breaker = self
            .component(name)
            .ok_or_else(|| RegistryError::UnknownComponent {
                name: name.to_owned(),
            })?;
        let guard = lock(&self.config_lock);
        let file = self.file.load_full();
        let code = CodeLayer::Full(Box::new(config));
        let planned = config
            .validate()
            .map_err(LayerError::Invalid)
            .and_then(|()| layers::effective(&self.config(), &code, file.as_deref(), name));
        match planned {
            Ok(effective) => {
                **lock(&breaker.code) = code;
                breaker.apply(effective);
                drop(guard);
                self.hooks.emit(&Event::ConfigReloaded {
                    component: Some(breaker.name()),
                });
                Ok(())
            }
            Err(e) => {
                drop(guard);
                let error = layer_config_error(e);
                self.hooks.emit(&Event::ConfigRefused {
                    component: Some(breaker.name()),
                    error: error.clone(),
                });
                Err(error.into())
            }
        }
    }

    /// Reads a `breakers.toml` file and puts it in force (layers 3 and 5; see the
    /// [`file`](crate::file) module for its shape), all or nothing: a file that does not parse
    /// or breaks a rule is refused with an error naming the file, line, field and rule, and the
    /// running config stays. Either way an [`Event`] says so.
    pub fn reload_from_path(&self, path: impl AsRef<Path>) -> Result<FileReport, FileError> {
        let path = path.as_ref();
        self.put_file(FileLayer::read(path), Some(path))
    }

    /// [`reload_from_path`](Self::reload_from_path) for a config already in memory.
    pub fn reload_from_str(&self, text: &str) -> Result<FileReport, FileError> {
        self.put_file(FileLayer::parse(text, None), None)
    }

    fn put_file(
        &self,
        parsed: Result<FileLayer, FileError>,
        path: Option<&Path>,
    ) -> Result<FileReport, FileError> {
        let guard = lock(&self.config_lock);
        let planned = parsed.and_then(|file| {
            let plan = self
                .plan(&self.base.load(), Some(&file))
                .map_err(|(component, e)| file.locate(component, e))?;
            Ok((file, plan))
        });
        match planned {
            Ok((file, plan)) => {
                let report = FileReport {
                    unknown_components: file
                        .component_names()
                        .filter(|name| !self.breakers.contains_key(*name))
                        .map(str::to_owned)
                        .collect(),
                };
                self.file.store(Some(Arc::new(file)));
                self.commit(plan);
                drop(guard);
                self.fuse.derive(self.timeline.now_nanos());
                if !report.unknown_components.is_empty() {
                    tracing::warn!(
                        target: "breaker",
                        file = ?path,
                        unknown = ?report.unknown_components,
                        "breaker config names components that are not registered"
                    );
                }
                self.hooks.emit(&Event::FileReloaded {
                    path: path.map(Path::to_owned),
                    unknown_components: report.unknown_components.clone(),
                });
                Ok(report)
            }
            Err(error) => {
                drop(guard);
                self.hooks.emit(&Event::FileRefused {
                    path: path.map(Path::to_owned),
                    error: error.to_string(),
                });
                Err(error)
            }
        }
    }

    /// The path of the config file in force, if it came from one.
    pub fn config_file(&self) -> Option<std::path::PathBuf> {
        self.file
            .load()
            .as_deref()
            .and_then(|f| f.path().map(Path::to_owned))
    }

    /// Every component's config under new layers, checked before anything changes. The error
    /// names the component (`None`: the defaults).
    fn plan(
        &self,
        base: &CircuitConfig,
        file: Option<&FileLayer>,
    ) -> Result<Plan, (Option<&'static str>, LayerError)> {
        let defaults = layers::effective_defaults(base, file).map_err(|e| (None, e))?;
        let mut components = Vec::new();
        for breaker in self.breakers() {
            let code = (**lock(&breaker.code)).clone();
            let name = breaker.name();
            let config =
                layers::effective(&defaults, &code, file, name).map_err(|e| (Some(name), e))?;
            components.push((breaker, config));
        }
        Ok(Plan {
            defaults,
            components,
        })
    }

    fn commit(&self, plan: Plan) {
        self.config.store(Arc::new(plan.defaults));
        for (breaker, config) in plan.components {
            breaker.apply(config);
        }
        self.fuse.breaker.apply(plan.defaults);
        self.fuse
            .conditions
            .store(Arc::new(plan.defaults.global_trip_conditions));
    }

    /// A hook for every [`Event`]. Hooks run on the thread that caused the event, outside
    /// every lock; a hook that panics is logged and skipped.
    pub fn on_event(&self, hook: impl Fn(&Event) + Send + Sync + 'static) {
        self.hooks.add(Arc::new(hook));
    }

    /// A hook for state changes only.
    pub fn on_state_change(&self, hook: impl Fn(&Transition) + Send + Sync + 'static) {
        self.on_event(move |event| {
            if let Event::StateChanged(t) = event {
                hook(t);
            }
        });
    }

    pub(crate) fn fuse(&self) -> &Fuse {
        &self.fuse
    }

    pub(crate) fn breakers(&self) -> impl Iterator<Item = Arc<ComponentBreaker>> + '_ {
        self.breakers.iter().map(|b| Arc::clone(b.value()))
    }
}

/// New configs for the defaults and every component, all valid.
struct Plan {
    defaults: CircuitConfig,
    components: Vec<(Arc<ComponentBreaker>, CircuitConfig)>,
}

fn layer_config_error(e: LayerError) -> ConfigError {
    match e {
        LayerError::Invalid(e) => e,
        // Only a manifest field that does not survive a serde round trip gets here. Rules are
        // `&'static str` (so the const checker can build them); this one is interned like
        // component names.
        LayerError::Type(message) => {
            ConfigError::runtime("config", ConfigValue::Count(0), names::intern(&message))
        }
    }
}

impl Breaker for GlobalCircuitBreaker {
    /// Looks `component` up (one hash lookup and a reference-count increment, which manifest
    /// handles avoid) and acquires from its breaker.
    fn acquire(&self, component: &str) -> Permit<'_> {
        // The map's shard guard is dropped before admitting: admission may transition and
        // run hooks, which may register components.
        match self.component(component) {
            Some(breaker) => breaker.into_permit(),
            None => Permit::Rejected(CircuitError::ComponentMissing {
                component: component.to_owned().into(),
            }),
        }
    }
}
