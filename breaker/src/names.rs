//! [`ComponentName`]: a breaker's identity, as every report of it carries it (errors,
//! transitions, events, snapshots), and the rules a run-time name must follow.
//!
//! A name owns its string, so it lives exactly as long as the breakers, errors and events that
//! hold it: a registry or standalone breaker that is dropped frees its names with it (names
//! used to be interned into a process-wide set that never shrank, which a breaker per host or
//! tenant, created and evicted at run time, would have grown without bound).
//!
//! Cloning costs nothing for a name from code (a `breakers!` entry, [`GLOBAL`]): it is a
//! `&'static str`. A name made at run time ([`register`], [`ComponentBreaker::new`]) is one
//! `Arc<str>`, allocated once when the breaker is made; cloning it is a reference-count
//! increment, never an allocation.
//!
//! [`register`]: crate::GlobalCircuitBreaker::register
//! [`ComponentBreaker::new`]: crate::ComponentBreaker::new

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// The key of the derived global fuse.
pub const GLOBAL: &str = "__global__";

/// The global fuse's name, as its breaker carries it.
pub(crate) const GLOBAL_NAME: ComponentName = ComponentName::from_static(GLOBAL);

/// A component's name, as a breaker reports it: in [`CircuitError`](crate::CircuitError),
/// [`Transition`](crate::Transition), [`Event`](crate::Event) and
/// [`ComponentSnapshot`](crate::ComponentSnapshot).
///
/// It reads as a `str` (`Deref`, `AsRef`, `Borrow`, `Display`) and compares, orders and hashes
/// as one, so `name == "db"` works and a map keyed by it is looked up by `&str`. It serializes
/// as a string. Cloning never allocates: a name from code is a `&'static str`, a name made at
/// run time a shared `Arc<str>`, freed with the last breaker, error or event that holds it.
///
/// ```
/// use std::collections::HashMap;
/// use breaker::ComponentName;
///
/// let name = ComponentName::from_static("quotes_api");
/// assert_eq!(name, "quotes_api");
/// assert_eq!(name.len(), 10);
///
/// let mut by_name = HashMap::new();
/// by_name.insert(name.clone(), 1);
/// assert_eq!(by_name.get("quotes_api"), Some(&1));
///
/// let made_at_run_time = ComponentName::from(format!("tenant-{}", 7));
/// assert_eq!(made_at_run_time.to_string(), "tenant-7");
/// ```
#[derive(Clone)]
pub struct ComponentName(Repr);

/// Private so that other shapes (a keyed breaker's family and key, sharing one allocation)
/// can be added without changing what users see: every shape derefs to the whole name.
#[derive(Clone)]
enum Repr {
    /// From code: copying it touches no shared memory.
    Static(&'static str),
    /// Made at run time.
    Shared(Arc<str>),
    /// A keyed family's breaker: the family, the key as given, and the whole name as it is
    /// displayed (`family[key]`, control characters escaped), in one shared allocation.
    Keyed(Arc<Keyed>),
}

/// The parts of a keyed breaker's name.
struct Keyed {
    family: ComponentName,
    key: Box<str>,
    /// `family[key]`, with the key's control characters escaped so logs stay one line.
    full: Box<str>,
}

impl ComponentName {
    /// A name from code (a literal, a `breakers!` entry): free to make and to clone.
    pub const fn from_static(name: &'static str) -> Self {
        Self(Repr::Static(name))
    }

    /// A copy of a run-time `name`, in one allocation.
    pub(crate) fn copied(name: &str) -> Self {
        Self(Repr::Shared(Arc::from(name)))
    }

    /// The name of the breaker for `key` in `family`: reads as `family[key]`, with the key's
    /// control characters escaped (`\n`, `\u{1b}`), so a hostile key cannot forge log lines.
    /// Three small allocations, once per key (never per call).
    pub(crate) fn keyed(family: ComponentName, key: &str) -> Self {
        let mut full = String::with_capacity(family.len() + key.len() + 2);
        full.push_str(&family);
        full.push('[');
        for c in key.chars() {
            if c.is_control() {
                full.extend(c.escape_default());
            } else {
                full.push(c);
            }
        }
        full.push(']');
        Self(Repr::Keyed(Arc::new(Keyed {
            family,
            key: Box::from(key),
            full: full.into_boxed_str(),
        })))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(name) => name,
            Repr::Shared(name) => name,
            Repr::Keyed(keyed) => &keyed.full,
        }
    }

    /// For a keyed family's breaker: the family's name (`None` for a plain component).
    pub fn family(&self) -> Option<&str> {
        match &self.0 {
            Repr::Keyed(keyed) => Some(keyed.family.as_str()),
            _ => None,
        }
    }

    /// For a keyed family's breaker: the key exactly as given, unescaped (`None` for a plain
    /// component).
    pub fn key(&self) -> Option<&str> {
        match &self.0 {
            Repr::Keyed(keyed) => Some(&keyed.key),
            _ => None,
        }
    }

    /// Whether cloning this name writes no reference count (a name from code).
    #[cfg(test)]
    pub(crate) fn is_static(&self) -> bool {
        matches!(self.0, Repr::Static(_))
    }

    /// How many holders share this name's allocation (`None`: a name from code).
    #[cfg(test)]
    pub(crate) fn holders(&self) -> Option<usize> {
        match &self.0 {
            Repr::Static(_) => None,
            Repr::Shared(name) => Some(Arc::strong_count(name)),
            Repr::Keyed(keyed) => Some(Arc::strong_count(keyed)),
        }
    }
}

