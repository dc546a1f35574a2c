//! [`GlobalCircuitBreaker`]: the registry of component breakers, their defaults, the derived
//! global fuse and the hooks.

mod call;
mod default;
pub(crate) mod events;
mod fuse;
mod handle;

pub use call::Breaker;
pub use default::{install, registry, AlreadyInstalled};
pub use events::Event;
pub use handle::ComponentHandle;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use arc_swap::ArcSwap;
use dashmap::DashMap;
use rustc_hash::FxHashMap;

use crate::config::{CodeLayer, Defaults, FileError, FileLayer, FileReport, Layered, Resolved};
use crate::engine::clock::Timeline;
use crate::engine::events::Owner;
use crate::engine::events::Transition;
use crate::engine::loom_shim::{lock, Mutex};
use crate::engine::{ComponentBreaker, Role};
use crate::names::{self, ComponentName};
use crate::{CircuitConfig, Clock, ConfigError, SystemClock};
use events::{Hook, Hooks};
use fuse::Fuse;

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
    /// Keyed by the breaker's own name (the key shares its allocation).
    breakers: DashMap<ComponentName, Arc<ComponentBreaker>, rustc_hash::FxBuildHasher>,
    /// The effective defaults (layers 1 to 3), for readers that take no lock.
    config: ArcSwap<CircuitConfig>,
    clock: Arc<dyn Clock>,
    timeline: Timeline,
    fuse: Arc<Fuse>,
    hooks: Arc<Hooks>,
    /// Every layer. Its lock serialises registration and reloads (calls never take it).
    layers: Mutex<Layers>,
    /// Strict mode as set ([`STRICT_AUTO`] until the builder or `set_strict` says).
    strict: AtomicU8,
    /// Whether a `breakers!` manifest was declared here (turns `STRICT_AUTO` on).
    declared: AtomicBool,
    /// Unique for the process's lifetime (addresses are reused), so a manifest handle can
    /// remember cheaply that it declared its manifest here.
    id: u64,
}

/// The next registry's [`GlobalCircuitBreaker::id`]; 0 is never one.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Strict mode follows whether a manifest was declared.
const STRICT_AUTO: u8 = 0;
const STRICT_ON: u8 = 1;
const STRICT_OFF: u8 = 2;

/// The layers every component's config is made of (see `config/layering.rs`).
struct Layers {
    /// Layer 2: the defaults in code (builder, `reload`).
    base: CircuitConfig,
    /// Layers 3 and 5: the config file in force, if any.
    file: Option<Arc<FileLayer>>,
    /// Layer 4 of each component that has one (a component absent here follows the
    /// defaults), with what the registry decided about it.
    own: FxHashMap<ComponentName, Own>,
}

#[derive(Debug, Clone)]
struct Own {
    code: CodeLayer,
    /// A `breakers!` entry was declared for it (its layer 4 may since have been replaced by
    /// `register_with` / `reload_component`, which win over the entry).
    declared: bool,
    /// The conflicts the manifest conflict rule resolved, as last reported; each is reported
    /// once, when it appears.
    reported: Vec<ConfigError>,
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
    strict: u8,
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
        self.strict = if strict { STRICT_ON } else { STRICT_OFF };
        self
    }

    /// Validates the config and builds the registry.
    pub fn build(self) -> Result<GlobalCircuitBreaker, ConfigError> {
        self.config.validate()?;
        let registry = GlobalCircuitBreaker::with_valid(self.config, self.clock);
        registry.strict.store(self.strict, Ordering::Relaxed);
        for hook in self.hooks {
            registry.hooks.add(hook);
        }
        Ok(registry)
    }
}

