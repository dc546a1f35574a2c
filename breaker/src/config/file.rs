//! Config files: `breakers.toml` (or the same shape from any serde format).
//!
//! ```toml
//! [defaults]            # every component, unless it says otherwise
//! rolling_window = "10s"
//! min_calls = 20
//!
//! [global]              # the global fuse
//! component_open_ratio = 0.5
//! min_components = 3
//!
//! [components.binance_rest]
//! error_rate_threshold = 0.3
//! open_cooldown = "10s"
//! ```
//!
//! A file is parsed and type-checked first (errors carry the line), then layered over the code's
//! config (see `layering.rs`) and validated as a whole, for every registered
//! component and for every `[components.<name>]` section of a component not registered yet (as
//! if it followed the defaults); only then is it put in force, all at once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::family::{FamilyConfig, FamilyFields};
use super::fields::{Fields, FIELDS};
use super::fleet::{FleetConfig, FleetConfigError};
use super::{
    check_exact, source_name, CircuitConfig, ConfigError, ConfigValue, GlobalTripConditions,
};

/// A config file that was refused; the running config stays in force.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be read.
    #[error("{}: cannot read the breaker config: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a field is unknown or has the wrong type.
    #[error("{}:{line}:{column}: {message}", source_name(path.as_deref()))]
    Parse {
        /// The file, if it came from one.
        path: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, as the parser says it.
        message: String,
    },
    /// A value breaks a rule (after layering). `section` and `line` are those of the file's
    /// key that takes part: the refused value when the file set it, or else the key it
    /// conflicts with; `error` says where every value involved came from.
    #[error("{}", invalid_message(path.as_deref(), *line, section, error))]
    Invalid {
        /// The file, if it came from one.
        path: Option<PathBuf>,
        /// The line of the offending key, when the key is in the file.
        line: Option<usize>,
        /// `defaults`, `global` or `components.<name>`.
        section: String,
        /// Field, value and rule.
        error: ConfigError,
    },
    /// Strict mode: a `[families.<name>]` section names no registered or declared keyed
    /// family.
    #[error(
        "{}{}: [families.{name}] names no registered or declared keyed family (strict mode){}",
        source_name(path.as_deref()),
        line.map(|l| format!(":{l}")).unwrap_or_default(),
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownFamily {
        /// The file, if it came from one.
        path: Option<PathBuf>,
        /// The line of the section's header.
        line: Option<usize>,
        /// The name in the file.
        name: String,
        /// The registered family with the closest name, if one is close.
        suggestion: Option<String>,
    },
    /// Strict mode: a `[components.<name>]` section names no registered or declared
    /// component (usually a typo, which would leave the real component on the defaults).
    #[error(
        "{}{}: [components.{name}] names no registered or declared component (strict mode){}",
        source_name(path.as_deref()),
        line.map(|l| format!(":{l}")).unwrap_or_default(),
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownComponent {
        /// The file, if it came from one.
        path: Option<PathBuf>,
        /// The line of the section's header.
        line: Option<usize>,
        /// The name in the file.
        name: String,
        /// The registered component with the closest name, if one is close.
        suggestion: Option<String>,
    },
    /// A `[fleet]` value breaks a rule; the running fleet settings stay.
    #[error(
        "{}{}: [fleet] {error}",
        source_name(path.as_deref()),
        line.map(|l| format!(":{l}")).unwrap_or_default()
    )]
    Fleet {
        /// The file, if it came from one.
        path: Option<PathBuf>,
        /// The line of the offending key.
        line: Option<usize>,
        /// Field, value and rule.
        error: FleetConfigError,
    },
}

