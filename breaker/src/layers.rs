//! How a component's config is put together from its layers, most specific last:
//!
//! 1. the built-in [`CircuitConfig::DEFAULT`],
//! 2. the registry's defaults (builder, [`reload`](crate::GlobalCircuitBreaker::reload)),
//! 3. the file's `[defaults]` and `[global]`,
//! 4. the component's own config in code (the fields a `breakers!` entry names, or a whole
//!    config from [`register_with`](crate::GlobalCircuitBreaker::register_with) /
//!    [`reload_component`](crate::GlobalCircuitBreaker::reload_component)),
//! 5. the file's `[components.<name>]`.
//!
//! Layers 2 and 3 make the registry's effective defaults; a component-specific layer beats a
//! default, and at the same level the file beats code (operators tune what developers set).
//! Layers are merged field by field through the serde form, so a layer only changes the fields
//! it names.

use crate::file::FileLayer;
use crate::CircuitConfig;

/// A component's own config from code. Breakers keep it boxed: it is read only on reloads,
/// and inline it would grow every breaker by a cache line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CodeLayer {
    /// None: the component follows the registry's defaults.
    Defaults,
    /// The fields a manifest entry names, taken from its config.
    Fields(Box<CircuitConfig>, &'static [&'static str]),
    /// A whole config (`register_with`, `reload_component`).
    Full(Box<CircuitConfig>),
}

/// Why a layer could not be applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LayerError {
    /// A field's value does not fit the field (only possible for manifest fields here: file
    /// fields are type-checked when the file is parsed).
    Type(String),
    /// The combined config breaks a rule.
    Invalid(crate::ConfigError),
}

/// `base` with the fields of `fields` replaced.
pub(crate) fn overlay(
    base: &CircuitConfig,
    fields: &toml::Table,
) -> Result<CircuitConfig, LayerError> {
    if fields.is_empty() {
        return Ok(*base);
    }
    let mut table = to_table(base)?;
    for (key, value) in fields {
        match (table.get_mut(key), value) {
            // `global_trip_conditions = { .. }` merges field by field too.
            (Some(toml::Value::Table(current)), toml::Value::Table(partial)) => {
                for (k, v) in partial {
                    current.insert(k.clone(), v.clone());
                }
            }
            _ => {
                table.insert(key.clone(), value.clone());
            }
        }
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| LayerError::Type(e.message().to_owned()))
}

/// The serde form of a config, as a table of its fields.
pub(crate) fn to_table(config: &CircuitConfig) -> Result<toml::Table, LayerError> {
    match toml::Value::try_from(config) {
        Ok(toml::Value::Table(t)) => Ok(t),
        Ok(_) => Err(LayerError::Type(
            "a config serialises to a table".to_owned(),
        )),
        Err(e) => Err(LayerError::Type(e.to_string())),
    }
}

/// The registry's effective defaults: its own defaults under the file's.
pub(crate) fn effective_defaults(
    base: &CircuitConfig,
    file: Option<&FileLayer>,
) -> Result<CircuitConfig, LayerError> {
    let config = match file {
        Some(file) => file.defaults_over(base)?,
        None => *base,
    };
    config.validate().map_err(LayerError::Invalid)?;
    Ok(config)
}

/// One component's effective config.
pub(crate) fn effective(
    defaults: &CircuitConfig,
    code: &CodeLayer,
    file: Option<&FileLayer>,
    name: &str,
) -> Result<CircuitConfig, LayerError> {
    let mut config = match code {
        CodeLayer::Defaults => *defaults,
        CodeLayer::Full(own) => **own,
        CodeLayer::Fields(own, fields) => {
            let own = to_table(own)?;
            let picked: toml::Table = fields
                .iter()
                .filter_map(|f| own.get(*f).map(|v| ((*f).to_owned(), v.clone())))
                .collect();
            overlay(defaults, &picked)?
        }
    };
    if let Some(section) = file.and_then(|f| f.component(name)) {
        config = overlay(&config, section)?;
    }
    config.validate().map_err(LayerError::Invalid)?;
    Ok(config)
}
