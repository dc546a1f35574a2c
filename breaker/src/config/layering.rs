//! How a component's config is put together from its layers, most specific last:
//!
//! 1. the built-in [`CircuitConfig::DEFAULT`],
//! 2. the registry's defaults in code (builder, [`reload`](crate::GlobalCircuitBreaker::reload)),
//! 3. the file's `[defaults]` and `[global]`,
//! 4. the component's own config in code: the fields its `breakers!` entry names, or a whole
//!    config from [`register_with`](crate::GlobalCircuitBreaker::register_with) /
//!    [`reload_component`](crate::GlobalCircuitBreaker::reload_component),
//! 5. the file's `[components.<name>]`.
//!
//! Layers 2 and 3 make the registry's effective defaults; a component-specific layer beats a
//! default, and at the same level the file beats code (operators tune what developers set).
//! A partial layer changes only the fields it names, field by field; a field a layer sets to
//! off (`None`, `"off"`) is set, not inherited.
//!
//! `global_trip_conditions` belongs to the registry's defaults only (the fuse reads nothing
//! else): a component's config always carries the registry's, whatever a whole config in
//! code says (a `breakers!` entry that names it does not compile, a file section that sets it
//! is refused).
//!
//! **The manifest conflict rule.** A `breakers!` entry's fields always hold. When the complete
//! layering of a component (all five layers) breaks a rule between two fields and one of them
//! has its value from the entry, the other takes the value the entry was checked with at
//! compile time, [`CircuitConfig::DEFAULT`]'s, which satisfies the rule by construction;
//! nothing else changes, and an [`Event::ConfigRefused`](crate::Event::ConfigRefused) names
//! the component, both fields, their values and layers. The rule is a function of the layers
//! in force, so a reload can never be refused because of an entry's conflict. The one
//! exception is a file being put in force whose `[components.<name>]` section would give
//! way: that file is refused instead (it is the input being changed, and refusing it changes
//! nothing). Every other conflict refuses the operation that would cause it.

use super::fields::{Field, Fields, FIELDS};
use super::file::{FileLayer, Section};
use super::{CircuitConfig, ConfigError, ConfigLayer, ConfigValue, Violation};

/// `values`' fields in `fields` written over `base`.
pub(crate) fn overlay(
    base: &CircuitConfig,
    values: &CircuitConfig,
    fields: Fields,
) -> CircuitConfig {
    let mut out = *base;
    for (i, field) in FIELDS.iter().enumerate() {
        if fields.has(i) {
            (field.copy)(values, &mut out);
        }
    }
    out
}

/// A component's own config from code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CodeLayer {
    /// None: the component follows the registry's defaults.
    Defaults,
    /// A `breakers!` entry: its compiled config (`DEFAULT` with its fields) and which fields
    /// it names.
    Manifest(CircuitConfig, Fields),
    /// A whole config (`register_with`, `reload_component`).
    Full(CircuitConfig),
}

/// One layer as the error messages see it: the fields it sets and where they came from.
#[derive(Clone, Copy)]
enum Origin<'a> {
    BuiltIn,
    Registry,
    Manifest,
    Code,
    File(&'a FileLayer, &'a Section),
}

impl Origin<'_> {
    /// Whether this is a file's `[components.<name>]` section.
    fn is_component_section(self) -> bool {
        matches!(self, Self::File(_, section) if section.name().starts_with("components.") || section.name().starts_with("families."))
    }

    fn layer(self, field: &str) -> ConfigLayer {
        match self {
            Self::BuiltIn => ConfigLayer::BuiltIn,
            Self::Registry => ConfigLayer::RegistryDefaults,
            Self::Manifest => ConfigLayer::Manifest,
            Self::Code => ConfigLayer::Code,
            Self::File(file, section) => ConfigLayer::File {
                path: file.path().map(ToOwned::to_owned),
                section: section.name().to_owned(),
                line: section.line(field).unwrap_or(1),
            },
        }
    }
}

/// The layers of one config, least specific first.
#[derive(Clone, Default)]
struct Stack<'a> {
    layers: Vec<(Fields, CircuitConfig, Origin<'a>)>,
}