impl FileError {
    /// The rule violation, if that is what it is.
    pub fn config_error(&self) -> Option<&ConfigError> {
        match self {
            Self::Invalid { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The line the problem is on, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Parse { line, .. } => Some(*line),
            Self::Invalid { line, .. }
            | Self::UnknownComponent { line, .. }
            | Self::Fleet { line, .. }
            | Self::UnknownFamily { line, .. } => *line,
            Self::Io { .. } => None,
        }
    }
}

/// `file:line: [section] key = value: ...`, where `key = value` is always a line of the file:
/// when the refused value came from another layer, the message leads with the file's key it
/// conflicts with and names the other layer.
fn invalid_message(
    path: Option<&Path>,
    line: Option<usize>,
    section: &str,
    error: &ConfigError,
) -> String {
    let at = format!(
        "{}{}",
        source_name(path),
        line.map(|l| format!(":{l}")).unwrap_or_default()
    );
    let component = error.component();
    let for_component = match component {
        Some(c) if section != format!("components.{c}") => format!(" (component `{c}`)"),
        _ => String::new(),
    };
    match error.file_key() {
        Some((_, _, field, value)) if !error.set_by_file() => {
            let layer = error.layer().map(ToString::to_string).unwrap_or_default();
            let of = component.map(|c| format!(" of `{c}`")).unwrap_or_default();
            format!(
                "{at}: [{section}] {} = {value} conflicts with {} = {} (from {layer}{of}): {} {}",
                key_as_written(section, field),
                error.field(),
                error.value(),
                error.field(),
                error.rule()
            )
        }
        Some(_) => format!(
            "{at}: [{section}] {} = {}: {}{for_component}",
            key_as_written(section, error.field()),
            error.value(),
            error.describe_rest()
        ),
        // A value refused before layering (a ratio that does not survive narrowing): it
        // is the file's own key.
        None if error.layer().is_none() => format!(
            "{at}: [{section}] {} = {}: {}",
            key_as_written(section, error.field()),
            error.value(),
            error.rule()
        ),
        None => format!("{at}: [{section}] {error}"),
    }
}

/// A field's key as a section writes it: `[global]` holds `global_trip_conditions`'s keys
/// without the prefix (`min_components`, not `global_trip_conditions.min_components`).
fn key_as_written<'f>(section: &str, field: &'f str) -> &'f str {
    match section {
        "global" => field
            .strip_prefix("global_trip_conditions.")
            .unwrap_or(field),
        _ => field,
    }
}

/// What a successful file reload did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FileReport {
    /// `[components.<name>]` sections for components that are not registered (outside strict
    /// mode). They were validated as if the component followed the defaults, are kept, and
    /// apply if such a component registers later; usually they are typos.
    pub unknown_components: Vec<String>,
    /// `[families.<name>]` sections for keyed families that are not registered (outside
    /// strict mode): validated, kept, applied if such a family registers later.
    pub unknown_families: Vec<String>,
}

/// Type-checks every section against the real config types (errors carry line and column).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Typed {
    #[serde(default)]
    #[allow(dead_code)]
    defaults: CircuitConfig,
    #[serde(default)]
    #[allow(dead_code)]
    global: GlobalTripConditions,
    #[serde(default)]
    #[allow(dead_code)]
    components: BTreeMap<String, CircuitConfig>,
    #[serde(default)]
    #[allow(dead_code)]
    fleet: Option<FleetConfig>,
    /// Breaker fields, family fields and `keys`: checked key by key when the section is built.
    #[serde(default)]
    #[allow(dead_code)]
    families: BTreeMap<String, toml::Table>,
}

/// One table of the file, with the span of each key: the line of a refused key is its own,
/// whether it is written as `key = value`, under a `[table.header]`, as a dotted key or in an
/// inline table (toml gives no span to a dotted key's implicit table, so values are not
/// wrapped in `Spanned`; keys always have one).
type RawSection = BTreeMap<toml::Spanned<String>, Node>;

/// A value of the file: a table keeps its keys' spans, anything else is a plain value.
#[derive(Debug)]
enum Node {
    Table(RawSection),
    Value(toml::Value),
}

