//! Keyed families: a [`ComponentBreaker`] per key (an upstream host, a tenant, a route),
//! created on first use, bounded in number, evicted when idle, rolled up into the global fuse
//! as ONE member.
//!
//! # The map
//!
//! Keys are untrusted input (they come from URLs and headers), so they are hashed with std's
//! randomly seeded SipHash (std's `RandomState`), never a fixed fast hash an attacker could collide.
//! The 64-bit hash is computed once per call: its low bits pick one of the shards (a
//! `RwLock<HashMap>` each, on the engine's lock shim so loom can model them), and the shard
//! maps the hash itself (identity-hashed) to the key's slot, comparing the key's bytes. A call
//! on a live key therefore costs one SipHash of the key, one uncontended read lock, one
//! `Arc` reference-count increment and one clock read (the coarse `last_used`, stored only
//! when it is older than `idle_ttl / 16`: no shared write per call), on top of the breaker's
//! own acquire. Nothing is allocated.
//!
//! # Eviction
//!
//! A key is evicted when all of these hold, checked under its shard's write lock:
//! it is `Closed`; its window holds no failure; nobody holds its breaker (no guard, no
//! [`KeyRef`]: the `Arc`'s strong count is 1, and under the write lock no new holder can
//! appear, since holders clone it under the read lock); and it has been idle for `idle_ttl`
//! (measured from `last_used`, which may lag the real last use by `idle_ttl / 16`, so the
//! check waits that much longer: a key is never evicted early). Eviction runs on insert when
//! the family is full (at most [`EVICTION_BUDGET`] candidates per insert) and on
//! [`Family::evict_idle`]; no thread is ever started.
//!
//! # Overflow
//!
//! When the family is full and no candidate could be evicted, a new key is served by the
//! family's one overflow breaker (`family[__overflow__]`), so its calls are still protected,
//! and an [`Event::FamilyOverflow`] says so (once; another when a new key gets its own breaker
//! again). What an attacker sending a million distinct keys can cost is `max_keys` breakers.
//!
//! # Roll-up and the ejection cap
//!
//! Every key's breaker has the family as its owner. The family counts its unhealthy (`Open` or
//! `HalfOpen`) keys under each key's transition lock, and after each change of health derives
//! whether it is unhealthy itself (at least `unhealthy_key_ratio` of at least `min_keys` live
//! keys), counting itself in and out of the global fuse's tally as one member. The fuse's
//! verdict reaches every key (and the overflow breaker) through the engine's gate.
//!
//! A key's trip (`Closed -> Open`) first reserves a slot under `max_open_ratio` of the live
//! keys with one compare-and-swap, inside the key's transition lock once the transition is
//! certain; when none is left the transition is refused (the owner's veto), the key stays
//! `Closed`, the capped trip is counted and an [`Event::FamilyCapped`] is emitted once per
//! episode.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;

use crate::config::{CircuitConfig, CodeLayer, FamilyConfig, FamilyFields};
use crate::engine::clock::{nanos, Timeline};
use crate::engine::events::{Owner, Transition};
use crate::engine::gate::Held;
use crate::engine::loom_shim::{lock, read, write, AtomicU32, AtomicU64, Mutex, Ordering, RwLock};
use crate::engine::{CircuitError, CircuitState, ComponentBreaker, Permit, Role};
use crate::names::ComponentName;

use super::events::{Event, Hooks};
use super::fuse::{global_open, Fuse, FuseMember, FUSE_GATE};

/// The longest key a family accepts, in bytes (any valid UTF-8; longer keys are refused with
/// [`KeyError::TooLong`], never truncated, so two long keys cannot share a breaker unseen).
pub const MAX_KEY_LEN: usize = 256;

/// The most eviction candidates one insert into a full family examines.
pub const EVICTION_BUDGET: usize = 64;

/// The overflow breaker's key (`family[__overflow__]`): `__` keys are not reserved for
/// callers, but this one's breaker is never in the map, so a caller's `__overflow__` is a key
/// like any other.
pub const OVERFLOW_KEY: &str = "__overflow__";

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is longer than [`MAX_KEY_LEN`].
    #[error("a family key is at most 256 bytes; this one has {len}")]
    TooLong {
        /// The key's length in bytes.
        len: usize,
    },
}

impl KeyError {
    /// The reason, as [`CircuitError::InvalidKey`] carries it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "a family key is at most 256 bytes",
        }
    }
}

