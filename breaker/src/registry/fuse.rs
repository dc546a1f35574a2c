//! The derived global fuse: a [`ComponentBreaker`] under the key `"__global__"` whose state is
//! computed from the components, never set by calls.
//!
//! Components count themselves in and out of `unhealthy` (Open or HalfOpen) inside their own
//! transition lock; after each such change the fuse re-derives under its own lock from the
//! latest counts, so the last derivation always sees the final tally. Acquire reads only the
//! fuse's state word.

use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;

use crate::engine::events::TransitionReason;
use crate::engine::loom_shim::{lock, AtomicU32, Mutex, Ordering};
use crate::engine::ComponentBreaker;
use crate::registry::events::Event;
use crate::{CircuitState, GlobalTripConditions};

pub(crate) struct Fuse {
    pub(crate) breaker: ComponentBreaker,
    unhealthy: AtomicU32,
    members: Mutex<Vec<Weak<ComponentBreaker>>>,
    pub(crate) conditions: ArcSwap<GlobalTripConditions>,
    derive_lock: Mutex<()>,
    /// Component windows read to count calls (a test hook: see `derive`). A std atomic even
    /// under loom: it synchronises nothing, so the models need not explore it.
    window_reads: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Fuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fuse")
            .field("state", &self.breaker.state())
            .field("unhealthy", &self.unhealthy.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Fuse {
    pub(crate) fn new(breaker: ComponentBreaker, conditions: GlobalTripConditions) -> Self {
        Self {
            breaker,
            unhealthy: AtomicU32::new(0),
            members: Mutex::new(Vec::new()),
            conditions: ArcSwap::from_pointee(conditions),
            derive_lock: Mutex::new(()),
            window_reads: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether the fuse refuses calls to closed components.
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        matches!(
            self.breaker.word().state(),
            CircuitState::Open | CircuitState::ForcedOpen
        )
    }

    pub(crate) fn unhealthy(&self) -> u32 {
        self.unhealthy.load(Ordering::Acquire)
    }

    /// Adds a component before it is visible to callers, so the tally never counts an
    /// unhealthy component the member count does not know yet.
    pub(crate) fn add_member(&self, member: &Arc<ComponentBreaker>) {
        lock(&self.members).push(Arc::downgrade(member));
    }

    /// Called inside a component's transition lock.
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
            let components = u32::try_from(lock(&self.members).len()).unwrap_or(u32::MAX);
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
                        .transition_quiet(word, CircuitState::Open, reason, now)
                }
                CircuitState::Open if !ratio_met => {
                    self.breaker
                        .transition_quiet(word, CircuitState::Closed, reason, now)
                }
                _ => None,
            }
        };
        if let Some(t) = transition {
            self.breaker.hooks.emit(&Event::StateChanged(t));
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
        for member in members.iter().filter_map(Weak::upgrade) {
            self.window_reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            calls = calls.saturating_add(
                member
                    .window_stats(&member.config.load(), now, member.word().generation())
                    .calls,
            );
            if calls >= needed {
                return true;
            }
        }
        false
    }
}