impl Node {
    /// The plain value, to deserialize into the config's types.
    fn value(&self) -> toml::Value {
        match self {
            Self::Value(value) => value.clone(),
            Self::Table(table) => toml::Value::Table(
                table
                    .iter()
                    .map(|(key, node)| (key.get_ref().clone(), node.value()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;

        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Node;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a TOML value")
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Value(toml::Value::Boolean(v)))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Value(toml::Value::Integer(v)))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Node, E> {
                i64::try_from(v)
                    .map(|v| Node::Value(toml::Value::Integer(v)))
                    .map_err(|_| E::custom("integer out of range"))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Value(toml::Value::Float(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Value(toml::Value::String(v.to_owned())))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<toml::Value>()? {
                    items.push(item);
                }
                Ok(Node::Value(toml::Value::Array(items)))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut table = RawSection::new();
                while let Some(key) = map.next_key::<toml::Spanned<String>>()? {
                    let node = map.next_value::<Node>()?;
                    table.insert(key, node);
                }
                Ok(Node::Table(table))
            }
        }

        d.deserialize_any(Visit)
    }
}

/// The same file, keeping which keys each section sets and where.
#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    defaults: RawSection,
    #[serde(default)]
    global: RawSection,
    #[serde(default)]
    components: BTreeMap<toml::Spanned<String>, RawSection>,
    #[serde(default)]
    fleet: Option<RawSection>,
    #[serde(default)]
    families: BTreeMap<toml::Spanned<String>, RawSection>,
}

/// A file's `[families.<name>]`: the family's breaker fields (a section like a component's),
/// its family fields, and per-key overrides (`[families.<name>.keys."api.example.com"]`,
/// breaker fields only).
#[derive(Debug, Clone)]
pub(crate) struct FamilySection {
    breaker: Section,
    family: FamilyConfig,
    family_fields: FamilyFields,
    keys: BTreeMap<String, Section>,
}

impl FamilySection {
    pub(crate) fn breaker(&self) -> &Section {
        &self.breaker
    }

    /// The family fields it sets, over `base`.
    pub(crate) fn family_over(&self, base: &FamilyConfig) -> FamilyConfig {
        base.overlay(&self.family, self.family_fields)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.keys.iter().map(|(k, s)| (k.as_str(), s))
    }
}

/// One section of a file: the fields it sets, their values and their lines.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    /// `defaults`, `global` or `components.<name>`.
    name: String,
    /// The section's values (fields it does not set hold `CircuitConfig::DEFAULT`'s).
    values: CircuitConfig,
    fields: Fields,
    /// The line of each field it sets.
    lines: Vec<(&'static str, usize)>,
}

impl Section {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn values(&self) -> &CircuitConfig {
        &self.values
    }

    pub(crate) fn fields(&self) -> Fields {
        self.fields
    }

    pub(crate) fn line(&self, field: &str) -> Option<usize> {
        self.lines
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, line)| *line)
    }
}

/// A parsed, type-checked file: the keys each section sets.
#[derive(Debug, Clone)]
pub(crate) struct FileLayer {
    path: Option<PathBuf>,
    defaults: Section,
    global: Section,
    components: BTreeMap<String, Section>,
    /// The line of each `[components.<name>]` header.
    headers: BTreeMap<String, usize>,
    /// The `[fleet]` section, validated.
    fleet: Option<FleetConfig>,
    families: BTreeMap<String, FamilySection>,
    /// The line of each `[families.<name>]` header.
    family_headers: BTreeMap<String, usize>,
}

/// What parsing needs to point into the text.
struct Source<'a> {
    text: &'a str,
    path: &'a Option<PathBuf>,
}