/// A key's breaker, as [`Family::key`] returns it: acquire from it (consuming it, so no
/// further reference count is taken), or read its state. While it is held the key cannot be
/// evicted.
#[derive(Clone)]
pub struct KeyRef {
    breaker: Arc<ComponentBreaker>,
    overflow: bool,
}

impl KeyRef {
    /// Lets a call through (with a guard that keeps the key alive until it is recorded) or
    /// refuses it.
    pub fn acquire(self) -> Permit<'static> {
        self.breaker.into_permit()
    }

    /// Whether this key is served by the family's overflow breaker (the family was full).
    pub fn is_overflow(&self) -> bool {
        self.overflow
    }

    /// The breaker, to keep.
    pub fn breaker(&self) -> &Arc<ComponentBreaker> {
        &self.breaker
    }
}

impl Deref for KeyRef {
    type Target = ComponentBreaker;

    fn deref(&self) -> &ComponentBreaker {
        &self.breaker
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRef")
            .field("component", self.breaker.name())
            .field("overflow", &self.overflow)
            .finish()
    }
}

/// A family's layers from code.
#[derive(Debug, Clone)]
pub(crate) struct FamilyLayer {
    /// Its breaker fields (layer 4).
    pub(crate) code: CodeLayer,
    /// Its family fields' values, and which it sets.
    pub(crate) family: FamilyConfig,
    pub(crate) family_fields: FamilyFields,
    /// A `breakers!` entry declared it.
    pub(crate) declared: bool,
}

/// The breaker configs of a family's keys: the family's, and per-key overrides.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct KeyConfigs {
    pub(crate) family: CircuitConfig,
    pub(crate) keys: std::collections::BTreeMap<String, CircuitConfig>,
}

impl KeyConfigs {
    fn of(&self, key: &str) -> CircuitConfig {
        self.keys.get(key).copied().unwrap_or(self.family)
    }
}

/// One live key.
struct Slot {
    breaker: Arc<ComponentBreaker>,
    /// When it was last used, on the family's timeline, to within `touch_every`.
    last_used: AtomicU64,
}

/// The hash is SipHash's already: the shard's map uses it as is.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else so the type stays total.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The keys' hasher: randomly seeded SipHash, so an attacker cannot choose colliding keys.
#[cfg(not(breaker_loom))]
type KeyHasher = std::collections::hash_map::RandomState;

/// Under loom a fixed seed: a model must take the same shard in every execution.
#[cfg(breaker_loom)]
type KeyHasher = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// A key's hash to the slots with that hash (almost always one).
type Shard = HashMap<u64, Vec<Slot>, BuildHasherDefault<Identity>>;

/// A keyed family: a breaker per key, bounded, evicted when idle, one member of the global
/// fuse. Made by [`GlobalCircuitBreaker::register_family`](crate::GlobalCircuitBreaker::register_family)
/// or a `breakers!` family entry ([`FamilyHandle`](crate::FamilyHandle)); see the module docs
/// of `registry/family.rs` (and README, "Families") for the rules.
pub struct Family {
    name: ComponentName,
    shards: Box<[CachePadded<RwLock<Shard>>]>,
    hasher: KeyHasher,
    /// Live keys (the overflow breaker is not one).
    live: AtomicU32,
    /// Keys `Open` or `HalfOpen`.
    unhealthy: AtomicU32,
    config: ArcSwap<FamilyConfig>,
    keys: ArcSwap<KeyConfigs>,
    /// `idle_ttl / 16` in nanoseconds: how stale `last_used` may get.
    touch_every: AtomicU64,
    overflow: Arc<ComponentBreaker>,
    /// 1 while new keys go to the overflow breaker.
    overflowing: AtomicU32,
    overflow_calls: AtomicU64,
    /// 1 while the ejection cap keeps keys closed (one event per episode).
    capping: AtomicU32,
    capped_trips: AtomicU64,
    evictions: AtomicU64,
    /// The next shard an insert into a full family scans.
    cursor: AtomicU32,
    /// Whether the family counts as unhealthy in the fuse's tally.
    verdict: Mutex<bool>,
    owner: Arc<dyn Owner>,
    timeline: Timeline,
    hooks: Arc<Hooks>,
    fuse: Option<Arc<Fuse>>,
}

