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
//! config (see [`layers`](crate::layers)) and validated as a whole; only then is it put in force,
//! all at once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::layers::{overlay, LayerError};
use crate::{CircuitConfig, ConfigError, GlobalTripConditions};

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
    #[error("{}:{line}:{column}: {message}", source_name(path))]
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
    /// A value breaks a rule (after layering).
    #[error("{}{}: [{section}] {error}", source_name(path), line.map(|l| format!(":{l}")).unwrap_or_default())]
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
            Self::Invalid { line, .. } => *line,
            Self::Io { .. } => None,
        }
    }
}

fn source_name(path: &Option<PathBuf>) -> String {
    path.as_deref()
        .map_or_else(|| "<config>".to_owned(), |p| p.display().to_string())
}

/// What a successful file reload did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FileReport {
    /// `[components.<name>]` sections for components that are not registered. They are kept
    /// and apply if such a component registers later; usually they are typos.
    pub unknown_components: Vec<String>,
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
}

type Section = BTreeMap<String, toml::Spanned<toml::Value>>;

/// The same file, keeping which keys each section sets and where.
#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    defaults: Section,
    #[serde(default)]
    global: Section,
    #[serde(default)]
    components: BTreeMap<String, Section>,
}

/// A parsed, type-checked file: the keys each section sets.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileLayer {
    path: Option<PathBuf>,
    text: String,
    defaults: Section,
    global: Section,
    components: BTreeMap<String, Section>,
    // The same sections without spans, ready to overlay.
    defaults_table: toml::Table,
    components_tables: BTreeMap<String, toml::Table>,
}

fn plain(section: &Section) -> toml::Table {
    section
        .iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect()
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
        let located = |e: toml::de::Error| {
            let (line, column) = e.span().map_or((1, 1), |span| line_col(text, span.start));
            FileError::Parse {
                path: path.clone(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        };
        toml::from_str::<Typed>(text).map_err(located)?;
        let raw: Raw = toml::from_str(text).map_err(located)?;
        let mut defaults_table = plain(&raw.defaults);
        if !raw.global.is_empty() {
            let global = plain(&raw.global);
            match defaults_table.get_mut("global_trip_conditions") {
                Some(toml::Value::Table(t)) => t.extend(global),
                _ => {
                    defaults_table.insert("global_trip_conditions".to_owned(), global.into());
                }
            }
        }
        Ok(Self {
            path,
            text: text.to_owned(),
            components_tables: raw
                .components
                .iter()
                .map(|(k, s)| (k.clone(), plain(s)))
                .collect(),
            defaults_table,
            defaults: raw.defaults,
            global: raw.global,
            components: raw.components,
        })
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn defaults_over(&self, base: &CircuitConfig) -> Result<CircuitConfig, LayerError> {
        overlay(base, &self.defaults_table)
    }

    pub(crate) fn component(&self, name: &str) -> Option<&toml::Table> {
        self.components_tables.get(name)
    }

    pub(crate) fn component_names(&self) -> impl Iterator<Item = &str> {
        self.components.keys().map(String::as_str)
    }

    /// Turns a layering failure into an error that points into the file. `component` is `None`
    /// for the defaults.
    pub(crate) fn locate(&self, component: Option<&str>, error: LayerError) -> FileError {
        let error = match error {
            LayerError::Invalid(e) => e,
            LayerError::Type(message) => {
                return FileError::Parse {
                    path: self.path.clone(),
                    line: 1,
                    column: 1,
                    message,
                }
            }
        };
        let field = error.field();
        let (section, key_span) = match component {
            Some(name) => (
                format!("components.{name}"),
                self.components.get(name).and_then(|s| find(s, field)),
            ),
            None => {
                let in_global = field
                    .strip_prefix("global_trip_conditions.")
                    .and_then(|f| self.global.get(f).map(toml::Spanned::span));
                match in_global {
                    Some(span) => ("global".to_owned(), Some(span)),
                    None => ("defaults".to_owned(), find(&self.defaults, field)),
                }
            }
        };
        FileError::Invalid {
            path: self.path.clone(),
            line: key_span.map(|s| line_col(&self.text, s.start).0),
            section,
            error,
        }
    }
}

fn find(section: &Section, field: &str) -> Option<std::ops::Range<usize>> {
    let top = field.split('.').next().unwrap_or(field);
    section.get(top).map(toml::Spanned::span)
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
