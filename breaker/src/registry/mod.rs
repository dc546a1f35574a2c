//! [`GlobalCircuitBreaker`]: the registry of component breakers, their defaults, the derived
//! global fuse and the hooks.

mod call;
mod change;
mod default;
pub(crate) mod events;
pub(crate) mod extensions;
pub(crate) mod families;
pub(crate) mod family;
mod family_handle;
pub(crate) mod fleet_gate;
mod fuse;
mod handle;
mod plan;
mod reconfigure;
mod strict;
#[cfg(feature = "watch")]
mod watch;

pub use call::Breaker;
pub use default::{install, registry, AlreadyInstalled};
pub use events::{Event, FleetEvent};
pub use family::{Family, KeyError, KeyRef, EVICTION_BUDGET, MAX_KEY_LEN, OVERFLOW_KEY};
pub use family_handle::{FamilyHandle, IntoKey};
pub use handle::ComponentHandle;
#[cfg(feature = "watch")]
pub use watch::{watch, watch_with};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use dashmap::DashMap;
use rustc_hash::FxHashMap;

use crate::config::{CodeLayer, Defaults, FileLayer};
use crate::engine::clock::Timeline;
use crate::engine::events::Transition;
use crate::engine::loom_shim::{lock, Mutex, RwLock};
use crate::engine::ComponentBreaker;
use crate::names::ComponentName;
use crate::{CircuitConfig, Clock, ConfigError, ConfigLayer, SystemClock};
use events::{Hook, Hooks};
use extensions::Extensions;
use family::FamilyLayer;
use fuse::Fuse;
use strict::Strictness;

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
/// use breaker::{CircuitConfig, GlobalCircuitBreaker, Outcome, Permit};
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
    /// Keyed by the breaker's own name (the key shares its allocation).
    breakers: DashMap<ComponentName, Arc<ComponentBreaker>, rustc_hash::FxBuildHasher>,
    /// The effective defaults (layers 1 to 3), for readers that take no lock.
    config: ArcSwap<CircuitConfig>,
    clock: Arc<dyn Clock>,
    timeline: Timeline,
    fuse: Arc<Fuse>,
    hooks: Arc<Hooks>,
    /// What the layers above keep on the registry (the `on_metrics` hooks).
    extensions: Extensions,
    /// Keyed families, by name (looked up by name on the cold path only: handles and
    /// layers keep their family).
    families: RwLock<std::collections::BTreeMap<ComponentName, Arc<Family>>>,
    /// Every layer. Its lock serialises registration and reloads (calls never take it).
    layers: Mutex<Layers>,
    /// Strict mode, as set or as a declared manifest turned it on.
    strict: Strictness,
    /// Unique for the process's lifetime (addresses are reused), so a manifest handle can
    /// remember cheaply that it declared its manifest here.
    id: u64,
}

/// The next registry's [`GlobalCircuitBreaker::id`]; 0 is never one.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The layers every component's config is made of (see `config/layering.rs`).
pub(super) struct Layers {
    /// Layer 2: the defaults in code (builder, `reload`).
    pub(super) base: CircuitConfig,
    /// Layers 3 and 5: the config file in force, if any.
    pub(super) file: Option<Arc<FileLayer>>,
    /// Layer 4 of each component that has one (a component absent here follows the
    /// defaults), with what the registry decided about it.
    pub(super) own: FxHashMap<ComponentName, Own>,
    /// Each keyed family's layers from code.
    pub(super) families: std::collections::BTreeMap<ComponentName, FamilyLayer>,
}

#[derive(Debug, Clone)]
pub(super) struct Own {
    pub(super) code: CodeLayer,
    /// A `breakers!` entry was declared for it (its layer 4 may since have been replaced by
    /// `register_with` / `reload_component`, which win over the entry).
    pub(super) declared: bool,
    /// The conflicts the manifest conflict rule resolved, as last reported; each is reported
    /// once, when it appears.
    pub(super) reported: Vec<ConfigError>,
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
    strict: Option<bool>,
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