impl fmt::Debug for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.name)
            .field("live", &self.live())
            .field("unhealthy", &self.unhealthy_keys())
            .finish_non_exhaustive()
    }
}

/// What inserting a key found.
enum Inserted {
    Found(Arc<ComponentBreaker>),
    Made(Arc<ComponentBreaker>),
    Full,
}

impl Family {
    /// A family with validated configs. `fuse`: the registry's (`None` for a model of the
    /// family alone, in the loom tests); the caller adds it to the fuse.
    pub(crate) fn build(
        name: ComponentName,
        config: FamilyConfig,
        keys: KeyConfigs,
        timeline: Timeline,
        hooks: Arc<Hooks>,
        fuse: Option<Arc<Fuse>>,
    ) -> Arc<Self> {
        // About 64 keys per shard at `max_keys`, so a full shard's scan stays within budget;
        // a power of two, at least 4 (contention) and at most 256.
        let shards = (config.max_keys as usize / 64)
            .clamp(4, 256)
            .next_power_of_two();
        let family_config = keys.family;
        Arc::new_cyclic(|family: &Weak<Family>| {
            let overflow_owner: Arc<dyn Owner> = Arc::new(KeyOwner {
                family: Weak::clone(family),
                counted: false,
            });
            Self {
                overflow: Arc::new(ComponentBreaker::build(
                    ComponentName::keyed(name.clone(), OVERFLOW_KEY),
                    family_config,
                    timeline.clone(),
                    overflow_owner,
                    Role::Component,
                )),
                name,
                shards: (0..shards)
                    .map(|_| CachePadded::new(RwLock::new(Shard::default())))
                    .collect(),
                hasher: KeyHasher::default(),
                live: AtomicU32::new(0),
                unhealthy: AtomicU32::new(0),
                touch_every: AtomicU64::new(nanos(config.idle_ttl) / 16),
                config: ArcSwap::from_pointee(config),
                keys: ArcSwap::from_pointee(keys),
                overflowing: AtomicU32::new(0),
                overflow_calls: AtomicU64::new(0),
                capping: AtomicU32::new(0),
                capped_trips: AtomicU64::new(0),
                evictions: AtomicU64::new(0),
                cursor: AtomicU32::new(0),
                verdict: Mutex::new(false),
                owner: Arc::new(KeyOwner {
                    family: Weak::clone(family),
                    counted: true,
                }),
                timeline,
                hooks,
                fuse,
            }
        })
    }

    /// The family's name.
    pub fn name(&self) -> &ComponentName {
        &self.name
    }

    /// The family's own settings in force.
    pub fn config(&self) -> FamilyConfig {
        **self.config.load()
    }

    /// The breaker config a new key without an override of its own gets.
    pub fn key_config(&self) -> CircuitConfig {
        self.keys.load().family
    }

    /// Live keys (the overflow breaker is not one).
    pub fn live(&self) -> u32 {
        self.live.load(Ordering::Acquire)
    }

    /// Keys `Open` or `HalfOpen` now.
    pub fn unhealthy_keys(&self) -> u32 {
        self.unhealthy.load(Ordering::Acquire)
    }

    /// Whether the family counts as unhealthy in the global fuse now.
    pub fn is_unhealthy(&self) -> bool {
        *lock(&self.verdict)
    }

    /// Keys evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Calls sent to the overflow breaker so far.
    pub fn overflow_calls(&self) -> u64 {
        self.overflow_calls.load(Ordering::Relaxed)
    }

    /// Whether new keys go to the overflow breaker now.
    pub fn is_overflowing(&self) -> bool {
        self.overflowing.load(Ordering::Acquire) == 1
    }

    /// Trips the ejection cap kept closed so far.
    pub fn capped_trips(&self) -> u64 {
        self.capped_trips.load(Ordering::Relaxed)
    }

    /// The overflow breaker new keys share while the family is full.
    pub fn overflow(&self) -> &Arc<ComponentBreaker> {
        &self.overflow
    }

    /// The breaker of `key` if it is live (no breaker is made, `last_used` is not touched).
    pub fn get(&self, key: &str) -> Option<Arc<ComponentBreaker>> {
        let hash = self.hasher.hash_one(key);
        let map = read(self.shard(hash));
        find(&map, hash, key).map(|slot| Arc::clone(&slot.breaker))
    }