/// Which layer an operation changes, and how. Every entry point describes its operation as
/// one of these and hands it to [`GlobalCircuitBreaker::change`], the one path by which
/// config reaches a breaker.
enum Change<'a> {
    /// Layer 4 of one component, registering it if it is new. `code: None` keeps a
    /// registered component's own layer (`register`); `Some` replaces it (`register_with`,
    /// `reload_component`). `existing`: the component must already be registered.
    Component {
        name: &'a str,
        code: Option<CodeLayer>,
        existing: bool,
    },
    /// `breakers!` entries: registered if new, given the entry's layer if registered on the
    /// defaults by name. Cannot be refused.
    Declare(Vec<(&'static str, CodeLayer)>),
    /// Layer 2 (`reload`).
    Defaults(CircuitConfig),
    /// Layers 3 and 5 (`reload_from_path`, `reload_from_str`, the watcher).
    File {
        parsed: Box<Result<FileLayer, FileError>>,
        path: Option<&'a Path>,
    },
}

/// A refused operation: the error for its caller, and the event that announces it.
struct Refused {
    error: Refusal,
    event: Option<Event>,
}

/// The error a refused operation returns. Each kind of [`Change`] refuses with its own
/// variant: components with `Registry`, code defaults with `Config`, files with `File`.
enum Refusal {
    Registry(RegistryError),
    Config(ConfigError),
    File(FileError),
}

impl Refusal {
    /// A component change's error.
    fn into_registry(self) -> RegistryError {
        match self {
            Self::Registry(e) => e,
            Self::Config(e) => RegistryError::Config(e),
            Self::File(e) => RegistryError::Config(file_rule(e)),
        }
    }

    /// A code reload's error.
    fn into_config(self) -> ConfigError {
        match self {
            Self::Config(e) | Self::Registry(RegistryError::Config(e)) => e,
            Self::File(e) => file_rule(e),
            Self::Registry(e) => {
                ConfigError::runtime("config", crate::ConfigValue::Count(0), registry_rule(&e))
            }
        }
    }

    /// A file change's error.
    fn into_file(self, path: Option<&Path>) -> FileError {
        match self {
            Self::File(e) => e,
            Self::Config(error) | Self::Registry(RegistryError::Config(error)) => {
                FileError::Invalid {
                    path: path.map(Path::to_owned),
                    line: error.line(),
                    section: "defaults".to_owned(),
                    error,
                }
            }
            Self::Registry(e) => FileError::Parse {
                path: path.map(Path::to_owned),
                line: 1,
                column: 1,
                message: e.to_string(),
            },
        }
    }
}

/// The rule a file refusal broke, for callers that report a [`ConfigError`].
fn file_rule(e: FileError) -> ConfigError {
    match e {
        FileError::Invalid { error, .. } => error,
        _ => ConfigError::runtime(
            "config",
            crate::ConfigValue::Count(0),
            "refused by the config file",
        ),
    }
}

fn registry_rule(e: &RegistryError) -> &'static str {
    match e {
        RegistryError::InvalidName { .. } => "invalid component name",
        _ => "no such component",
    }
}

/// A committed operation.
struct Done {
    /// The breakers a `Component` or `Declare` change named, in order.
    breakers: Vec<Arc<ComponentBreaker>>,
    report: FileReport,
}

/// Hooks to run and the fuse to re-derive once every lock (and any once-only
/// initialisation the caller is in) is behind us.
#[must_use]
pub(crate) struct Pending<'r> {
    registry: &'r GlobalCircuitBreaker,
    events: Vec<Event>,
    derive: bool,
}

impl Pending<'_> {
    /// Runs the hooks: never call it while holding a lock or inside a once-only init.
    pub(crate) fn emit(self) {
        if self.derive {
            self.registry
                .fuse
                .derive(self.registry.timeline.now_nanos());
        }
        for event in &self.events {
            if let Event::FileReloaded {
                path,
                unknown_components,
            } = event
            {
                if !unknown_components.is_empty() {
                    tracing::warn!(
                        target: "breaker",
                        file = ?path,
                        unknown = ?unknown_components,
                        "breaker config names components that are not registered"
                    );
                }
            }
            self.registry.hooks.emit(event);
        }
    }
}