impl Source<'_> {
    fn line(&self, span: &std::ops::Range<usize>) -> usize {
        line_col(self.text, span.start).0
    }

    fn parse_error(&self, span: &std::ops::Range<usize>, message: String) -> FileError {
        let (line, column) = line_col(self.text, span.start);
        FileError::Parse {
            path: self.path.clone(),
            line,
            column,
            message,
        }
    }

    /// A value of the wrong type in `raw` (section `name`), which only a family's sections
    /// reach: each field is converted on its own until one fails, so the refusal names it and
    /// points at its line and column (serde's message alone names neither).
    fn field_error(&self, name: &str, raw: &RawSection, prefix: &str, message: &str) -> FileError {
        let culprit = if prefix.is_empty() {
            self.wrong_field::<CircuitConfig>(name, raw, |_| true)
        } else {
            self.wrong_field::<GlobalTripConditions>(name, raw, |_| true)
        };
        // Not found field by field (a combination no single field fails): serde's message.
        culprit.unwrap_or_else(|| self.parse_error(&(0..0), message.to_owned()))
    }

    /// The first of `raw`'s fields (those `include` names) that `T` refuses on its own, as a
    /// refusal at that field's line and column naming section `name` and the field.
    fn wrong_field<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        raw: &RawSection,
        include: impl Fn(&str) -> bool,
    ) -> Option<FileError> {
        raw.iter().find_map(|(key, node)| {
            if !include(key.get_ref()) {
                return None;
            }
            let mut alone = toml::Table::new();
            alone.insert(key.get_ref().clone(), node.value());
            let e = toml::Value::Table(alone).try_into::<T>().err()?;
            Some(self.parse_error(
                &key.span(),
                format!("[{name}] `{}`: {}", key.get_ref(), e.message()),
            ))
        })
    }

    /// Builds a section. `prefix` is `global_trip_conditions.` for `[global]`.
    fn section(&self, name: String, raw: &RawSection, prefix: &str) -> Result<Section, FileError> {
        let mut fields = Fields::NONE;
        let mut lines = Vec::new();
        let mut plain = toml::Table::new();
        let mut set = |field: &str, line: usize, value: &Node| -> Result<(), FileError> {
            // Unknown keys were refused by the typed parse.
            let Some(named) = Fields::named(field) else {
                return Ok(());
            };
            fields = fields.union(named);
            let Some(known) = FIELDS.iter().find(|f| f.name == field) else {
                return Ok(());
            };
            lines.push((known.name, line));
            let number = match value {
                Node::Value(toml::Value::Float(x)) => Some(*x),
                Node::Value(toml::Value::Integer(n)) => Some(*n as f64),
                _ => None,
            };
            match number.and_then(|x| check_exact(known.name, x).map(|rule| (x, rule))) {
                Some((x, rule)) => Err(FileError::Invalid {
                    path: self.path.clone(),
                    line: Some(line),
                    section: name.clone(),
                    error: ConfigError::runtime(known.name, ConfigValue::Number(x), rule),
                }),
                None => Ok(()),
            }
        };
        for (key, node) in raw {
            match (prefix, key.get_ref().as_str(), node) {
                // `global_trip_conditions` in `[defaults]`: an inline table, a table header
                // or dotted keys; each of its keys is on its own line.
                ("", "global_trip_conditions", Node::Table(inner)) => {
                    for (k, v) in inner {
                        let field = format!("global_trip_conditions.{}", k.get_ref());
                        set(&field, self.line(&k.span()), v)?;
                    }
                }
                _ => set(
                    &format!("{prefix}{}", key.get_ref()),
                    self.line(&key.span()),
                    node,
                )?,
            }
            plain.insert(key.get_ref().clone(), node.value());
        }
        let table = toml::Value::Table(plain);
        let values = if prefix.is_empty() {
            table.try_into::<CircuitConfig>()
        } else {
            table
                .try_into::<GlobalTripConditions>()
                .map(|global_trip_conditions| CircuitConfig {
                    global_trip_conditions,
                    ..CircuitConfig::DEFAULT
                })
        }
        // Components and defaults passed the typed parse already; a family's sections (its
        // own and its keys') are untyped until here, so find the field at fault.
        .map_err(|e| self.field_error(&name, raw, prefix, e.message()))?;
        Ok(Section {
            name,
            values,
            fields,
            lines,
        })
    }
}

