//! [`FamilyHandle`]: the `static` that `breakers!` generates for a keyed family entry
//! (`upstream_host[] { max_keys: 1_000, error_rate_threshold: 0.3 }`), and [`IntoKey`], what
//! a key may be.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use once_cell::sync::OnceCell;

use crate::config::{CircuitConfig, CodeLayer, FamilyConfig, FamilyFields, Fields};
use crate::names::ComponentName;

use super::default;
use super::family::{Family, FamilyLayer, KeyError, KeyRef};
use super::GlobalCircuitBreaker;

/// A string-like key of a keyed family: `&str`, `String`, `&String`, `Cow<str>`,
/// `Arc<str>`, `Box<str>`, [`ComponentName`], and references to them. Borrowed, never copied:
/// a key that is already live costs no allocation.
#[diagnostic::on_unimplemented(
    message = "a family key must be string-like, not `{Self}`",
    label = "this key expression is not a string",
    note = "keys are `&str`, `String`, `Cow<str>`, `Arc<str>`, `Box<str>` or `ComponentName`; convert numbers with `.to_string()` (or a `format!`)"
)]
pub trait IntoKey {
    /// The key as a string.
    fn as_key(&self) -> &str;
}

impl IntoKey for str {
    fn as_key(&self) -> &str {
        self
    }
}

impl IntoKey for String {
    fn as_key(&self) -> &str {
        self
    }
}

impl IntoKey for Cow<'_, str> {
    fn as_key(&self) -> &str {
        self
    }
}

impl IntoKey for Arc<str> {
    fn as_key(&self) -> &str {
        self
    }
}

impl IntoKey for Box<str> {
    fn as_key(&self) -> &str {
        self
    }
}

impl IntoKey for ComponentName {
    fn as_key(&self) -> &str {
        self.as_str()
    }
}

impl<T: IntoKey + ?Sized> IntoKey for &T {
    fn as_key(&self) -> &str {
        (**self).as_key()
    }
}

/// A declared keyed family: its name, its manifest entry's breaker fields (a
/// [`CircuitConfig`], checked at compile time like a component's) and family fields (a
/// [`FamilyConfig`], checked the same way), and a lazily initialised link to its [`Family`] in
/// the process-wide registry ([`crate::registry`]).
///
/// Made only by `breakers!` (through `__private::family_handle`). Use it with a key:
/// `breakers::upstream_host.key(host)?.acquire()`, or `#[circuit_breaker(component =
/// "upstream_host", key = host)]`.
pub struct FamilyHandle {
    name: &'static str,
    config: Option<CircuitConfig>,
    fields: &'static [&'static str],
    family: Option<FamilyConfig>,
    family_fields: &'static [&'static str],
    cell: OnceCell<Arc<Family>>,
    /// The id of the registry this handle last declared its family in (0: none).
    declared_in: AtomicU64,
}

impl FamilyHandle {
    /// `config`: `CircuitConfig::DEFAULT` with the entry's breaker `fields`; `family`:
    /// `FamilyConfig::DEFAULT` with its `family_fields` (`None`: it sets none). Both were
    /// checked at compile time.
    pub(crate) const fn new(
        name: &'static str,
        config: Option<CircuitConfig>,
        fields: &'static [&'static str],
        family: Option<FamilyConfig>,
        family_fields: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            config,
            fields,
            family,
            family_fields,
            cell: OnceCell::new(),
            declared_in: AtomicU64::new(0),
        }
    }

    /// The family's name, as declared.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The breaker fields the entry sets.
    pub fn declared_fields(&self) -> &'static [&'static str] {
        self.fields
    }

    /// The family fields the entry sets.
    pub fn declared_family_fields(&self) -> &'static [&'static str] {
        self.family_fields
    }

    /// The entry's breaker config (`None`: it sets no breaker field).
    pub fn declared_config(&self) -> Option<CircuitConfig> {
        self.config
    }

    /// The entry's family config (`None`: it sets no family field).
    pub fn declared_family_config(&self) -> Option<FamilyConfig> {
        self.family
    }

    /// The family in the process-wide registry, declared there on first use.
    pub fn family(&self) -> &Arc<Family> {
        self.cell
            .get_or_init(|| self.declare_in(default::registry()))
    }

    /// This family in another registry (tests, `registry = ...`), declared there on first
    /// use (a family registered there by name before gets the entry's layers, state kept).
    pub fn family_in(&self, registry: &GlobalCircuitBreaker) -> Arc<Family> {
        if self.declared_in.load(Ordering::Acquire) == registry.id() {
            if let Some(family) = registry.family(self.name) {
                return family;
            }
        }
        let family = self.declare_in(registry);
        self.declared_in.store(registry.id(), Ordering::Release);
        family
    }

    /// The breaker of `key` in the process-wide registry (see [`Family::key`]).
    pub fn key(&self, key: &str) -> Result<KeyRef, KeyError> {
        self.family().key(key)
    }

    /// The breaker of `key` in `registry`.
    pub fn key_in(&self, registry: &GlobalCircuitBreaker, key: &str) -> Result<KeyRef, KeyError> {
        self.family_in(registry).key(key)
    }

    /// Evicts the idle keys of the family in the process-wide registry (see
    /// [`Family::evict_idle`]).
    pub fn evict_idle(&self) -> usize {
        self.family().evict_idle()
    }

    fn declare_in(&self, registry: &GlobalCircuitBreaker) -> Arc<Family> {
        registry.declare_family(self.name, self.layer())
    }

    /// The entry's layers from code.
    fn layer(&self) -> FamilyLayer {
        FamilyLayer {
            code: match self.config {
                Some(config) => CodeLayer::Manifest(config, Fields::all_named(self.fields)),
                None => CodeLayer::Defaults,
            },
            family: self.family.unwrap_or(FamilyConfig::DEFAULT),
            family_fields: if self.family.is_some() {
                FamilyFields::all_named(self.family_fields)
            } else {
                FamilyFields::NONE
            },
            declared: true,
        }
    }
}

impl fmt::Debug for FamilyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FamilyHandle")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("family", &self.family)
            .field("initialised", &self.cell.get().is_some())
            .finish()
    }
}
