//! The process-wide registry that manifest handles and zero-setup users share.

use std::fmt;
use std::sync::Arc;

use once_cell::sync::OnceCell;

use crate::{CircuitConfig, GlobalCircuitBreaker, SystemClock};

static DEFAULT: OnceCell<GlobalCircuitBreaker> = OnceCell::new();

/// What put the process-wide registry in place. A first use sets it inside `DEFAULT`'s one
/// initialisation, so whoever sees that registry also sees this; `install` sets it just after.
static ORIGIN: OnceCell<Origin> = OnceCell::new();

/// What created the process-wide registry, for an [`install`] that came too late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Installed,
    /// The first use of this manifest handle (or of a `#[circuit_breaker]` fn using it).
    Handle(&'static str),
    /// A call to [`registry`].
    Registry,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Installed => f.write_str("an earlier `install` put one in place"),
            Self::Handle(name) => write!(
                f,
                "the first use of `breakers::{name}` (directly or through a \
                 `#[circuit_breaker]` fn) created it with the built-in defaults"
            ),
            Self::Registry => {
                f.write_str("a call to `breaker::registry()` created it with the built-in defaults")
            }
        }
    }
}

/// The process-wide registry, created with [`CircuitConfig::DEFAULT`] and the system clock on
/// first use unless [`install`] came first.
pub fn registry() -> &'static GlobalCircuitBreaker {
    created(Origin::Registry)
}

/// [`registry`], for the first use of the manifest handle `name`, so that a later [`install`]
/// can say which handle created the registry.
pub(crate) fn registry_for(name: &'static str) -> &'static GlobalCircuitBreaker {
    created(Origin::Handle(name))
}

fn created(origin: Origin) -> &'static GlobalCircuitBreaker {
    DEFAULT.get_or_init(|| {
        let _ = ORIGIN.set(origin);
        GlobalCircuitBreaker::with_valid(CircuitConfig::DEFAULT, Arc::new(SystemClock))
    })
}

/// [`install`] was called after the process-wide registry already existed. The message
/// says what created it: an earlier `install`, or (the usual mistake) the first call through
/// a `breakers!` handle or `#[circuit_breaker]` fn, or `breaker::registry()`, before it.
#[derive(Debug, thiserror::Error)]
#[error("the process-wide breaker registry is already initialised: {origin}; call `install` once, at startup, before the first call through a `breakers!` handle, a `#[circuit_breaker]` fn or `breaker::registry()`")]
pub struct AlreadyInstalled {
    rejected: Box<GlobalCircuitBreaker>,
    origin: Origin,
}

impl AlreadyInstalled {
    /// The registry that was not installed.
    pub fn into_inner(self) -> GlobalCircuitBreaker {
        *self.rejected
    }

    /// The manifest component whose first use created the process-wide registry before this
    /// `install` (`None`: an earlier `install` or a call to [`registry`] did).
    pub fn created_by_component(&self) -> Option<&'static str> {
        match self.origin {
            Origin::Handle(name) => Some(name),
            Origin::Installed | Origin::Registry => None,
        }
    }
}

/// Makes `registry` the process-wide one. Only the first install, before any use, succeeds: a
/// later one returns the registry it was given inside the error, which names what created
/// the registry in place (the first use of a `breakers!` handle is the usual cause).
///
/// ```
/// use breaker::{install, CircuitConfig, GlobalCircuitBreaker};
///
/// let registry = GlobalCircuitBreaker::new(CircuitConfig { min_calls: 50, ..CircuitConfig::DEFAULT })?;
/// let installed = install(registry).expect("first install at startup");
/// assert_eq!(installed.config().min_calls, 50);
/// assert!(install(GlobalCircuitBreaker::new(CircuitConfig::DEFAULT)?).is_err());
/// # Ok::<(), breaker::ConfigError>(())
/// ```
pub fn install(
    new: GlobalCircuitBreaker,
) -> Result<&'static GlobalCircuitBreaker, AlreadyInstalled> {
    match DEFAULT.set(new) {
        Ok(()) => {
            let _ = ORIGIN.set(Origin::Installed);
            Ok(registry())
        }
        Err(rejected) => Err(AlreadyInstalled {
            rejected: Box::new(rejected),
            // Unset only in the instant between another install's `set` and its `ORIGIN`.
            origin: ORIGIN.get().copied().unwrap_or(Origin::Installed),
        }),
    }
}