impl Source<'_> {
    /// The `[fleet]` section: typed (the typed parse already accepted it) and validated, a
    /// broken rule pointing at its key's line.
    fn fleet(&self, raw: &RawSection) -> Result<FleetConfig, FileError> {
        let table = toml::Value::Table(
            raw.iter()
                .map(|(key, node)| (key.get_ref().clone(), node.value()))
                .collect(),
        );
        let config: FleetConfig = table
            .try_into()
            .map_err(|e| self.parse_error(&(0..0), e.message().to_owned()))?;
        config.validate().map_err(|error| FileError::Fleet {
            path: self.path.clone(),
            line: raw
                .keys()
                .find(|k| k.get_ref() == error.field)
                .map(|k| self.line(&k.span())),
            error,
        })?;
        Ok(config)
    }

    /// Splits a `[families.<name>]` table into its breaker fields, family fields and keys.
    fn family(
        &self,
        name: &toml::Spanned<String>,
        raw: &RawSection,
    ) -> Result<FamilySection, FileError> {
        let section = format!("families.{}", name.get_ref());
        let mut breaker = RawSection::new();
        let mut family = toml::Table::new();
        let mut family_fields = FamilyFields::NONE;
        let mut keys = BTreeMap::new();
        for (key, node) in raw {
            let field = key.get_ref().as_str();
            if field == "keys" {
                let Node::Table(table) = node else {
                    return Err(self.parse_error(
                        &key.span(),
                        format!("[{section}] keys must be a table of per-key sections"),
                    ));
                };
                for (k, inner) in table {
                    let Node::Table(inner) = inner else {
                        return Err(self.parse_error(
                            &k.span(),
                            format!(
                                "[{section}.keys] `{}` must be a table of breaker fields",
                                k.get_ref()
                            ),
                        ));
                    };
                    for field in inner.keys() {
                        if Fields::named(field.get_ref()).is_none()
                            || field.get_ref() == "global_trip_conditions"
                        {
                            return Err(self.parse_error(
                                &field.span(),
                                format!(
                                    "[{section}.keys.{:?}] unknown breaker field `{}`",
                                    k.get_ref(),
                                    field.get_ref()
                                ),
                            ));
                        }
                    }
                    let built =
                        self.section(format!("{section}.keys.{:?}", k.get_ref()), inner, "")?;
                    keys.insert(k.get_ref().clone(), built);
                }
            } else if let Some(named) = FamilyFields::named(field) {
                family_fields = family_fields.union(named);
                family.insert(field.to_owned(), node.value());
            } else if field == "global_trip_conditions" {
                return Err(self.parse_error(
                    &key.span(),
                    format!(
                        "[{section}] sets global_trip_conditions, which only the registry's \
                         defaults have; set the global fuse in [global]"
                    ),
                ));
            } else if Fields::named(field).is_some() {
                breaker.insert(key.clone(), Node::Value(node.value()));
            } else {
                return Err(self.parse_error(
                    &key.span(),
                    format!("[{section}] unknown field `{field}`: a breaker field, a family field ({}) or `keys`", FamilyConfig::FIELDS.join(", ")),
                ));
            }
        }
        let family = toml::Value::Table(family)
            .try_into::<FamilyConfig>()
            .map_err(|e| {
                self.wrong_field::<FamilyConfig>(&section, raw, |f| {
                    FamilyFields::named(f).is_some()
                })
                .unwrap_or_else(|| {
                    self.parse_error(&name.span(), format!("[{section}] {}", e.message()))
                })
            })?;
        if let Err(violation) = family.check() {
            let line = raw
                .keys()
                .find(|k| k.get_ref() == violation.field)
                .map(|k| self.line(&k.span()));
            return Err(FileError::Invalid {
                path: self.path.clone(),
                line,
                section,
                error: ConfigError::from(violation),
            });
        }
        let breaker = self
            .section(section.clone(), &breaker, "")
            .map_err(|e| match e {
                FileError::Parse {
                    line: 1,
                    column: 1,
                    message,
                    path,
                } => FileError::Parse {
                    path,
                    line: self.line(&name.span()),
                    column: 1,
                    message: format!("[{section}] {message}"),
                },
                other => other,
            })?;
        Ok(FamilySection {
            breaker,
            family,
            family_fields,
            keys,
        })
    }
}