/// Everything a change would do, computed and validated before anything is committed.
struct Plan {
    base: CircuitConfig,
    file: Option<Arc<FileLayer>>,
    defaults: CircuitConfig,
    components: Vec<Planned>,
    /// The names a `Component` or `Declare` change asked for, in order.
    named: Vec<ComponentName>,
    declared: bool,
    report: FileReport,
    /// The events that announce the change (none for a registration, which is not a reload).
    announce: Vec<Event>,
}

/// One component the change lays out (again).
struct Planned {
    /// The breaker's own name if it exists, else the one it will be made with.
    name: ComponentName,
    existing: Option<Arc<ComponentBreaker>>,
    code: CodeLayer,
    /// A `breakers!` entry is declared for it.
    declared: bool,
    layered: Layered,
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
            strict: STRICT_AUTO,
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
            layers: Mutex::new(Layers {
                base: config,
                file: None,
                own: FxHashMap::default(),
            }),
            strict: AtomicU8::new(STRICT_AUTO),
            declared: AtomicBool::new(false),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This registry's identity, unique for the process's lifetime.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The breaker for `name`, registered on the registry's defaults (and the file's
    /// `[components.<name>]`, if any) if it is new.
    pub fn register(&self, name: &str) -> Result<Arc<ComponentBreaker>, RegistryError> {
        if let Some(existing) = self.component(name) {
            return Ok(existing);
        }
        self.component_change(name, None, false)
    }

    /// The breaker for `name` with its own config (which it then keeps across reloads of the
    /// defaults; the file's `[components.<name>]` still applies on top). If `name` is already
    /// registered, its config is replaced and its state kept. All or nothing: a config that is
    /// invalid, or that conflicts with the file's section for `name`, is refused with an
    /// error naming the component, the field, the value and the file's line, and nothing is
    /// registered or changed.
    ///
    /// This config wins over a `breakers!` entry for `name`, whether the entry is declared
    /// before or after ([`Event::ManifestEntryIgnored`] then says so). Its
    /// `global_trip_conditions` is ignored: the fuse reads the registry's only, so the
    /// component's [`config`](ComponentBreaker::config) carries the registry's (a `breakers!`
    /// entry that names the field does not compile, a file section that sets it is refused).
    pub fn register_with(
        &self,
        name: &str,
        config: CircuitConfig,
    ) -> Result<Arc<ComponentBreaker>, RegistryError> {
        self.component_change(name, Some(CodeLayer::Full(config)), false)
    }

    /// Gives one component its own config (layer 4, replacing a manifest's fields for good),
    /// all or nothing as [`register_with`](Self::register_with), and with its
    /// `global_trip_conditions` ignored as there; the component must be registered. The
    /// file's `[components.<name>]` still applies on top.
    pub fn reload_component(&self, name: &str, config: CircuitConfig) -> Result<(), RegistryError> {
        self.component_change(name, Some(CodeLayer::Full(config)), true)
            .map(drop)
    }

    fn component_change(
        &self,
        name: &str,
        code: Option<CodeLayer>,
        existing: bool,
    ) -> Result<Arc<ComponentBreaker>, RegistryError> {
        let change = Change::Component {
            name,
            code,
            existing,
        };
        let done = self.run(change).map_err(Refusal::into_registry)?;
        done.breakers
            .into_iter()
            .next()
            .ok_or_else(|| RegistryError::UnknownComponent {
                name: name.to_owned(),
            })
    }

    /// Registers the `breakers!` entries `handles` that are not registered yet and returns
    /// their breakers in order. Declaring cannot be refused (see the manifest conflict rule
    /// in [Config files](crate#config-files) for the rule that resolves conflicts); the returned [`Pending`] runs the hooks, which
    /// the caller must do outside any once-only initialisation it is in.
    pub(crate) fn declare(
        &self,
        handles: &[&crate::ComponentHandle],
    ) -> (Vec<Arc<ComponentBreaker>>, Pending<'_>) {
        let entries = handles.iter().map(|h| (h.name(), h.code_layer())).collect();
        let (outcome, pending) = self.change(Change::Declare(entries));
        let breakers = match outcome {
            Ok(done) => done.breakers,
            Err(_) => Vec::new(),
        };
        (breakers, pending)
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
        match self.strict.load(Ordering::Relaxed) {
            STRICT_ON => true,
            STRICT_OFF => false,
            _ => self.declared.load(Ordering::Relaxed),
        }
    }

