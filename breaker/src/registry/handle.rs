//! [`ComponentHandle`]: the `static` that `breakers!` generates for each declared component.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use once_cell::sync::OnceCell;

use crate::config::CircuitConfig;
use crate::config::{CodeLayer, Fields};
use crate::engine::clock::Timeline;
use crate::engine::events::Unowned;
use crate::engine::ComponentBreaker;
use crate::engine::Role;
use crate::names::ComponentName;

use super::reconfigure::Pending;
use super::{default, GlobalCircuitBreaker, RegistryError};

/// A declared component: its name, its manifest config, and a lazily initialised link to its
/// breaker in the process-wide registry ([`crate::registry`]).
///
/// The first use of any handle of a manifest registers every component of that manifest, so a
/// snapshot lists them all from then on; later uses go straight to the breaker, with no map
/// lookup. Derefs to the [`ComponentBreaker`], so `breakers::binance_ws.state()` works.
///
/// That first use also creates the process-wide registry if nothing did before, so a custom
/// registry must be [`install`](crate::install)ed before it (a later `install` returns an
/// [`AlreadyInstalled`](crate::AlreadyInstalled) that names the handle). To register the
/// manifest at startup, call the `breakers::declare(&registry)` that `breakers!` generates.
pub struct ComponentHandle {
    name: &'static str,
    config: Option<CircuitConfig>,
    fields: &'static [&'static str],
    manifest: &'static [&'static ComponentHandle],
    breaker: OnceCell<Arc<ComponentBreaker>>,
    /// The id of the registry this handle last declared its manifest in (0: none), so
    /// [`in_registry`](Self::in_registry) declares once per registry, not once per call.
    declared_in: AtomicU64,
}

impl ComponentHandle {
    /// Used by `breakers!` (through `__private::handle`); `config` was checked at compile
    /// time.
    pub(crate) const fn new(
        name: &'static str,
        config: Option<CircuitConfig>,
        fields: &'static [&'static str],
        manifest: &'static [&'static ComponentHandle],
    ) -> Self {
        Self {
            name,
            config,
            fields,
            manifest,
            breaker: OnceCell::new(),
            declared_in: AtomicU64::new(0),
        }
    }

    /// The component's name, as declared.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The fields the manifest entry sets (the rest come from the registry's defaults).
    pub fn declared_fields(&self) -> &'static [&'static str] {
        self.fields
    }

    /// The manifest entry's config: the registry's built-in defaults with the entry's fields
    /// (`None`: the entry sets none).
    pub fn declared_config(&self) -> Option<CircuitConfig> {
        self.config
    }

    /// The breaker, registering the whole manifest in the process-wide registry on first use.
    pub fn breaker(&self) -> &ComponentBreaker {
        if let Some(breaker) = self.breaker.get() {
            return breaker;
        }
        let registry = default::registry_for(self.name);
        let (breaker, pending) = self.declare_in(registry);
        // Only a value goes into the cell: the hooks run after it is set, so a hook that
        // uses this handle finds it initialised instead of waiting for itself.
        let breaker = self.breaker.get_or_init(|| breaker);
        pending.emit();
        breaker
    }

    /// `breakers::declare`: registers every component of `manifest` in `registry` at once,
    /// all or nothing, through the registry's one config path (idempotent).
    pub(crate) fn declare_all(
        manifest: &[&ComponentHandle],
        registry: &GlobalCircuitBreaker,
    ) -> Result<(), RegistryError> {
        let (declared, pending) = registry.declare(entries(manifest));
        pending.emit();
        declared.map(drop)
    }

    /// This component's breaker in another registry (tests, `registry = ...`). On first use
    /// the whole manifest is declared there, as with the process-wide registry, even if the
    /// name was registered there before (by `register` or a tower layer's `for_component`: it
    /// then gets the entry's fields, state and counts kept).
    pub fn in_registry(&self, registry: &GlobalCircuitBreaker) -> Arc<ComponentBreaker> {
        // One atomic load and a map lookup per use; a registry's id is never reused, so a
        // match means this handle declared its manifest in this very registry.
        if self.declared_in.load(Ordering::Acquire) == registry.id() {
            if let Some(breaker) = registry.component(self.name) {
                return breaker;
            }
        }
        let (breaker, pending) = self.declare_in(registry);
        self.declared_in.store(registry.id(), Ordering::Release);
        pending.emit();
        breaker
    }

    /// Declares the manifest and this handle (which a hand-built handle's manifest may not
    /// list) and returns this handle's breaker; the hooks are left to the caller.
    fn declare_in<'r>(
        &self,
        registry: &'r GlobalCircuitBreaker,
    ) -> (Arc<ComponentBreaker>, Pending<'r>) {
        let mut handles: Vec<&ComponentHandle> = self.manifest.to_vec();
        handles.push(self);
        let (breakers, pending) = registry.declare(entries(&handles));
        let breaker = match breakers.ok().and_then(|mut breakers| breakers.pop()) {
            Some(breaker) => breaker,
            // Declaring refuses only if the layers in force are invalid, which putting them in
            // force prevents; this only guards the types.
            None => Arc::new(ComponentBreaker::build(
                ComponentName::from_static(self.name),
                self.config.unwrap_or_else(|| registry.config()),
                Timeline::new(Arc::clone(registry.clock())),
                Arc::new(Unowned),
                Role::Component,
            )),
        };
        (breaker, pending)
    }

    /// The entry's layer 4: the fields it names, with its compiled config's values.
    fn code_layer(&self) -> CodeLayer {
        match self.config {
            Some(config) => CodeLayer::Manifest(config, Fields::all_named(self.fields)),
            None => CodeLayer::Defaults,
        }
    }
}

/// What declaring `handles` registers: each one's name and layer 4.
fn entries(handles: &[&ComponentHandle]) -> Vec<(&'static str, CodeLayer)> {
    handles.iter().map(|h| (h.name(), h.code_layer())).collect()
}

impl Deref for ComponentHandle {
    type Target = ComponentBreaker;

    fn deref(&self) -> &ComponentBreaker {
        self.breaker()
    }
}

impl fmt::Debug for ComponentHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentHandle")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("initialised", &self.breaker.get().is_some())
            .finish()
    }
}

// A test fails by panicking; the workspace lints are for the library's own code.
#[allow(clippy::unwrap_used)]
// Not in the loom build (`--cfg breaker_loom`), which runs only the models.
#[cfg(not(breaker_loom))]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::FakeClock;
    use crate::registry::GlobalCircuitBreaker;

    /// The registry's map is keyed by the breaker's own name, not by a second copy; a
    /// manifest component's name stays the `&'static str` it was declared with.
    #[test]
    fn the_registry_keys_by_the_breakers_own_name() {
        let registry = GlobalCircuitBreaker::builder()
            .clock(FakeClock::new())
            .build()
            .unwrap();
        let db = registry.register("db").unwrap();
        assert_eq!(
            db.name().holders(),
            Some(2),
            "the breaker and the map's key"
        );
        assert_eq!(registry.components(), ["db"]);
        let handle = ComponentHandle::new("declared", None, &[], &[]);
        assert!(handle.in_registry(&registry).name().is_static());
        assert!(registry.global().name().is_static());
        drop(registry);
        assert_eq!(
            db.name().holders(),
            Some(1),
            "dropping the registry let go of it"
        );
    }
}
