//! The registry's side of the fleet quorum (the `fleet` layer above decides; this holds): the
//! fleet's gate bit on the members' gate words, the verdict detail a refusal reports, and the
//! fleet's status counters, which the observe layer reads without knowing the fleet.
//!
//! The fleet holds a component's gate ([`FLEET_GATE`]) while a quorum of live replicas reports
//! it open. The detail goes in *before* the bit is set and comes out *after* it is cleared, so
//! a refusal always finds it; a refusal that races a release and finds none reports zeros,
//! which is still a correct refusal (the bit was held when the call loaded the gate word).
//! Everything here is cold: the hot path loads the gate word it loads anyway, and only a
//! refused call reads the detail (one lock, one map lookup).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::config::CircuitConfig;
use crate::engine::gate::GateKey;
use crate::engine::{CircuitError, ComponentBreaker};
use crate::names::ComponentName;

/// The fleet's bit of its members' gate words (bit 0 is the fuse's; keyed families take 1).
pub(crate) const FLEET_GATE: GateKey = GateKey::new(2);

/// What a fleet refusal reports: the quorum's counts and the retry hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FleetVerdict {
    pub(crate) open_replicas: u32,
    pub(crate) live_replicas: u32,
    pub(crate) retry_after: Duration,
}

/// The fleet's verdicts held over this registry's components, and its status.
#[derive(Debug, Default)]
pub(crate) struct FleetGates {
    verdicts: Mutex<FxHashMap<ComponentName, FleetVerdict>>,
    /// Calls refused with `FleetOpen`, over the registry's lifetime.
    refused: AtomicU64,
    /// A fleet is attached to this registry (its metrics are exported from then on).
    attached: AtomicBool,
    /// The fleet reaches Redis now (`false`: local mode).
    connected: AtomicBool,
    /// Times the fleet lost Redis (or never reached it at start).
    disconnects: AtomicU64,
    /// Records read from Redis and ignored: malformed, oversized or of a future version.
    ignored_records: AtomicU64,
}

// Without the `fleet` feature nothing holds the gate: the refusal and status readers stay
// (the fuse and the snapshots call them), the writers go unused.
#[cfg_attr(not(feature = "fleet"), allow(dead_code))]
impl FleetGates {
    /// Holds the fleet's gate over `breaker` with `verdict` (replacing the detail if held).
    pub(crate) fn hold(&self, breaker: &ComponentBreaker, verdict: FleetVerdict) {
        self.verdicts.lock().insert(breaker.name().clone(), verdict);
        breaker.gate().hold(FLEET_GATE);
    }

    /// Releases the fleet's gate over `breaker`.
    pub(crate) fn release(&self, breaker: &ComponentBreaker) {
        breaker.gate().release(FLEET_GATE);
        self.verdicts.lock().remove(breaker.name().as_str());
    }

    /// The verdict held over `component`, if any.
    pub(crate) fn verdict(&self, component: &str) -> Option<FleetVerdict> {
        self.verdicts.lock().get(component).copied()
    }

    /// The refusal of a call to `component` while the fleet's gate is held (cold).
    pub(crate) fn refusal(
        &self,
        component: &ComponentName,
        config: &CircuitConfig,
    ) -> CircuitError {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let verdict = self.verdict(component).unwrap_or(FleetVerdict {
            open_replicas: 0,
            live_replicas: 0,
            retry_after: config.open_cooldown,
        });
        CircuitError::FleetOpen {
            component: component.clone(),
            open_replicas: verdict.open_replicas,
            live_replicas: verdict.live_replicas,
            retry_after: verdict.retry_after,
        }
    }

    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub(crate) fn attach(&self) {
        self.attached.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_attached(&self) -> bool {
        self.attached.load(Ordering::Relaxed)
    }

    /// Records whether the fleet reaches Redis.
    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// Counts a loss of Redis (or a start that could not reach it).
    pub(crate) fn count_disconnect(&self) {
        self.disconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn disconnects(&self) -> u64 {
        self.disconnects.load(Ordering::Relaxed)
    }

    pub(crate) fn ignore_record(&self) {
        self.ignored_records.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn ignored_records(&self) -> u64 {
        self.ignored_records.load(Ordering::Relaxed)
    }
}
