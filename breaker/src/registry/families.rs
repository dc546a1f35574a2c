//! Keyed families in the registry: registering and declaring them, and their config layering
//! through the registry's one config path.
//!
//! A family's keys are layered like a component, field by field, most specific last:
//!
//! 1. to 3. the registry's effective defaults (built-in, code, the file's `[defaults]`),
//! 4. the family's own config in code: the fields its `breakers!` entry names, or a whole
//!    config from [`register_family_with`](GlobalCircuitBreaker::register_family_with),
//! 5. the file's `[families.<name>]` breaker fields,
//! 6. for one key, the file's `[families.<name>.keys."<key>"]`.
//!
//! The family's own settings ([`FamilyConfig`]) are layered the same way: the built-in
//! defaults, the entry's (or code's) family fields, then the file section's family fields.
//! Every reload of the defaults or the file lays out every family and every per-key override
//! again and validates all of it with the components, before anything is committed; a
//! committed one re-applies to every live key, state and counts kept.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{CircuitConfig, CodeLayer, ConfigError, Defaults, FamilyConfig, FamilyFields};
use crate::engine::loom_shim::{lock, read, write};
use crate::names::{self, ComponentName};

use super::family::{Family, FamilyLayer, KeyConfigs};
use super::fuse::FuseMember;
use super::{GlobalCircuitBreaker, RegistryError};

/// A family's configs as all the layers make them.
pub(crate) struct FamilyPlan {
    pub(crate) family: Arc<Family>,
    pub(crate) config: FamilyConfig,
    pub(crate) keys: KeyConfigs,
}

/// Every config of family `name` from `layer` over `defaults` (and its file sections).
pub(crate) fn layered(
    defaults: &Defaults<'_>,
    name: &str,
    layer: &FamilyLayer,
) -> Result<(FamilyConfig, KeyConfigs), ConfigError> {
    let section = defaults.file().and_then(|f| f.family(name));
    let family_config = FamilyConfig::DEFAULT.overlay(&layer.family, layer.family_fields);
    let family_config = match section {
        Some(s) => s.family_over(&family_config),
        None => family_config,
    };
    family_config
        .validate()
        .map_err(|e| e.layered(Some(name), crate::ConfigLayer::Code, None))?;
    let breaker = section.map(|s| s.breaker());
    let config = defaults
        .component_sections(name, &layer.code, &[breaker])?
        .config;
    let mut keys = BTreeMap::new();
    if let Some(section) = section {
        for (key, key_section) in section.keys() {
            let shown = ComponentName::keyed(ComponentName::copied(name), key);
            let layered = defaults
                .component_sections(&shown, &layer.code, &[breaker, Some(key_section)])?
                .config;
            keys.insert(key.to_owned(), layered);
        }
    }
    Ok((
        family_config,
        KeyConfigs {
            family: config,
            keys,
        },
    ))
}

impl GlobalCircuitBreaker {
    /// The keyed family `name` with these settings, its keys on the registry's defaults (and
    /// the file's `[families.<name>]`). If it exists already, it is returned as it is. All or
    /// nothing: an invalid name or config (after layering) registers nothing.
    pub fn register_family(
        &self,
        name: &str,
        config: FamilyConfig,
    ) -> Result<Arc<Family>, RegistryError> {
        self.family_change(
            name,
            FamilyLayer {
                code: CodeLayer::Defaults,
                family: config,
                family_fields: FamilyFields::ALL,
                declared: false,
            },
            false,
        )
    }

    /// [`register_family`](Self::register_family) with a whole breaker config for its keys
    /// (layer 4; the file's sections still apply on top). If the family exists, its layers
    /// from code are replaced and every live key takes the new config, state kept.
    pub fn register_family_with(
        &self,
        name: &str,
        config: FamilyConfig,
        keys: CircuitConfig,
    ) -> Result<Arc<Family>, RegistryError> {
        self.family_change(
            name,
            FamilyLayer {
                code: CodeLayer::Full(keys),
                family: config,
                family_fields: FamilyFields::ALL,
                declared: false,
            },
            true,
        )
    }

    /// A `breakers!` family entry: registered if new, given the entry's layers if it was
    /// registered on the defaults by name. Cannot be refused (the entry was checked at
    /// compile time; the manifest conflict rule resolves the rest).
    pub(crate) fn declare_family(&self, name: &'static str, layer: FamilyLayer) -> Arc<Family> {
        let fallback = layer.clone();
        match self.family_change(name, layer, true) {
            Ok(family) => family,
            Err(_) => {
                // Only a file can conflict with an entry's family fields: the entry wins over
                // the file's family fields, as for breaker fields.
                let layer = FamilyLayer {
                    family: FamilyConfig::DEFAULT.overlay(&fallback.family, fallback.family_fields),
                    family_fields: FamilyFields::ALL,
                    ..fallback
                };
                match self.family_change(name, layer, true) {
                    Ok(family) => family,
                    Err(_) => self.standalone_family(name),
                }
            }
        }
    }