    /// Every live key's breaker (sorted by key).
    pub fn keys(&self) -> Vec<Arc<ComponentBreaker>> {
        let mut out = Vec::with_capacity(self.live() as usize);
        for shard in self.shards.iter() {
            let map = read(shard);
            out.extend(map.values().flatten().map(|s| Arc::clone(&s.breaker)));
        }
        out.sort_unstable_by(|a, b| a.name().key().cmp(&b.name().key()));
        out
    }

    /// The breaker for `key`, made on first use (on the family's config, or the key's own
    /// override), or the family's overflow breaker when it is full and no idle key could be
    /// evicted. A key longer than [`MAX_KEY_LEN`] bytes is refused; any other string
    /// (empty, control characters, any UTF-8) is a key.
    pub fn key(&self, key: &str) -> Result<KeyRef, KeyError> {
        if key.len() > MAX_KEY_LEN {
            return Err(KeyError::TooLong { len: key.len() });
        }
        let hash = self.hasher.hash_one(key);
        {
            let map = read(self.shard(hash));
            if let Some(slot) = find(&map, hash, key) {
                self.touch(slot);
                return Ok(KeyRef {
                    breaker: Arc::clone(&slot.breaker),
                    overflow: false,
                });
            }
        }
        Ok(self.insert(key, hash))
    }

