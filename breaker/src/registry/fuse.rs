//! The derived global fuse: a [`ComponentBreaker`] under the key `"__global__"` whose state is
//! computed from the components, never set by calls, and the first owner of a gate.
//!
//! Components count themselves in and out of `unhealthy` (Open or HalfOpen) inside their own
//! transition lock (the fuse is their [`Owner`]); after each such change the fuse re-derives
//! under its own lock from the latest counts, so the last derivation always sees the final
//! tally.
//!
//! While the fuse refuses (`Open`, or an operator's `ForcedOpen`), it holds its gate
//! ([`FUSE_GATE`]) over every member, so a `Closed` component refuses with
//! [`CircuitError::GlobalOpen`] at the cost of the one gate load admission makes anyway. The
//! gates are held under the fuse's transition lock *before* its refusing state is published,
//! and released after its next state is, so no call is admitted while the fuse shows it
//! refuses; a member registered meanwhile takes the gate under the members' lock, where the
//! fuse's sweep changes it, so none is missed. A fuse transition costs O(members); they are
//! rare.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;

use crate::config::{CircuitConfig, GlobalTripConditions};
use crate::engine::clock::Timeline;
use crate::engine::events::{self, Owner, Transition, TransitionReason};
use crate::engine::gate::{GateKey, Held};
use crate::engine::loom_shim::{lock, AtomicU32, Mutex, Ordering};
use crate::engine::{CircuitError, CircuitState, ComponentBreaker, Role};
use crate::names::{ComponentName, GLOBAL_NAME};

use super::events::{Event, Hooks};
use super::fleet_gate::{FleetGates, FLEET_GATE};

/// The fuse's bit of its members' gate words. (Keyed families and the fleet quorum will take
/// the next bits.)
pub(crate) const FUSE_GATE: GateKey = GateKey::new(0);

pub(crate) struct Fuse {
    breaker: ComponentBreaker,
    unhealthy: AtomicU32,
    members: Mutex<Members>,
    conditions: ArcSwap<GlobalTripConditions>,
    derive_lock: Mutex<()>,
    hooks: Arc<Hooks>,
    /// The fleet's verdicts over the members (the fuse answers for every gate of its
    /// members, being their owner).
    fleet: FleetGates,
    /// Component windows read to count calls (a test hook: see `derive`). A std atomic even
    /// under loom: it synchronises nothing, so the models need not explore it.
    window_reads: std::sync::atomic::AtomicU64,
}

/// A member of the fuse that is not one breaker: a keyed family, one member however many keys
/// it has. It counts itself in and out of the fuse's tally ([`Fuse::count_unhealthy`]) and
/// holds the fuse's gate over each of its breakers when told to.
pub(crate) trait FuseMember: Send + Sync {
    /// Holds (`true`) or releases the fuse's gate over every breaker of the member. Called
    /// under the fuse's members lock, which the member takes before adding a breaker.
    fn set_fuse_gate(&self, holding: bool);

    /// Calls in its breakers' current windows at `now`, for the fuse's `min_calls`.
    fn window_calls(&self, now: u64) -> u64;
}

/// The components the fuse derives from, and whether it holds their gates.
struct Members {
    list: Vec<Weak<ComponentBreaker>>,
    /// Keyed families: each one member.
    groups: Vec<Weak<dyn FuseMember>>,
    /// Every member's gate is held: the fuse refuses calls to `Closed` components. Changed
    /// only under this lock, which adding a member takes too.
    holding: bool,
}