impl<'a> Stack<'a> {
    fn push(&mut self, fields: Fields, values: CircuitConfig, origin: Origin<'a>) {
        if !fields.is_empty() {
            self.layers.push((fields, values, origin));
        }
    }

    fn push_section(&mut self, file: &'a FileLayer, section: Option<&'a Section>) {
        if let Some(section) = section {
            self.push(
                section.fields(),
                *section.values(),
                Origin::File(file, section),
            );
        }
    }

    fn config(&self) -> CircuitConfig {
        self.layers
            .iter()
            .fold(CircuitConfig::DEFAULT, |c, (fields, values, _)| {
                overlay(&c, values, *fields)
            })
    }

    /// The last layer that sets `field` (`None`: the built-in default).
    fn source(&self, field: &str) -> Option<Origin<'a>> {
        let index = FIELDS.iter().position(|f| f.name == field)?;
        self.layers
            .iter()
            .rev()
            .find(|(fields, _, _)| fields.has(index))
            .map(|(_, _, origin)| *origin)
    }

    /// Where `field` came from: the last layer that sets it.
    fn origin(&self, field: &str) -> ConfigLayer {
        self.source(field)
            .map_or(ConfigLayer::BuiltIn, |origin| origin.layer(field))
    }

    /// The layered config, validated; a refusal names where each value involved was set.
    fn checked(&self, component: Option<&str>) -> Result<CircuitConfig, ConfigError> {
        let config = self.config();
        match config.check() {
            Ok(()) => Ok(config),
            Err(violation) => Err(self.explain(violation, &config, component)),
        }
    }

    fn explain(
        &self,
        violation: Violation,
        config: &CircuitConfig,
        component: Option<&str>,
    ) -> ConfigError {
        let other = related(&violation).and_then(|field| {
            let value = (field.value)(config)?;
            Some((field.name, value, self.origin(field.name)))
        });
        ConfigError::from(violation).layered(component, self.origin(violation.field), other)
    }
}