    /// [`key`](Self::key), then acquire: a refused key is
    /// [`CircuitError::InvalidKey`], naming the family.
    pub fn acquire(&self, key: &str) -> Permit<'static> {
        match self.key(key) {
            Ok(key) => key.acquire(),
            Err(e) => Permit::Rejected(CircuitError::InvalidKey {
                component: self.name.clone(),
                reason: e.reason(),
            }),
        }
    }

    /// Evicts every key that may be evicted now (see the module docs), returning how many.
    /// Nothing runs this behind the caller's back: call it from a timer of your own if keys
    /// should go without new keys arriving.
    pub fn evict_idle(&self) -> usize {
        let now = self.timeline.now_nanos();
        let evicted = (0..self.shards.len())
            .map(|i| self.evict_in(i, now, usize::MAX).0)
            .sum();
        if evicted > 0 {
            self.derive(now);
        }
        evicted
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        // The shard count is a power of two.
        &self.shards[(hash as usize) & (self.shards.len() - 1)]
    }

    /// Refreshes `last_used` if it is staler than `touch_every`: a load and a compare per call,
    /// a store only rarely.
    #[inline]
    fn touch(&self, slot: &Slot) {
        let now = self.timeline.now_nanos();
        let last = slot.last_used.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= self.touch_every.load(Ordering::Relaxed) {
            slot.last_used.store(now, Ordering::Relaxed);
        }
    }

    /// A new key: evict first if full, then insert (or find a racing insert's), or hand out
    /// the overflow breaker.
    #[cold]
    fn insert(&self, key: &str, hash: u64) -> KeyRef {
        let now = self.timeline.now_nanos();
        let max = self.config.load().max_keys;
        if self.live() >= max {
            // Shard after shard (where the last insert left off) until one key is evicted or
            // the budget of candidates is spent.
            let shards = self.shards.len();
            let mut budget = EVICTION_BUDGET;
            for _ in 0..shards {
                let i = self.cursor.fetch_add(1, Ordering::Relaxed) as usize % shards;
                let (evicted, examined) = self.evict_in(i, now, budget);
                budget = budget.saturating_sub(examined);
                if evicted > 0 || budget == 0 {
                    break;
                }
            }
        }
        if self.live() >= max {
            // Still full: no breaker is made for a key that could not be kept (an attacker's
            // stream of new keys then costs no allocation per call).
            return self.overflowed();
        }
        // Made outside the locks: allocation is the slow part, and a racing insert of the
        // same key just drops ours.
        let made = Arc::new(ComponentBreaker::build(
            ComponentName::keyed(self.name.clone(), key),
            self.keys.load().of(key),
            self.timeline.clone(),
            Arc::clone(&self.owner),
            Role::Component,
        ));
        let inserted = self.with_fuse_gate(|holding| {
            let mut map = write(self.shard(hash));
            if let Some(slot) = find(&map, hash, key) {
                self.touch(slot);
                return Inserted::Found(Arc::clone(&slot.breaker));
            }
            // Reserved under the shard's lock, so concurrent inserts into other shards
            // cannot take the family past `max_keys` either.
            if self
                .live
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_err()
            {
                return Inserted::Full;
            }
            if holding {
                made.gate().hold(FUSE_GATE);
            }
            map.entry(hash).or_default().push(Slot {
                breaker: Arc::clone(&made),
                last_used: AtomicU64::new(now),
            });
            Inserted::Made(made)
        });
        match inserted {
            Inserted::Found(breaker) => KeyRef {
                breaker,
                overflow: false,
            },
            Inserted::Made(breaker) => {
                if self.overflowing.swap(0, Ordering::AcqRel) == 1 {
                    self.hooks.emit(&Event::FamilyOverflow {
                        family: self.name.clone(),
                        active: false,
                        calls: self.overflow_calls(),
                    });
                }
                // One more healthy key lowers the unhealthy share.
                self.derive(now);
                KeyRef {
                    breaker,
                    overflow: false,
                }
            }
            Inserted::Full => self.overflowed(),
        }
    }

    /// A new key of a full family: the overflow breaker, and the episode's event when it
    /// starts.
    fn overflowed(&self) -> KeyRef {
        let calls = self.overflow_calls.fetch_add(1, Ordering::Relaxed) + 1;
        if self.overflowing.swap(1, Ordering::AcqRel) == 0 {
            self.hooks.emit(&Event::FamilyOverflow {
                family: self.name.clone(),
                active: true,
                calls,
            });
        }
        KeyRef {
            breaker: Arc::clone(&self.overflow),
            overflow: true,
        }
    }

    /// Evicts what may be evicted in shard `i`, examining at most `budget` keys; returns how
    /// many it evicted and examined.
    fn evict_in(&self, i: usize, now: u64, budget: usize) -> (usize, usize) {
        let Some(shard) = self.shards.get(i) else {
            return (0, 0);
        };
        let config = self.config.load();
        let idle = nanos(config.idle_ttl).saturating_add(self.touch_every.load(Ordering::Relaxed));
        let mut examined = 0usize;
        let mut evicted = 0usize;
        {
            let mut map = write(shard);
            map.retain(|_, slots| {
                slots.retain(|slot| {
                    if examined >= budget {
                        return true;
                    }
                    examined += 1;
                    let gone = evictable(slot, now, idle);
                    evicted += usize::from(gone);
                    !gone
                });
                !slots.is_empty()
            });
        }
        if evicted > 0 {
            let n = u32::try_from(evicted).unwrap_or(u32::MAX);
            self.live.fetch_sub(n, Ordering::AcqRel);
            self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        }
        (evicted, examined)
    }

    fn with_fuse_gate<R>(&self, add: impl FnOnce(bool) -> R) -> R {
        match &self.fuse {
            Some(fuse) => fuse.with_gate(add),
            None => add(false),
        }
    }

    /// Re-derives whether the family is unhealthy and, when that changed, counts it in or out
    /// of the fuse's tally and lets the fuse re-derive.
    fn derive(&self, now: u64) {
        if self.settle() {
            if let Some(fuse) = &self.fuse {
                fuse.derive(now);
            }
        }
    }

    /// The family's verdict from the current counts, counted into the fuse's tally when it
    /// changed; says whether it did (the fuse must then re-derive, outside every lock).
    fn settle(&self) -> bool {
        let config = self.config.load();
        {
            let mut verdict = lock(&self.verdict);
            let live = self.live();
            let unhealthy = self.unhealthy_keys();
            let is = live > 0
                && live >= config.min_keys
                && ((f64::from(unhealthy) / f64::from(live)) as f32) >= config.unhealthy_key_ratio;
            let was = *verdict;
            *verdict = is;
            if was != is {
                if let Some(fuse) = &self.fuse {
                    fuse.count_unhealthy(was, is);
                }
            }
            was != is
        }
    }

    /// The most keys that may be unhealthy at once under `max_open_ratio` (at least one).
    fn cap(&self) -> u32 {
        let config = self.config.load();
        if config.max_open_ratio >= 1.0 {
            return u32::MAX;
        }
        let allowed = (f64::from(self.live()) * f64::from(config.max_open_ratio)).floor() as u32;
        allowed.max(1)
    }

    /// New configs: the family's settings, its keys' breaker configs (applied to every live
    /// key, state and counts kept, and to the overflow breaker). Validated by the caller.
    pub(crate) fn apply(&self, config: FamilyConfig, keys: KeyConfigs) {
        self.touch_every
            .store(nanos(config.idle_ttl) / 16, Ordering::Relaxed);
        self.config.store(Arc::new(config));
        if self.overflow.config() != keys.family {
            self.overflow.apply(keys.family);
        }
        for breaker in self.keys() {
            let wanted = name_key(&breaker).map_or(keys.family, |k| keys.of(k));
            if breaker.config() != wanted {
                breaker.apply(wanted);
            }
        }
        self.keys.store(Arc::new(keys));
        // A new ratio or minimum may change the verdict; the caller lets the fuse re-derive
        // once its locks are released.
        self.settle();
    }
}

