//! Planning a change: every config it leads to, computed from all the layers and validated,
//! before anything is committed ([`GlobalCircuitBreaker::plan`]).

use std::path::Path;
use std::sync::Arc;

use crate::config::{
    CircuitConfig, CodeLayer, ConfigError, Defaults, FileError, FileLayer, FileReport, Layered,
    Resolved,
};
use crate::engine::ComponentBreaker;
use crate::names::{self, ComponentName};

use super::change::{refuse_file, Change, Refusal, Refused};
use super::events::Event;
use super::families::FamilyPlan;
use super::{GlobalCircuitBreaker, Layers, RegistryError};

/// Everything a change would do, computed and validated before anything is committed.
pub(super) struct Plan {
    pub(super) base: CircuitConfig,
    pub(super) file: Option<Arc<FileLayer>>,
    pub(super) defaults: CircuitConfig,
    pub(super) components: Vec<Planned>,
    /// The names a `Component` or `Declare` change asked for, in order.
    pub(super) named: Vec<ComponentName>,
    pub(super) declared: bool,
    pub(super) report: FileReport,
    /// The events that announce the change (none for a registration, which is not a reload).
    pub(super) announce: Vec<Event>,
    /// Every keyed family laid out again (new defaults or a new file).
    pub(super) families: Vec<FamilyPlan>,
}

/// One component the change lays out (again).
pub(super) struct Planned {
    /// The breaker's own name if it exists, else the one it will be made with.
    pub(super) name: ComponentName,
    pub(super) existing: Option<Arc<ComponentBreaker>>,
    pub(super) code: CodeLayer,
    /// A `breakers!` entry is declared for it.
    pub(super) declared: bool,
    pub(super) layered: Layered,
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

impl GlobalCircuitBreaker {
    /// Computes and validates every config `change` leads to; changes nothing.
    pub(super) fn plan(&self, layers: &Layers, change: Change<'_>) -> Result<Plan, Box<Refused>> {
        let mut plan = Plan {
            base: layers.base,
            file: layers.file.clone(),
            defaults: self.config(),
            components: Vec::new(),
            named: Vec::new(),
            declared: false,
            report: FileReport::default(),
            announce: Vec::new(),
            families: Vec::new(),
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
                let (families, unknown) = self
                    .plan_families(&layers.families, &defaults)
                    .map_err(&refuse)?;
                plan.families = families;
                if *new_file {
                    if self.is_strict() {
                        if let Some(error) = file.and_then(|f| {
                            f.unknown_family(
                                |name| layers.families.contains_key(name),
                                layers.families.keys().map(ComponentName::as_str),
                            )
                        }) {
                            return Err(Box::new(refuse_file(error, path)));
                        }
                    }
                    plan.report.unknown_families = unknown;
                }
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
}