/// The other field a rule between two fields names (`half_open_required_successes` "must be
/// between 1 and half_open_max_concurrent"), so an error can say where that one came from too.
fn related(violation: &Violation) -> Option<&'static Field> {
    if violation.value == ConfigValue::Count(0) {
        // Zero breaks the field's own lower bound, whatever the other field says.
        return None;
    }
    FIELDS.iter().find(|f| {
        f.name != violation.field
            && violation.rule.match_indices(f.name).any(|(at, _)| {
                let next = violation.rule[at + f.name.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    })
}

/// The registry's layers (2 and 3), as in force or as an operation would make them.
pub(crate) struct Defaults<'a> {
    stack: Stack<'a>,
    config: CircuitConfig,
    file: Option<&'a FileLayer>,
}

impl<'a> Defaults<'a> {
    /// The registry's effective defaults: `base` under the file's `[defaults]` and
    /// `[global]`, validated.
    pub(crate) fn new(
        base: &CircuitConfig,
        file: Option<&'a FileLayer>,
    ) -> Result<Self, ConfigError> {
        let mut stack = Stack::default();
        stack.push(Fields::ALL, *base, Origin::Registry);
        if let Some(file) = file {
            stack.push_section(file, Some(file.defaults()));
            stack.push_section(file, Some(file.global()));
        }
        let config = stack.checked(None)?;
        Ok(Self {
            stack,
            config,
            file,
        })
    }

    pub(crate) fn config(&self) -> CircuitConfig {
        self.config
    }

    pub(crate) fn file(&self) -> Option<&'a FileLayer> {
        self.file
    }

    /// The config of component `name`: `code` over these defaults, then `section` (the file's
    /// `[components.<name>]`), with the manifest conflict rule (module docs) applied.
    pub(crate) fn component(
        &self,
        name: &str,
        code: &CodeLayer,
        section: Option<&'a Section>,
    ) -> Result<Layered, ConfigError> {
        self.component_sections(name, code, &[section])
    }

    /// [`component`](Self::component) with several file sections on top, least specific
    /// first: a keyed family's `[families.<name>]`, then a key's
    /// `[families.<name>.keys."<key>"]`.
    pub(crate) fn component_sections(
        &self,
        name: &str,
        code: &CodeLayer,
        sections: &[Option<&'a Section>],
    ) -> Result<Layered, ConfigError> {
        self.stacked(name, code, sections)
            .map(|(layered, _)| layered)
    }

    /// Each field of component `name`'s config (as [`component`](Self::component) layers
    /// it) with the layer its value came from, for operators' views.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn sources(
        &self,
        name: &str,
        code: &CodeLayer,
        section: Option<&'a Section>,
    ) -> Result<Vec<(&'static str, ConfigLayer)>, ConfigError> {
        let (_, stack) = self.stacked(name, code, &[section])?;
        Ok(FIELDS
            .iter()
            .map(|f| (f.name, stack.origin(f.name)))
            .collect())
    }

    fn stacked(
        &self,
        name: &str,
        code: &CodeLayer,
        sections: &[Option<&'a Section>],
    ) -> Result<(Layered, Stack<'a>), ConfigError> {
        let mut stack = match code {
            CodeLayer::Defaults => self.stack.clone(),
            CodeLayer::Full(own) => {
                let mut stack = Stack::default();
                stack.push(Fields::ALL, *own, Origin::Code);
                // The fuse reads the registry's conditions only: a component's config says
                // so rather than report values that mean nothing.
                stack.push(Fields::GLOBAL, self.config, Origin::Registry);
                stack
            }
            CodeLayer::Manifest(compiled, fields) => {
                let mut stack = self.stack.clone();
                stack.push(*fields, *compiled, Origin::Manifest);
                stack
            }
        };
        if let Some(file) = self.file {
            for section in sections {
                stack.push_section(file, *section);
            }
        }
        let CodeLayer::Manifest(compiled, _) = code else {
            let layered = Layered {
                config: stack.checked(Some(name))?,
                resolved: Vec::new(),
            };
            return Ok((layered, stack));
        };
        let mut resolved = Vec::new();
        // Each round settles one rule for good (all its fields then hold the compiled
        // config's values, which satisfy it), so there are at most as many rounds as fields.
        for _ in 0..=FIELDS.len() {
            let config = stack.config();
            let Err(violation) = config.check() else {
                return Ok((Layered { config, resolved }, stack));
            };
            let error = stack.explain(violation, &config, Some(name));
            let involved = std::iter::once(violation.field)
                .chain(related(&violation).map(|f| f.name))
                .collect::<Vec<_>>();
            let from_entry = |field: &&str| matches!(stack.source(field), Some(Origin::Manifest));
            if !involved.iter().any(from_entry) {
                // Not the entry's conflict: refused as for any component.
                return Err(error);
            }
            let giving_way: Vec<&str> = involved.into_iter().filter(|f| !from_entry(f)).collect();
            let section_gave_way = giving_way
                .iter()
                .any(|f| stack.source(f).is_some_and(Origin::is_component_section));
            let fields = giving_way
                .iter()
                .filter_map(|f| Fields::named(f))
                .fold(Fields::NONE, Fields::union);
            stack.push(fields, *compiled, Origin::BuiltIn);
            resolved.push(Resolved {
                error,
                section_gave_way,
            });
        }
        Err(stack.checked(Some(name)).err().unwrap_or_else(|| {
            ConfigError::runtime("config", ConfigValue::Count(0), "unresolved layering")
        }))
    }
}

/// A component's layered config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layered {
    pub(crate) config: CircuitConfig,
    /// The conflicts its `breakers!` entry won (the manifest conflict rule), in order.
    pub(crate) resolved: Vec<Resolved>,
}

/// One conflict the manifest conflict rule resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    /// The rule the complete layering broke, and where each of its values came from.
    pub(crate) error: ConfigError,
    /// Whether a key of the file's `[components.<name>]` gave way (a file being put in
    /// force is refused instead).
    pub(crate) section_gave_way: bool,
}
