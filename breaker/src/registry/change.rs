//! The vocabulary of the one config path: which layer an operation changes ([`Change`]), and
//! how a refusal of it is reported ([`Refused`], [`Refusal`]) to each kind of caller.

use std::path::Path;

use crate::config::{CircuitConfig, CodeLayer, ConfigError, ConfigValue, FileError, FileLayer};

use super::events::Event;
use super::RegistryError;

/// Which layer an operation changes, and how. Every entry point describes its operation as
/// one of these and hands it to [`GlobalCircuitBreaker::change`], the one path by which
/// config reaches a breaker.
pub(super) enum Change<'a> {
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
pub(super) struct Refused {
    pub(super) error: Refusal,
    pub(super) event: Option<Event>,
}

/// The error a refused operation returns. Each kind of [`Change`] refuses with its own
/// variant: components with `Registry`, code defaults with `Config`, files with `File`.
pub(super) enum Refusal {
    Registry(RegistryError),
    Config(ConfigError),
    File(FileError),
}

impl Refusal {
    /// A component change's error.
    pub(super) fn into_registry(self) -> RegistryError {
        match self {
            Self::Registry(e) => e,
            Self::Config(e) => RegistryError::Config(e),
            Self::File(e) => RegistryError::Config(file_rule(e)),
        }
    }

    /// A code reload's error.
    pub(super) fn into_config(self) -> ConfigError {
        match self {
            Self::Config(e) | Self::Registry(RegistryError::Config(e)) => e,
            Self::File(e) => file_rule(e),
            Self::Registry(e) => {
                ConfigError::runtime("config", ConfigValue::Count(0), registry_rule(&e))
            }
        }
    }

    /// A file change's error.
    pub(super) fn into_file(self, path: Option<&Path>) -> FileError {
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
            ConfigValue::Count(0),
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

/// A refused file.
pub(super) fn refuse_file(error: FileError, path: Option<&Path>) -> Refused {
    Refused {
        event: Some(Event::FileRefused {
            path: path.map(Path::to_owned),
            error: error.to_string(),
        }),
        error: Refusal::File(error),
    }
}