fn name_key(breaker: &ComponentBreaker) -> Option<&str> {
    breaker.name().key()
}

fn find<'m>(map: &'m Shard, hash: u64, key: &str) -> Option<&'m Slot> {
    map.get(&hash)?
        .iter()
        .find(|slot| slot.breaker.name().key() == Some(key))
}

/// The four conditions, cheapest first; under the shard's write lock.
fn evictable(slot: &Slot, now: u64, idle: u64) -> bool {
    Arc::strong_count(&slot.breaker) == 1
        && slot.breaker.state() == CircuitState::Closed
        && now.saturating_sub(slot.last_used.load(Ordering::Relaxed)) >= idle
        && slot.breaker.window_failures(now) == 0
}

impl FuseMember for Family {
    fn set_fuse_gate(&self, holding: bool) {
        let set = |breaker: &ComponentBreaker| {
            if holding {
                breaker.gate().hold(FUSE_GATE);
            } else {
                breaker.gate().release(FUSE_GATE);
            }
        };
        set(&self.overflow);
        for shard in self.shards.iter() {
            for slot in read(shard).values().flatten() {
                set(&slot.breaker);
            }
        }
    }

    fn window_calls(&self, now: u64) -> u64 {
        self.keys()
            .iter()
            .map(|b| b.window_calls(now))
            .fold(self.overflow.window_calls(now), u64::saturating_add)
    }
}

/// The owner of a family's breakers: counts the unhealthy keys (and enforces the ejection
/// cap) under each key's transition lock, runs the hooks, rolls the family up into the fuse.
struct KeyOwner {
    family: Weak<Family>,
    /// `false` for the overflow breaker: it is no key, so it neither counts nor is capped.
    counted: bool,
}

impl Owner for KeyOwner {
    fn permit(&self, from: CircuitState, to: CircuitState) -> bool {
        if !self.counted {
            return true;
        }
        let Some(family) = self.family.upgrade() else {
            return true;
        };
        match (from.is_unhealthy(), to.is_unhealthy()) {
            (false, true) => {
                let cap = family.cap();
                family
                    .unhealthy
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < cap).then_some(n + 1)
                    })
                    .is_ok()
            }
            (true, false) => {
                family.unhealthy.fetch_sub(1, Ordering::AcqRel);
                true
            }
            _ => true,
        }
    }

    fn vetoed(&self, component: &ComponentName, _from: CircuitState, _to: CircuitState, _now: u64) {
        let Some(family) = self.family.upgrade() else {
            return;
        };
        family.capped_trips.fetch_add(1, Ordering::Relaxed);
        if family.capping.swap(1, Ordering::AcqRel) == 0 {
            family.hooks.emit(&Event::FamilyCapped {
                component: component.clone(),
                unhealthy: family.unhealthy_keys(),
                live: family.live(),
            });
        }
    }

    fn transitioned(&self, transition: Transition, now: u64) {
        let health_changed = transition.from.is_unhealthy() != transition.to.is_unhealthy();
        let healed = transition.from.is_unhealthy() && !transition.to.is_unhealthy();
        let Some(family) = self.family.upgrade() else {
            crate::engine::events::trace(&transition);
            return;
        };
        family.hooks.emit(&Event::StateChanged(transition));
        if self.counted && health_changed {
            if healed && family.unhealthy_keys() < family.cap() {
                family.capping.store(0, Ordering::Release);
            }
            family.derive(now);
        }
    }

    /// Only the fuse holds a gate over a family's breakers.
    fn refusal(
        &self,
        _held: Held,
        component: &ComponentName,
        config: &CircuitConfig,
    ) -> CircuitError {
        global_open(component, config)
    }
}
