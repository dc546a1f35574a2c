//! [`ComponentHandle`]: the `static` that `breakers!` generates for each declared component.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use once_cell::sync::OnceCell;

use crate::{CircuitConfig, ComponentBreaker, GlobalCircuitBreaker};

/// A declared component: its name, its manifest config, and a lazily initialised link to its
/// breaker in the process-wide registry ([`crate::registry`]).
///
/// The first use of any handle of a manifest registers every component of that manifest, so a
/// snapshot lists them all from then on; later uses go straight to the breaker, with no map
/// lookup. Derefs to the [`ComponentBreaker`], so `breakers::binance_ws.state()` works.
pub struct ComponentHandle {
    name: &'static str,
    config: Option<CircuitConfig>,
    fields: &'static [&'static str],
    manifest: &'static [&'static ComponentHandle],
    breaker: OnceCell<Arc<ComponentBreaker>>,
}

impl ComponentHandle {
    /// Used by `breakers!`; `config` was checked at compile time.
    #[doc(hidden)]
    pub const fn new(
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
        self.breaker.get_or_init(|| {
            let registry = crate::registry();
            self.declare_manifest(registry);
            registry.declare(self.name, self.config, self.fields)
        })
    }

    /// Registers every component of this handle's manifest in `registry` (idempotent). Call it
    /// at startup so a snapshot lists every component before its first call.
    pub fn declare_manifest(&self, registry: &GlobalCircuitBreaker) {
        for handle in self.manifest {
            registry.declare(handle.name, handle.config, handle.fields);
        }
    }

    /// This component's breaker in another registry (tests, `registry = ...`). On first use
    /// the whole manifest is registered there, as with the process-wide registry.
    pub fn in_registry(&self, registry: &GlobalCircuitBreaker) -> Arc<ComponentBreaker> {
        match registry.component(self.name) {
            Some(breaker) => breaker,
            None => {
                self.declare_manifest(registry);
                registry.declare(self.name, self.config, self.fields)
            }
        }
    }
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
