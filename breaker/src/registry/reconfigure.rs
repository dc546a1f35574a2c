//! The one path by which config reaches a breaker: every entry point (registration, a
//! `breakers!` declaration, code and file reloads) describes its operation as a [`Change`],
//! which [`GlobalCircuitBreaker::change`] plans, validates and commits whole, or not at all.

use std::path::Path;
use std::sync::Arc;

use crate::config::{CircuitConfig, CodeLayer, ConfigError, FileError, FileLayer, FileReport};
use crate::engine::events::Owner;
use crate::engine::loom_shim::lock;
use crate::engine::{ComponentBreaker, Role};
use crate::names::ComponentName;

use super::change::{Change, Refusal};
use super::events::Event;
use super::plan::Plan;
use super::{GlobalCircuitBreaker, Layers, Own, RegistryError};

/// A committed operation.
pub(super) struct Done {
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

impl GlobalCircuitBreaker {
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

    /// Registers the `breakers!` entries (name and layer 4) that are not registered yet and
    /// returns their breakers in order. The manifest conflict rule (in `config/layering.rs`)
    /// resolves every conflict, so only invalid layers in force could refuse it; the returned
    /// [`Pending`] runs the hooks, which the caller must do outside any once-only
    /// initialisation it is in.
    pub(crate) fn declare(
        &self,
        entries: Vec<(&'static str, CodeLayer)>,
    ) -> (
        Result<Vec<Arc<ComponentBreaker>>, RegistryError>,
        Pending<'_>,
    ) {
        let (outcome, pending) = self.change(Change::Declare(entries));
        let breakers = outcome
            .map(|done| done.breakers)
            .map_err(Refusal::into_registry);
        (breakers, pending)
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
        for planned in plan.families {
            planned.family.apply(planned.config, planned.keys);
            pending.derive = true;
        }
        if plan.declared {
            self.strict.manifest_declared();
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
}