    /// Strict mode: a config file with a `[components.<name>]` section for a component that
    /// is neither registered nor declared is refused, naming the closest component ("did you
    /// mean ..."), instead of being reported and kept. Unset, it is on once a `breakers!`
    /// manifest has been declared into the registry.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = Some(strict);
        self
    }

    /// Validates the config and builds the registry.
    pub fn build(self) -> Result<GlobalCircuitBreaker, ConfigError> {
        self.config.validate()?;
        let registry = GlobalCircuitBreaker::with_valid(self.config, self.clock);
        registry.strict.set(self.strict);
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
            strict: None,
        }
    }

    pub(crate) fn with_valid(config: CircuitConfig, clock: Arc<dyn Clock>) -> Self {
        let timeline = Timeline::new(Arc::clone(&clock));
        let hooks = Arc::new(Hooks::default());
        let fuse = Fuse::new(config, timeline.clone(), Arc::clone(&hooks));
        Self {
            // Names come from code and config files, not from attackers, so a fast hash is
            // safe and halves the cost of a lookup by name.
            breakers: DashMap::with_hasher(rustc_hash::FxBuildHasher),
            config: ArcSwap::from_pointee(config),
            clock,
            timeline,
            fuse,
            hooks,
            extensions: Extensions::default(),
            families: RwLock::new(std::collections::BTreeMap::new()),
            layers: Mutex::new(Layers {
                base: config,
                file: None,
                own: FxHashMap::default(),
                families: std::collections::BTreeMap::new(),
            }),
            strict: Strictness::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This registry's identity, unique for the process's lifetime.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The breaker for `name`, if registered.
    pub fn component(&self, name: &str) -> Option<Arc<ComponentBreaker>> {
        self.breakers.get(name).map(|b| Arc::clone(b.value()))
    }

    /// The names of all registered components, sorted.
    pub fn components(&self) -> Vec<ComponentName> {
        let mut names: Vec<_> = self.breakers.iter().map(|b| b.key().clone()).collect();
        names.sort_unstable();
        names
    }

    /// The global fuse's breaker (`"__global__"`). Its state is derived; forcing or disabling
    /// it is an operator's kill switch, and [`reset`](ComponentBreaker::reset) hands it back to
    /// the derivation at the next component transition.
    pub fn global(&self) -> &ComponentBreaker {
        self.fuse.breaker()
    }

    /// The registry's effective defaults: its defaults in code with the config file's
    /// `[defaults]` and `[global]` on top (layers 1 to 3), what a component without its own
    /// config follows.
    ///
    /// Not the base for a code reload: `reload(CircuitConfig { .., ..registry.config() })`
    /// writes the file's values into the code layer, so they would stay after the file drops
    /// them. Build on [`code_defaults`](Self::code_defaults) instead.
    pub fn config(&self) -> CircuitConfig {
        **self.config.load()
    }

    /// The registry's defaults in code (layer 2: the builder's config or the last
    /// [`reload`](Self::reload)), without the config file's keys: the base to change one
    /// field of in a code reload, `reload(CircuitConfig { min_calls: 50,
    /// ..registry.code_defaults() })`, so the file's `[defaults]` stay the file's.
    pub fn code_defaults(&self) -> CircuitConfig {
        lock(&self.layers).base
    }

    /// The clock every breaker of this registry reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether config files are checked strictly (see [`RegistryBuilder::strict`]).
    pub fn is_strict(&self) -> bool {
        self.strict.is_strict()
    }

    /// Turns strict mode on or off for the files loaded from now on (see
    /// [`RegistryBuilder::strict`]).
    pub fn set_strict(&self, strict: bool) {
        self.strict.set(Some(strict));
    }

    /// The config file's `[fleet]` section in force, if any (what a
    /// [`Fleet`](crate#fleet-quorum) started from this registry follows; a file with an
    /// invalid one is refused whole, so this stays the last valid one).
    pub fn fleet_config(&self) -> Option<crate::FleetConfig> {
        lock(&self.layers)
            .file
            .as_deref()
            .and_then(|f| f.fleet().cloned())
    }

    /// The path of the config file in force, if it came from one.
    pub fn config_file(&self) -> Option<PathBuf> {
        lock(&self.layers)
            .file
            .as_deref()
            .and_then(|f| f.path().map(Path::to_owned))
    }

    /// Where each field of component `name`'s config in force came from, layer by layer
    /// (`None`: not registered). Cold: it takes the registration lock and re-layers the
    /// component; for operators' views, never for calls.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn config_sources(&self, name: &str) -> Option<Vec<(&'static str, ConfigLayer)>> {
        self.breakers.get(name)?;
        let layers = lock(&self.layers);
        let file = layers.file.as_deref();
        let defaults = Defaults::new(&layers.base, file).ok()?;
        let code = layers
            .own
            .get(name)
            .map_or(CodeLayer::Defaults, |o| o.code.clone());
        let section = file.and_then(|f| f.component(name));
        defaults.sources(name, &code, section).ok()
    }

    /// A hook for every [`Event`]. Hooks run on the thread that caused the event, outside
    /// every lock and outside a handle's once-only initialisation, on every path; a hook that
    /// panics is logged and skipped.
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

    /// How many component windows the global fuse has read to count calls (a test hook: the
    /// fuse reads them only when `global_trip_conditions.min_calls > 0`, the ratio holds and
    /// it could open, and stops once the minimum is reached).
    #[doc(hidden)]
    pub fn fuse_window_reads(&self) -> u64 {
        self.fuse.window_reads()
    }

    /// What the layers above keep on the registry.
    pub(crate) fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Components `Open` or `HalfOpen`, as the fuse counts them.
    pub(crate) fn unhealthy(&self) -> u32 {
        self.fuse.unhealthy()
    }

    /// The fleet's gates over this registry's components and its status (the `fleet` layer
    /// holds them; the observe layer reads the status).
    pub(crate) fn fleet_gates(&self) -> &fleet_gate::FleetGates {
        self.fuse.fleet()
    }

    /// Tells the hooks (the fleet's events come through here).
    #[cfg(feature = "fleet")]
    pub(crate) fn emit(&self, event: &Event) {
        self.hooks.emit(event);
    }

    pub(crate) fn breakers(&self) -> impl Iterator<Item = Arc<ComponentBreaker>> + '_ {
        self.breakers.iter().map(|b| Arc::clone(b.value()))
    }
}