    /// Turns strict mode on or off for the files loaded from now on (see
    /// [`RegistryBuilder::strict`]).
    pub fn set_strict(&self, strict: bool) {
        let value = if strict { STRICT_ON } else { STRICT_OFF };
        self.strict.store(value, Ordering::Relaxed);
    }

    /// Validates `config` and makes it the new defaults (layer 2), for every component
    /// without its own config and for the global fuse's conditions. All or nothing: every
    /// component's new config is computed and validated first (with the file's sections on
    /// top, including those of components not registered yet); a refusal names the
    /// component, the field, the value and the file's line where one takes part, and leaves
    /// everything as it was. State and counts are kept; a changed threshold applies at the
    /// next evaluation. Either way an [`Event`] says so.
    ///
    /// `config` replaces the code layer whole, and a config file's `[defaults]` stay on top
    /// of it. To change some fields, start from [`code_defaults`](Self::code_defaults), not
    /// from [`config`](Self::config): the latter has the file's values baked in, which would
    /// then outlive the file.
    pub fn reload(&self, config: CircuitConfig) -> Result<(), ConfigError> {
        self.run(Change::Defaults(config))
            .map(drop)
            .map_err(Refusal::into_config)
    }

    /// Reads a `breakers.toml` file and puts it in force (layers 3 and 5; see
    /// [Config files](crate#config-files) for its shape), all or nothing: a file that does not parse
    /// or breaks a rule, for any registered component or any component it has a section for,
    /// is refused with an error naming the file, line, field and rule (and, in strict mode, a
    /// section for an unknown component with the closest name), and the running config stays.
    /// Either way an [`Event`] says so.
    pub fn reload_from_path(&self, path: impl AsRef<Path>) -> Result<FileReport, FileError> {
        let path = path.as_ref();
        self.put_file(FileLayer::read(path), Some(path))
    }

    /// [`reload_from_path`](Self::reload_from_path) for a config already in memory.
    pub fn reload_from_str(&self, text: &str) -> Result<FileReport, FileError> {
        self.put_file(FileLayer::parse(text, None), None)
    }

    /// [`reload_from_path`](Self::reload_from_path) for `path`'s contents as the caller read
    /// them (or why it could not): the watcher checks the bytes before it hands them over, so
    /// the registry must not read the file again.
    #[cfg(feature = "watch")]
    pub(crate) fn reload_file_contents(
        &self,
        path: &Path,
        text: Result<&str, FileError>,
    ) -> Result<FileReport, FileError> {
        let parsed = text.and_then(|text| FileLayer::parse(text, Some(path.to_owned())));
        self.put_file(parsed, Some(path))
    }

    fn put_file(
        &self,
        parsed: Result<FileLayer, FileError>,
        path: Option<&Path>,
    ) -> Result<FileReport, FileError> {
        self.run(Change::File {
            parsed: Box::new(parsed),
            path,
        })
        .map(|done| done.report)
        .map_err(|e| e.into_file(path))
    }

    /// The path of the config file in force, if it came from one.
    pub fn config_file(&self) -> Option<PathBuf> {
        lock(&self.layers)
            .file
            .as_deref()
            .and_then(|f| f.path().map(Path::to_owned))
    }

    /// [`change`](Self::change), then the hooks.
    fn run(&self, change: Change<'_>) -> Result<Done, Refusal> {
        let (outcome, pending) = self.change(change);
        pending.emit();
        outcome
    }