impl Deref for ComponentName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ComponentName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Consistent with `Eq`, `Ord` and `Hash`, which all follow `str`.
impl Borrow<str> for ComponentName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As the string (quoted), whatever the representation.
impl fmt::Debug for ComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for ComponentName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ComponentName {}

impl PartialOrd for ComponentName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ComponentName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// Hashes as the `str` does, so `Borrow<str>` lookups find it.
impl Hash for ComponentName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

macro_rules! eq_str {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for ComponentName {
            fn eq(&self, other: &$other) -> bool {
                self.as_str() == &other[..]
            }
        }

        impl PartialEq<ComponentName> for $other {
            fn eq(&self, other: &ComponentName) -> bool {
                &self[..] == other.as_str()
            }
        }
    )*};
}

eq_str!(str, &str, String, std::borrow::Cow<'_, str>);

impl Serialize for ComponentName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Free: no allocation (see [`ComponentName::from_static`]).
impl From<&'static str> for ComponentName {
    fn from(name: &'static str) -> Self {
        Self::from_static(name)
    }
}

/// One allocation: the string is copied into a shared one.
impl From<String> for ComponentName {
    fn from(name: String) -> Self {
        Self(Repr::Shared(Arc::from(name)))
    }
}

/// One allocation: the string is copied into a shared one.
impl From<Box<str>> for ComponentName {
    fn from(name: Box<str>) -> Self {
        Self(Repr::Shared(Arc::from(name)))
    }
}

/// No allocation: the name shares `name`'s.
impl From<Arc<str>> for ComponentName {
    fn from(name: Arc<str>) -> Self {
        Self(Repr::Shared(name))
    }
}

impl From<ComponentName> for String {
    fn from(name: ComponentName) -> Self {
        name.as_str().to_owned()
    }
}

/// Why a runtime name is refused: empty, too long, reserved, or outside `[A-Za-z0-9_.:-]`.
pub(crate) fn check(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.len() > 128 {
        return Err("must be at most 128 bytes");
    }
    if name.starts_with("__") {
        return Err("names starting with `__` are reserved (`__global__` is the global fuse)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
    {
        return Err("may only contain ASCII letters, digits, `_`, `-`, `.` and `:`");
    }
    Ok(())
}

// A test fails by panicking; the workspace lints are for the library's own code.
#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn both_shapes_read_compare_and_hash_as_the_string() {
        let from_code = ComponentName::from_static("db");
        let made = ComponentName::copied("db");
        assert!(from_code.is_static());
        assert!(!made.is_static());
        assert_eq!(from_code, made);
        assert_eq!(hash_of(&from_code), hash_of("db"));
        assert_eq!(hash_of(&made), hash_of("db"));
        assert_eq!(&*made, "db");
        assert_eq!(made.as_ref() as &str, "db");
        assert_eq!(format!("{made} {made:?}"), "db \"db\"");
        // Each impl, both ways: `&str`, `str`, `String`, `Cow<str>`.
        let owned = String::from("db");
        let cow = std::borrow::Cow::Borrowed("db");
        assert!(made == "db");
        assert!("db" == made);
        assert!(made == *"db");
        assert!(*"db" == made);
        assert!(made == owned);
        assert!(owned == made);
        assert!(made == cow);
        assert!(cow == made);
        assert!(made != "dc");
        assert!(ComponentName::from_static("a") < made);
        assert_eq!(String::from(made), "db");
    }

    #[test]
    fn maps_keyed_by_a_name_are_looked_up_by_str() {
        let mut map = HashMap::new();
        map.insert(ComponentName::copied("a"), 1);
        map.insert(ComponentName::from_static("b"), 2);
        assert_eq!(
            (map.get("a"), map.get("b"), map.get("c")),
            (Some(&1), Some(&2), None)
        );
        let sorted: BTreeSet<_> = ["c", "a", "b"].map(ComponentName::from).into();
        assert_eq!(sorted.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn cloning_shares_the_allocation_and_the_last_holder_frees_it() {
        let made = ComponentName::from(String::from("tenant"));
        assert_eq!(made.holders(), Some(1));
        let copy = made.clone();
        assert_eq!(made.holders(), Some(2));
        drop(copy);
        assert_eq!(made.holders(), Some(1));
        assert_eq!(ComponentName::from_static("code").clone().holders(), None);
        let shared: Arc<str> = Arc::from("x");
        let name = ComponentName::from(Arc::clone(&shared));
        assert_eq!(Arc::strong_count(&shared), 2);
        assert_eq!(ComponentName::from(Box::<str>::from("y")), "y");
        drop(name);
        assert_eq!(Arc::strong_count(&shared), 1);
    }

    #[test]
    fn a_keyed_name_knows_its_family_and_key_and_escapes_control_characters() {
        let name = ComponentName::keyed(ComponentName::from_static("hosts"), "a.example\n\u{1b}");
        assert_eq!(name.family(), Some("hosts"));
        assert_eq!(name.key(), Some("a.example\n\u{1b}"));
        assert_eq!(name.as_str(), "hosts[a.example\\n\\u{1b}]");
        assert_eq!(name.to_string().lines().count(), 1);
        assert_eq!(ComponentName::from_static("db").family(), None);
        assert_eq!(ComponentName::copied("db").key(), None);
        let copy = name.clone();
        assert_eq!(name.holders(), Some(2));
        assert_eq!(copy, "hosts[a.example\\n\\u{1b}]");
    }
}
