//! Calls by component name: [`GlobalCircuitBreaker::acquire`], `call` and `run_protected`,
//! inherent so that no trait import is needed, and the [`Breaker`] trait for code generic over
//! what gates calls by name.

use std::future::Future;

use crate::engine::{run, run_async, CallError, CircuitError, Permit};
use crate::names::ComponentName;

use super::GlobalCircuitBreaker;

/// Something that gates calls by component name. [`GlobalCircuitBreaker`] implements it (and
/// has the same [`acquire`](GlobalCircuitBreaker::acquire) as an inherent method, so calling
/// it needs no import of this trait).
pub trait Breaker {
    /// Lets a call to `component` through (with a guard to record its outcome) or refuses it.
    /// Never blocks.
    fn acquire(&self, component: &str) -> Permit<'_>;
}

impl GlobalCircuitBreaker {
    /// Lets a call to `component` through (with a guard to record its outcome) or refuses it
    /// ([`CircuitError::ComponentMissing`] if no breaker has that name). Never blocks. Looks
    /// the name up (one hash lookup and a reference-count increment, which manifest handles
    /// avoid) and acquires from its breaker.
    pub fn acquire(&self, component: &str) -> Permit<'_> {
        // The map's shard guard is dropped before admitting: admission may transition and
        // run hooks, which may register components.
        match self.component(component) {
            Some(breaker) => breaker.into_permit(),
            None => Permit::Rejected(CircuitError::ComponentMissing {
                component: ComponentName::copied(component),
            }),
        }
    }

    /// [`ComponentBreaker::call`](crate::ComponentBreaker::call) by component name.
    pub fn call<T, E>(
        &self,
        component: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, CallError<E>> {
        run(self.acquire(component), f)
    }

    /// [`ComponentBreaker::run_protected`](crate::ComponentBreaker::run_protected) by
    /// component name.
    pub async fn run_protected<T, E>(
        &self,
        component: &str,
        fut: impl Future<Output = Result<T, E>>,
    ) -> Result<T, CallError<E>> {
        run_async(self.acquire(component), fut).await
    }
}

impl Breaker for GlobalCircuitBreaker {
    fn acquire(&self, component: &str) -> Permit<'_> {
        GlobalCircuitBreaker::acquire(self, component)
    }
}

// A test fails by panicking; the workspace lints are for the library's own code.
#[allow(clippy::unwrap_used)]
// Not in the loom build (`--cfg breaker_loom`), which runs only the models.
#[cfg(not(breaker_loom))]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CircuitConfig;

    fn through_the_trait<'b>(breaker: &'b impl Breaker, component: &str) -> Permit<'b> {
        breaker.acquire(component)
    }

    /// Generic code still gates calls through the trait, and it answers as the inherent
    /// method does.
    #[test]
    fn the_trait_answers_as_the_inherent_method() {
        let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
        registry.register("db").unwrap();
        assert!(through_the_trait(&registry, "db").is_allowed());
        assert!(matches!(
            through_the_trait(&registry, "absent"),
            Permit::Rejected(CircuitError::ComponentMissing { .. })
        ));
        registry.component("db").unwrap().force_open();
        for permit in [through_the_trait(&registry, "db"), registry.acquire("db")] {
            assert!(matches!(
                permit,
                Permit::Rejected(CircuitError::ForcedOpen { .. })
            ));
        }
    }
}