    /// The one path by which config reaches a breaker. Under the config lock: compute the
    /// complete new configuration of every affected breaker (and the registry's defaults and
    /// the fuse's conditions) from all layers, validate all of it, then commit all of it or
    /// nothing. The events come back in [`Pending`], for the caller to emit once the lock is
    /// released (and, for a handle, once its initialisation is done).
    fn change(&self, change: Change<'_>) -> (Result<Done, Refusal>, Pending<'_>) {
        let mut pending = Pending {
            registry: self,
            events: Vec::new(),
            derive: false,
        };
        let mut layers = lock(&self.layers);
        let outcome = match self.plan(&layers, change) {
            Ok(plan) => Ok(self.commit(&mut layers, plan, &mut pending)),
            Err(refused) => {
                pending.events.extend(refused.event);
                Err(refused.error)
            }
        };
        drop(layers);
        (outcome, pending)
    }

    /// Computes and validates every config `change` leads to; changes nothing.
    fn plan(&self, layers: &Layers, change: Change<'_>) -> Result<Plan, Box<Refused>> {
        let mut plan = Plan {
            base: layers.base,
            file: layers.file.clone(),
            defaults: self.config(),
            components: Vec::new(),
            named: Vec::new(),
            declared: false,
            report: FileReport::default(),
            announce: Vec::new(),
        };
        // Which layer changes, and how a refusal of it is reported.
        let (scope, path) = match change {
            Change::Defaults(config) => {
                config.validate().map_err(|e| self.refuse_defaults(e))?;
                plan.base = config;
                plan.announce
                    .push(Event::ConfigReloaded { component: None });
                (Scope::All { new_file: false }, None)
            }
            Change::File { parsed, path } => {
                let file = (*parsed).map_err(|e| refuse_file(e, path))?;
                plan.file = Some(Arc::new(file));
                (Scope::All { new_file: true }, path)
            }
            Change::Component {
                name,
                code,
                existing,
            } => {
                names::check(name).map_err(|reason| Refused {
                    error: Refusal::Registry(RegistryError::InvalidName {
                        name: name.to_owned(),
                        reason,
                    }),
                    event: None,
                })?;
                (
                    Scope::One {
                        name,
                        code,
                        existing,
                    },
                    None,
                )
            }
            Change::Declare(entries) => {
                plan.declared = true;
                (Scope::Declare(entries), None)
            }
        };
        let file = plan.file.clone();
        let file = file.as_deref();
        let refuse = |error: ConfigError| match &scope {
            Scope::All { new_file: true } => refuse_file(
                file.map_or_else(
                    || FileError::Invalid {
                        path: path.map(Path::to_owned),
                        line: None,
                        section: "defaults".to_owned(),
                        error: error.clone(),
                    },
                    |f| f.refusal(error.clone()),
                ),
                path,
            ),
            Scope::All { new_file: false } => self.refuse_defaults(error),
            Scope::One { name, .. } => Refused {
                event: self.component(name).map(|b| Event::ConfigRefused {
                    component: Some(b.name().clone()),
                    error: error.clone(),
                }),
                error: Refusal::Config(error),
            },
            // The layers in force were validated when they were put in force.
            Scope::Declare(_) => Refused {
                event: None,
                error: Refusal::Config(error),
            },
        };
        let defaults = Defaults::new(&plan.base, file).map_err(refuse)?;
        plan.defaults = defaults.config();
        match &scope {
            Scope::All { new_file } => {
                self.plan_all(layers, &defaults, *new_file, path, &refuse, &mut plan)?;
            }
            Scope::One {
                name,
                code,
                existing,
            } => self.plan_one(
                layers,
                &defaults,
                name,
                code.as_ref(),
                *existing,
                &refuse,
                &mut plan,
            )?,
            Scope::Declare(entries) => self.plan_declare(layers, &defaults, entries, &mut plan),
        }
        Ok(plan)
    }