    /// A family outside the registry, for an entry whose every layering failed (a guard for
    /// the types: layering an entry checked at compile time does not fail).
    fn standalone_family(&self, name: &'static str) -> Arc<Family> {
        Family::build(
            ComponentName::from_static(name),
            FamilyConfig::DEFAULT,
            KeyConfigs {
                family: self.config(),
                keys: BTreeMap::new(),
            },
            self.timeline.clone(),
            Arc::clone(&self.hooks),
            None,
        )
    }

    fn family_change(
        &self,
        name: &str,
        layer: FamilyLayer,
        replace: bool,
    ) -> Result<Arc<Family>, RegistryError> {
        names::check(name).map_err(|reason| RegistryError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        let mut layers = lock(&self.layers);
        if let Some(existing) = self.family(name) {
            if !replace {
                return Ok(existing);
            }
        }
        let mut layer = layer;
        if layer.declared {
            // A whole config in code wins over an entry, as for components.
            if let Some(own) = layers.families.get(name) {
                if matches!(own.code, CodeLayer::Full(_)) {
                    layer.code = own.code.clone();
                }
            }
        }
        let defaults = Defaults::new(&layers.base, layers.file.as_deref())?;
        let (config, keys) = layered(&defaults, name, &layer)?;
        let family = match self.family(name) {
            Some(existing) => {
                existing.apply(config, keys);
                existing
            }
            None => {
                let family = Family::build(
                    ComponentName::copied(name),
                    config,
                    keys,
                    self.timeline.clone(),
                    Arc::clone(&self.hooks),
                    Some(Arc::clone(&self.fuse)),
                );
                let member: Arc<dyn FuseMember> = Arc::clone(&family) as Arc<dyn FuseMember>;
                self.fuse.add_group(Arc::downgrade(&member));
                write(&self.families).insert(family.name().clone(), Arc::clone(&family));
                family
            }
        };
        let declared = layer.declared;
        layers.families.insert(family.name().clone(), layer);
        if declared {
            self.strict.manifest_declared();
        }
        drop(layers);
        // A new member lowers the fuse's ratio; a reload may change a key's health.
        self.fuse.derive(self.timeline.now_nanos());
        Ok(family)
    }

    /// The keyed family `name`, if registered.
    pub fn family(&self, name: &str) -> Option<Arc<Family>> {
        read(&self.families).get(name).cloned()
    }

    /// The names of every registered keyed family, sorted.
    pub fn families(&self) -> Vec<ComponentName> {
        read(&self.families).keys().cloned().collect()
    }

    pub(crate) fn family_list(&self) -> Vec<Arc<Family>> {
        read(&self.families).values().cloned().collect()
    }

    /// Lets a call to `key` of family `family` through or refuses it
    /// ([`CircuitError::ComponentMissing`](crate::CircuitError::ComponentMissing) for an
    /// unknown family). One map lookup of the family by name more than
    /// [`Family::acquire`].
    pub fn acquire_keyed(&self, family: &str, key: &str) -> crate::Permit<'static> {
        match self.family(family) {
            Some(f) => f.acquire(key),
            None => crate::Permit::Rejected(crate::CircuitError::ComponentMissing {
                component: ComponentName::copied(family),
            }),
        }
    }

    /// Every family's configs under new defaults or a new file, validated (a plan changes
    /// nothing). `strict`: refuse a file section naming no registered or declared family.
    pub(crate) fn plan_families(
        &self,
        families: &BTreeMap<ComponentName, FamilyLayer>,
        defaults: &Defaults<'_>,
    ) -> Result<(Vec<FamilyPlan>, Vec<String>), ConfigError> {
        let mut planned = Vec::new();
        for (name, layer) in families {
            let Some(family) = self.family(name) else {
                continue;
            };
            let (config, keys) = layered(defaults, name, layer)?;
            planned.push(FamilyPlan {
                family,
                config,
                keys,
            });
        }
        let mut unknown = Vec::new();
        if let Some(file) = defaults.file() {
            for name in file.family_names() {
                if !families.contains_key(name) {
                    // Validated as a family on the defaults would have it, so registering it
                    // later cannot fail on the section.
                    layered(
                        defaults,
                        name,
                        &FamilyLayer {
                            code: CodeLayer::Defaults,
                            family: FamilyConfig::DEFAULT,
                            family_fields: FamilyFields::NONE,
                            declared: false,
                        },
                    )?;
                    unknown.push(name.to_owned());
                }
            }
        }
        Ok((planned, unknown))
    }
}