impl FileLayer {
    pub(crate) fn read(path: &Path) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, Some(path.to_owned()))
    }

    pub(crate) fn parse(text: &str, path: Option<PathBuf>) -> Result<Self, FileError> {
        let source = Source { text, path: &path };
        let located = |e: toml::de::Error| {
            let span = e.span().unwrap_or(0..0);
            source.parse_error(&span, e.message().trim().to_owned())
        };
        toml::from_str::<Typed>(text).map_err(located)?;
        let raw: Raw = toml::from_str(text).map_err(located)?;
        let defaults = source.section("defaults".to_owned(), &raw.defaults, "")?;
        let global = source.section("global".to_owned(), &raw.global, "global_trip_conditions.")?;
        let mut components = BTreeMap::new();
        let mut headers = BTreeMap::new();
        for (name, raw) in &raw.components {
            let section = format!("components.{}", name.get_ref());
            if let Err(reason) = crate::names::check(name.get_ref()) {
                return Err(source.parse_error(
                    &name.span(),
                    format!("`{}` cannot name a component: {reason}", name.get_ref()),
                ));
            }
            if let Some((key, _)) = raw.get_key_value("global_trip_conditions") {
                // The fuse reads the registry's defaults only: this would mean nothing.
                return Err(source.parse_error(
                    &key.span(),
                    format!(
                        "[{section}] sets global_trip_conditions, which only the registry's \
                         defaults have; set the global fuse in [global]"
                    ),
                ));
            }
            let built = source.section(section, raw, "")?;
            headers.insert(name.get_ref().clone(), source.line(&name.span()));
            components.insert(name.get_ref().clone(), built);
        }
        let fleet = match &raw.fleet {
            Some(section) => Some(source.fleet(section)?),
            None => None,
        };
        let mut families = BTreeMap::new();
        let mut family_headers = BTreeMap::new();
        for (name, raw) in &raw.families {
            if let Err(reason) = crate::names::check(name.get_ref()) {
                return Err(source.parse_error(
                    &name.span(),
                    format!("`{}` cannot name a keyed family: {reason}", name.get_ref()),
                ));
            }
            families.insert(name.get_ref().clone(), source.family(name, raw)?);
            family_headers.insert(name.get_ref().clone(), source.line(&name.span()));
        }
        Ok(Self {
            path,
            defaults,
            global,
            components,
            headers,
            fleet,
            families,
            family_headers,
        })
    }

    /// The file's `[families.<name>]`, if any.
    pub(crate) fn family(&self, name: &str) -> Option<&FamilySection> {
        self.families.get(name)
    }

    pub(crate) fn family_names(&self) -> impl Iterator<Item = &str> {
        self.families.keys().map(String::as_str)
    }

    /// Strict mode's refusal of the first family section naming no known family.
    pub(crate) fn unknown_family<'n>(
        &self,
        is_known: impl Fn(&str) -> bool,
        known: impl Iterator<Item = &'n str> + Clone,
    ) -> Option<FileError> {
        let name = self.family_names().find(|name| !is_known(name))?;
        Some(FileError::UnknownFamily {
            path: self.path.clone(),
            line: self.family_headers.get(name).copied(),
            name: name.to_owned(),
            suggestion: closest(name, known).map(str::to_owned),
        })
    }

    /// The `[fleet]` section, if the file has one (valid: a file with an invalid one is
    /// refused whole).
    pub(crate) fn fleet(&self) -> Option<&FleetConfig> {
        self.fleet.as_ref()
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn defaults(&self) -> &Section {
        &self.defaults
    }

    pub(crate) fn global(&self) -> &Section {
        &self.global
    }

    pub(crate) fn component(&self, name: &str) -> Option<&Section> {
        self.components.get(name)
    }

    pub(crate) fn component_names(&self) -> impl Iterator<Item = &str> {
        self.components.keys().map(String::as_str)
    }

    /// A refusal of this file: points at the file's key that takes part.
    pub(crate) fn refusal(&self, error: ConfigError) -> FileError {
        let (section, line) = match error.file_key() {
            Some((section, line, _, _)) => (section.to_owned(), Some(line)),
            None => (
                error
                    .component()
                    .map_or_else(|| "defaults".to_owned(), |c| format!("components.{c}")),
                None,
            ),
        };
        FileError::Invalid {
            path: self.path.clone(),
            line,
            section,
            error,
        }
    }

    /// Strict mode's refusal of the first section naming no known component, with the closest
    /// known name.
    pub(crate) fn unknown<'n>(
        &self,
        is_known: impl Fn(&str) -> bool,
        known: impl Iterator<Item = &'n str> + Clone,
    ) -> Option<FileError> {
        let name = self.component_names().find(|name| !is_known(name))?;
        Some(FileError::UnknownComponent {
            path: self.path.clone(),
            line: self.headers.get(name).copied(),
            name: name.to_owned(),
            suggestion: closest(name, known).map(str::to_owned),
        })
    }
}

/// The name in `known` closest to `name` by edit distance, if it is close enough to be a typo
/// of it (at most a third of the longer name's characters differ, and at least one may).
fn closest<'n>(name: &str, known: impl Iterator<Item = &'n str>) -> Option<&'n str> {
    known
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= (name.chars().count().max(k.chars().count()) / 3).max(1))
        .min_by_key(|(d, k)| (*d, *k))
        .map(|(_, k)| k)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unknown_components.is_empty() {
            f.write_str("every [components.*] section names a registered component")
        } else {
            write!(
                f,
                "sections for unregistered components: {}",
                self.unknown_components.join(", ")
            )
        }
    }
}