    /// New defaults or a new file: every registered component, and every file section of a
    /// component not registered yet (as a follower of the defaults would have it).
    fn plan_all(
        &self,
        layers: &Layers,
        defaults: &Defaults<'_>,
        new_file: bool,
        path: Option<&Path>,
        refuse: &dyn Fn(ConfigError) -> Refused,
        plan: &mut Plan,
    ) -> Result<(), Box<Refused>> {
        let file = defaults.file();
        let registered: Vec<_> = self.breakers().collect();
        for breaker in registered {
            let name = breaker.name();
            let own = layers.own.get(name);
            let code = own.map_or(CodeLayer::Defaults, |o| o.code.clone());
            let section = file.and_then(|f| f.component(name));
            let layered = defaults.component(name, &code, section).map_err(refuse)?;
            if new_file {
                // The manifest conflict rule's one exception: a file being put in force is
                // refused rather than have its section give way to an entry.
                if let Some(conflict) = layered.resolved.iter().find(|r| r.section_gave_way) {
                    return Err(Box::new(refuse(conflict.error.clone())));
                }
            }
            plan.components.push(Planned {
                name: name.clone(),
                existing: Some(breaker),
                code,
                declared: own.is_some_and(|o| o.declared),
                layered,
            });
        }
        if let Some(file) = file {
            // Sections of components not registered yet, as followers of the defaults
            // would have them, so that registering later cannot fail on them.
            for name in file.component_names() {
                if !self.breakers.contains_key(name) {
                    defaults
                        .component(name, &CodeLayer::Defaults, file.component(name))
                        .map_err(refuse)?;
                    if new_file {
                        plan.report.unknown_components.push(name.to_owned());
                    }
                }
            }
            if new_file && self.is_strict() {
                let known = self.components();
                if let Some(unknown) = file.unknown(
                    |name| self.breakers.contains_key(name),
                    known.iter().map(ComponentName::as_str),
                ) {
                    return Err(Box::new(refuse_file(unknown, path)));
                }
            }
        }
        if new_file {
            plan.announce.push(Event::FileReloaded {
                path: path.map(Path::to_owned),
                unknown_components: plan.report.unknown_components.clone(),
            });
        }
        Ok(())
    }

    /// One component's layer 4 (`register`, `register_with`, `reload_component`).
    #[allow(clippy::too_many_arguments)]
    fn plan_one(
        &self,
        layers: &Layers,
        defaults: &Defaults<'_>,
        name: &str,
        code: Option<&CodeLayer>,
        existing: bool,
        refuse: &dyn Fn(ConfigError) -> Refused,
        plan: &mut Plan,
    ) -> Result<(), Box<Refused>> {
        let file = defaults.file();
        let registered = self.component(name);
        // A new breaker's name is allocated here, once; the map's key and every report of
        // it share that allocation.
        let name = registered
            .as_ref()
            .map_or_else(|| ComponentName::copied(name), |b| b.name().clone());
        plan.named.push(name.clone());
        match (&registered, code) {
            (None, _) if existing => {
                return Err(Box::new(Refused {
                    error: Refusal::Registry(RegistryError::UnknownComponent {
                        name: name.as_str().to_owned(),
                    }),
                    event: None,
                }))
            }
            // `register` of a registered component changes nothing.
            (Some(_), None) => return Ok(()),
            _ => {}
        }
        if let Some(CodeLayer::Full(config)) = code {
            // Valid on its own, or a file's section could hide what it breaks until
            // the section changes.
            config.validate().map_err(refuse)?;
        }
        let own = layers.own.get(&name);
        let code = match code {
            Some(code) => code.clone(),
            None => own.map_or(CodeLayer::Defaults, |o| o.code.clone()),
        };
        let section = file.and_then(|f| f.component(&name));
        let layered = defaults.component(&name, &code, section).map_err(refuse)?;
        if registered.is_some() {
            plan.announce.push(Event::ConfigReloaded {
                component: Some(name.clone()),
            });
        }
        plan.components.push(Planned {
            name,
            existing: registered,
            code,
            declared: own.is_some_and(|o| o.declared),
            layered,
        });
        Ok(())
    }