impl std::fmt::Debug for Fuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fuse")
            .field("state", &self.breaker.state())
            .field("unhealthy", &self.unhealthy.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Whether the fuse in `state` refuses calls to closed components.
const fn refuses(state: CircuitState) -> bool {
    matches!(state, CircuitState::Open | CircuitState::ForcedOpen)
}

impl Fuse {
    /// The fuse of a registry whose defaults are `config`, emitting to `hooks`.
    pub(crate) fn new(config: CircuitConfig, timeline: Timeline, hooks: Arc<Hooks>) -> Arc<Self> {
        Arc::new_cyclic(|fuse| Self {
            breaker: ComponentBreaker::build(
                GLOBAL_NAME,
                config,
                timeline,
                Arc::new(Derivation(Weak::clone(fuse))),
                Role::Derived,
            ),
            unhealthy: AtomicU32::new(0),
            members: Mutex::new(Members {
                list: Vec::new(),
                groups: Vec::new(),
                holding: false,
            }),
            conditions: ArcSwap::from_pointee(config.global_trip_conditions),
            derive_lock: Mutex::new(()),
            hooks,
            fleet: FleetGates::default(),
            window_reads: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The fuse's own breaker (`"__global__"`).
    pub(crate) fn breaker(&self) -> &ComponentBreaker {
        &self.breaker
    }

    /// New registry defaults: the fuse's breaker's config and its trip conditions.
    pub(crate) fn apply(&self, defaults: CircuitConfig) {
        self.breaker.apply(defaults);
        self.conditions
            .store(Arc::new(defaults.global_trip_conditions));
    }

    /// The fleet's gates over the members and its status.
    pub(crate) fn fleet(&self) -> &FleetGates {
        &self.fleet
    }

    pub(crate) fn unhealthy(&self) -> u32 {
        self.unhealthy.load(Ordering::Acquire)
    }

    /// Adds a component before it is visible to callers, so the tally never counts an
    /// unhealthy component the member count does not know yet, and holds its gate if the
    /// fuse refuses now.
    pub(crate) fn add_member(&self, member: &Arc<ComponentBreaker>) {
        let mut members = lock(&self.members);
        members.list.push(Arc::downgrade(member));
        if members.holding {
            member.gate().hold(FUSE_GATE);
        }
    }

    /// Adds a keyed family as one member (it holds its own breakers' gates).
    pub(crate) fn add_group(&self, group: Weak<dyn FuseMember>) {
        let mut members = lock(&self.members);
        if members.holding {
            if let Some(group) = group.upgrade() {
                group.set_fuse_gate(true);
            }
        }
        members.groups.push(group);
    }

    /// Runs `add` under the members lock with whether the fuse refuses now, so a breaker a
    /// family adds has the fuse's gate held (if it must) before anyone can see it, and no
    /// sweep of the gates misses it.
    pub(crate) fn with_gate<R>(&self, add: impl FnOnce(bool) -> R) -> R {
        let members = lock(&self.members);
        add(members.holding)
    }

    /// Holds (`true`) or releases every member's gate.
    fn set_gates(&self, holding: bool) {
        let mut members = lock(&self.members);
        members.holding = holding;
        for member in members.list.iter().filter_map(Weak::upgrade) {
            if holding {
                member.gate().hold(FUSE_GATE);
            } else {
                member.gate().release(FUSE_GATE);
            }
        }
        for group in members.groups.iter().filter_map(Weak::upgrade) {
            group.set_fuse_gate(holding);
        }
    }

    /// Called inside a component's transition lock, or a family's derivation lock.
    pub(crate) fn count_unhealthy(&self, was: bool, is: bool) {
        match (was, is) {
            (false, true) => {
                self.unhealthy.fetch_add(1, Ordering::AcqRel);
            }
            (true, false) => {
                self.unhealthy.fetch_sub(1, Ordering::AcqRel);
            }
            _ => {}
        }
    }

    pub(crate) fn window_reads(&self) -> u64 {
        self.window_reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Recomputes the fuse's state from the components. Manual states (forced open, disabled)
    /// are left alone. `min_calls` gates opening only (like a component's `min_calls`): an open
    /// fuse closes as soon as the ratio no longer holds.
    ///
    /// O(1) unless the fuse is about to open under a call minimum: only then are the windows
    /// summed, and only until the minimum is reached. Registering a healthy component (which
    /// lowers the ratio) therefore never reads a window, however many there are.
    pub(crate) fn derive(&self, now: u64) {
        let transition = {
            let _guard = lock(&self.derive_lock);
            let conditions = **self.conditions.load();
            let components = {
                let members = lock(&self.members);
                u32::try_from(members.list.len() + members.groups.len()).unwrap_or(u32::MAX)
            };
            let unhealthy = self.unhealthy();
            let ratio_met = components >= conditions.min_components
                && components > 0
                && ((f64::from(unhealthy) / f64::from(components)) as f32)
                    >= conditions.component_open_ratio;
            let word = self.breaker.word();
            let reason = TransitionReason::GlobalRatio {
                unhealthy,
                components,
            };
            match word.state() {
                CircuitState::Closed
                    if ratio_met && self.calls_reach(conditions.min_calls, now) =>
                {
                    self.breaker
                        .derive_to(word, CircuitState::Open, reason, now)
                }
                CircuitState::Open if !ratio_met => {
                    self.breaker
                        .derive_to(word, CircuitState::Closed, reason, now)
                }
                _ => None,
            }
        };
        if let Some(t) = transition {
            self.hooks.emit(&Event::StateChanged(t));
        }
    }

    /// Whether the components' current windows hold at least `min_calls` calls in total,
    /// reading windows only until they do.
    fn calls_reach(&self, min_calls: u32, now: u64) -> bool {
        let needed = u64::from(min_calls);
        if needed == 0 {
            return true;
        }
        let members = lock(&self.members);
        let mut calls = 0u64;
        for member in members.list.iter().filter_map(Weak::upgrade) {
            self.window_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            calls = calls.saturating_add(member.window_calls(now));
            if calls >= needed {
                return true;
            }
        }
        for group in members.groups.iter().filter_map(Weak::upgrade) {
            self.window_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            calls = calls.saturating_add(group.window_calls(now));
            if calls >= needed {
                return true;
            }
        }
        false
    }
}

/// The fuse's refusal of a call to `component` (a member, or the fuse's own breaker).
pub(crate) fn global_open(component: &ComponentName, config: &CircuitConfig) -> CircuitError {
    CircuitError::GlobalOpen {
        component: component.clone(),
        // A hint only: the fuse closes as soon as enough components recover.
        retry_after: config.open_cooldown,
    }
}

/// The fuse is the owner of every component of its registry: it keeps their tally, runs the
/// registry's hooks for their transitions, re-derives itself after them, and explains the
/// gate it holds over them.
impl Owner for Fuse {
    fn publishing(&self, from: CircuitState, to: CircuitState) {
        // Under the component's lock, so the tally never sees a close before its open.
        self.count_unhealthy(from.is_unhealthy(), to.is_unhealthy());
    }

    fn transitioned(&self, transition: Transition, now: u64) {
        let health_changed = transition.from.is_unhealthy() != transition.to.is_unhealthy();
        // The component's own event first, so logs read cause before effect.
        self.hooks.emit(&Event::StateChanged(transition));
        if health_changed {
            self.derive(now);
        }
    }

    /// The fuse's verdict first (it covers every component), then the fleet's.
    fn refusal(
        &self,
        held: Held,
        component: &ComponentName,
        config: &CircuitConfig,
    ) -> CircuitError {
        if held.contains(FLEET_GATE) && !held.contains(FUSE_GATE) {
            self.fleet.refusal(component, config)
        } else {
            global_open(component, config)
        }
    }
}

/// The owner of the fuse's own breaker: holds the members' gates while the fuse refuses.
struct Derivation(Weak<Fuse>);

impl Owner for Derivation {
    fn publishing(&self, from: CircuitState, to: CircuitState) {
        if refuses(to) && !refuses(from) {
            if let Some(fuse) = self.0.upgrade() {
                fuse.set_gates(true);
            }
        }
    }

    fn published(&self, from: CircuitState, to: CircuitState) {
        if refuses(from) && !refuses(to) {
            if let Some(fuse) = self.0.upgrade() {
                fuse.set_gates(false);
            }
        }
    }

    /// An operator's `force_open`, `disable` or `reset` of `registry.global()` (derived
    /// transitions are emitted by [`Fuse::derive`], after its own lock).
    fn transitioned(&self, transition: Transition, _now: u64) {
        match self.0.upgrade() {
            Some(fuse) => fuse.hooks.emit(&Event::StateChanged(transition)),
            None => events::trace(&transition),
        }
    }

    /// A call to the fuse's own breaker while it is open.
    fn refusal(
        &self,
        _held: Held,
        component: &ComponentName,
        config: &CircuitConfig,
    ) -> CircuitError {
        global_open(component, config)
    }
}
