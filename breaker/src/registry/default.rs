//! The process-wide registry that manifest handles and zero-setup users share.

use std::sync::Arc;

use once_cell::sync::OnceCell;

use crate::{CircuitConfig, GlobalCircuitBreaker, SystemClock};

static DEFAULT: OnceCell<GlobalCircuitBreaker> = OnceCell::new();

/// The process-wide registry, created with [`CircuitConfig::DEFAULT`] and the system clock on
/// first use unless [`install`] came first.
pub fn registry() -> &'static GlobalCircuitBreaker {
    DEFAULT.get_or_init(|| {
        GlobalCircuitBreaker::with_valid(CircuitConfig::DEFAULT, Arc::new(SystemClock))
    })
}

/// [`install`] was called after the process-wide registry already existed.
#[derive(Debug, thiserror::Error)]
#[error("the process-wide breaker registry is already initialised (by an earlier install or a first use); install it once, at startup, before any call")]
pub struct AlreadyInstalled {
    rejected: Box<GlobalCircuitBreaker>,
}

impl AlreadyInstalled {
    /// The registry that was not installed.
    pub fn into_inner(self) -> GlobalCircuitBreaker {
        *self.rejected
    }
}

/// Makes `registry` the process-wide one. Only the first install (before any use) succeeds; a
/// later one returns the registry it was given inside the error.
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
    DEFAULT.set(new).map_err(|rejected| AlreadyInstalled {
        rejected: Box::new(rejected),
    })?;
    Ok(registry())
}