    /// `breakers!` entries. A new one is registered with the entry as its layer 4; one
    /// registered by name on the defaults (`register`, a tower layer's `for_component`) is
    /// given it, state and counts kept, and `ConfigReloaded` says so; one that has its own
    /// whole config in code (`register_with`, `reload_component`) keeps it, and
    /// `ManifestEntryIgnored` says so. Declaring cannot be refused: the manifest conflict
    /// rule (see `config/layering.rs`) resolves every conflict an entry can meet in the
    /// layers in force.
    fn plan_declare(
        &self,
        layers: &Layers,
        defaults: &Defaults<'_>,
        entries: &[(&'static str, CodeLayer)],
        plan: &mut Plan,
    ) {
        let file = defaults.file();
        for (name, entry) in entries {
            plan.named.push(ComponentName::from_static(name));
            if plan.components.iter().any(|p| p.name == *name) {
                continue;
            }
            let registered = self.component(name);
            let own = layers.own.get(*name);
            if own.is_some_and(|o| o.declared) {
                continue;
            }
            let (name, code) = match (&registered, own.map(|o| &o.code)) {
                (None, _) => (ComponentName::from_static(name), entry.clone()),
                // Registered by name on the defaults: the entry is its layer 4 from now on.
                (Some(b), None | Some(CodeLayer::Defaults)) => {
                    if *entry != CodeLayer::Defaults {
                        plan.announce.push(Event::ConfigReloaded {
                            component: Some(b.name().clone()),
                        });
                    }
                    (b.name().clone(), entry.clone())
                }
                // Its own config in code wins over the entry, whichever came first.
                (Some(b), Some(code)) => {
                    plan.announce.push(Event::ManifestEntryIgnored {
                        component: b.name().clone(),
                    });
                    (b.name().clone(), code.clone())
                }
            };
            let section = file.and_then(|f| f.component(&name));
            let layered = match defaults.component(&name, &code, section) {
                Ok(layered) => layered,
                // Unreachable: the layers in force were valid for this name as a follower of
                // the defaults, and the rule resolves what the entry adds. Should it happen,
                // the entry's compiled config is valid by construction.
                Err(error) => Layered {
                    config: match &code {
                        CodeLayer::Manifest(compiled, _) | CodeLayer::Full(compiled) => *compiled,
                        CodeLayer::Defaults => defaults.config(),
                    },
                    resolved: vec![Resolved {
                        error,
                        section_gave_way: section.is_some(),
                    }],
                },
            };
            plan.components.push(Planned {
                name,
                existing: registered,
                code,
                declared: true,
                layered,
            });
        }
    }

    /// Puts a plan in force. Nothing here can fail.
    fn commit(&self, layers: &mut Layers, plan: Plan, pending: &mut Pending<'_>) -> Done {
        if plan.defaults != self.config() {
            self.config.store(Arc::new(plan.defaults));
            self.fuse.apply(plan.defaults);
            pending.derive = true;
        }
        layers.base = plan.base;
        layers.file = plan.file;
        for planned in plan.components {
            let breaker = match planned.existing {
                Some(breaker) => {
                    if breaker.config() != planned.layered.config {
                        breaker.apply(planned.layered.config);
                        pending.derive = true;
                    }
                    breaker
                }
                None => {
                    pending.derive = true;
                    self.create(planned.name.clone(), planned.layered.config)
                }
            };
            let reported = layers
                .own
                .get(&planned.name)
                .map(|o| o.reported.as_slice())
                .unwrap_or_default();
            let resolved: Vec<ConfigError> = planned
                .layered
                .resolved
                .into_iter()
                .map(|r| r.error)
                .collect();
            for conflict in &resolved {
                if !reported.contains(conflict) {
                    pending.events.push(Event::ConfigRefused {
                        component: Some(breaker.name().clone()),
                        error: conflict.clone(),
                    });
                }
            }
            if planned.code == CodeLayer::Defaults && !planned.declared {
                layers.own.remove(&planned.name);
            } else {
                layers.own.insert(
                    planned.name,
                    Own {
                        code: planned.code,
                        declared: planned.declared,
                        reported: resolved,
                    },
                );
            }
        }
        if plan.declared {
            self.declared.store(true, Ordering::Relaxed);
        }
        pending.events.extend(plan.announce);
        Done {
            breakers: plan
                .named
                .iter()
                .filter_map(|name| self.component(name))
                .collect(),
            report: plan.report,
        }
    }

    /// A new breaker, visible once it is a member of the fuse (so the fuse never counts it
    /// as unhealthy before it knows it exists). Called under the config lock only.
    fn create(&self, name: ComponentName, config: CircuitConfig) -> Arc<ComponentBreaker> {
        // The fuse owns every component: one shared owner, no allocation per breaker.
        let owner: Arc<dyn Owner> = Arc::clone(&self.fuse) as Arc<dyn Owner>;
        let breaker = Arc::new(ComponentBreaker::build(
            name.clone(),
            config,
            self.timeline.clone(),
            owner,
            Role::Component,
        ));
        self.fuse.add_member(&breaker);
        self.breakers.insert(name, Arc::clone(&breaker));
        breaker
    }

    /// A refused code reload of the defaults. The event names the component the error names,
    /// registered or not (a file's section for a later component takes part in the check).
    fn refuse_defaults(&self, error: ConfigError) -> Refused {
        Refused {
            event: Some(Event::ConfigRefused {
                component: error.component().map(|c| {
                    self.component(c)
                        .map_or_else(|| ComponentName::copied(c), |b| b.name().clone())
                }),
                error: error.clone(),
            }),
            error: Refusal::Config(error),
        }
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

    /// Components `Open` or `HalfOpen`, as the fuse counts them.
    pub(crate) fn unhealthy(&self) -> u32 {
        self.fuse.unhealthy()
    }

    pub(crate) fn breakers(&self) -> impl Iterator<Item = Arc<ComponentBreaker>> + '_ {
        self.breakers.iter().map(|b| Arc::clone(b.value()))
    }
}

/// Which components a change lays out again.
enum Scope<'a> {
    /// Every registered component and every file section (new defaults or a new file).
    All { new_file: bool },
    /// One component.
    One {
        name: &'a str,
        code: Option<CodeLayer>,
        existing: bool,
    },
    /// `breakers!` entries that are not registered yet.
    Declare(Vec<(&'static str, CodeLayer)>),
}

/// A refused file.
fn refuse_file(error: FileError, path: Option<&Path>) -> Refused {
    Refused {
        event: Some(Event::FileRefused {
            path: path.map(Path::to_owned),
            error: error.to_string(),
        }),
        error: Refusal::File(error),
    }
}

#[cfg(all(test, not(breaker_loom)))]
// A test fails by panicking; the workspace lints are for the library's own code.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engine::FakeClock;

    /// The registry's map is keyed by the breaker's own name, not by a second copy; a
    /// manifest component's name stays the `&'static str` it was declared with.
    #[test]
    fn the_registry_keys_by_the_breakers_own_name() {
        let registry = GlobalCircuitBreaker::builder()
            .clock(FakeClock::new())
            .build()
            .unwrap();
        let db = registry.register("db").unwrap();
        assert_eq!(
            db.name().holders(),
            Some(2),
            "the breaker and the map's key"
        );
        assert_eq!(registry.components(), ["db"]);
        let handle = ComponentHandle::new("declared", None, &[], &[]);
        assert!(handle.in_registry(&registry).name().is_static());
        assert!(registry.global().name().is_static());
        drop(registry);
        assert_eq!(
            db.name().holders(),
            Some(1),
            "dropping the registry let go of it"
        );
    }
}
