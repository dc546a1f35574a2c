//! Point-in-time views of breakers, read from the same atomics the engine keeps (so taking one
//! adds nothing to the call path). Serializable for HTTP and logs.

use std::time::Duration;

use serde::Serialize;

use crate::engine::{CircuitState, ComponentBreaker, Reading, RejectReason, WindowStats};
use crate::names::ComponentName;
use crate::registry::{Family, FamilyHandle, GlobalCircuitBreaker};

/// Rejections by reason, over the breaker's lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Rejections {
    /// Refused while `Open`.
    pub open: u64,
    /// Refused while `HalfOpen` with every probe slot taken.
    pub half_open_exhausted: u64,
    /// Refused because the global fuse was open.
    pub global_open: u64,
    /// Refused while forced open.
    pub forced_open: u64,
}

impl Rejections {
    /// All rejections.
    pub fn total(&self) -> u64 {
        self.open + self.half_open_exhausted + self.global_open + self.forced_open
    }
}

/// How many times a breaker went from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TransitionCount {
    /// The state left.
    pub from: CircuitState,
    /// The state entered.
    pub to: CircuitState,
    /// How often.
    pub count: u64,
}

/// One breaker at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ComponentSnapshot {
    /// The component (`"__global__"` for the fuse).
    pub component: ComponentName,
    /// Its state, as the engine last recorded it (the state only advances on a call).
    pub state: CircuitState,
    /// The state the next call would see: `state` advanced by time alone, without a call.
    /// `Open` past its cooldown reads `HalfOpen`; `HalfOpen` past `half_open_max_wait` reads
    /// `Open`; otherwise it is `state`. The metrics' `breaker_state` reports this one.
    pub next_call_state: CircuitState,
    /// Transitions so far.
    pub generation: u64,
    /// How long it has been in `state`.
    #[serde(with = "humantime_serde")]
    pub time_in_state: Duration,
    /// For `Open`: how long until probes are let through.
    #[serde(with = "humantime_serde")]
    pub retry_after: Option<Duration>,
    /// Calls that finished: `successes + failures + ignored`.
    pub calls: u64,
    /// Successful calls.
    pub successes: u64,
    /// Failed calls (panics included).
    pub failures: u64,
    /// Slow calls (a subset of successes and failures).
    pub slow_calls: u64,
    /// Ignored and cancelled calls.
    pub ignored: u64,
    /// Refused calls, by reason (not part of `calls`).
    pub rejections: Rejections,
    /// The rolling window as the trip check sees it now.
    pub window: WindowStats,
    /// The window's failure rate when it last tripped from `Closed` to `Open`, in `[0, 1]`
    /// (0 before any trip). Kept through the outage and after, while `window` restarts at
    /// the trip.
    pub trip_failure_rate: f32,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Probes in flight (in `HalfOpen`).
    pub half_open_in_flight: u32,
    /// Every transition that happened at least once.
    pub transitions: Vec<TransitionCount>,
    /// Counter stripes allocated so far (memory grows with contention, not with traffic).
    pub stripes: usize,
}

/// A keyed family at one instant: its keys, its overflow breaker and its counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FamilySnapshot {
    /// The family's name.
    pub family: ComponentName,
    /// Live keys.
    pub live: u32,
    /// Live keys `Open` or `HalfOpen`.
    pub unhealthy: u32,
    /// Whether the family counts as unhealthy in the global fuse.
    pub family_unhealthy: bool,
    /// `max_keys` in force.
    pub max_keys: u32,
    /// Keys evicted so far.
    pub evictions: u64,
    /// Whether new keys share the overflow breaker now (the family is full).
    pub overflowing: bool,
    /// Calls sent to the overflow breaker so far.
    pub overflow_calls: u64,
    /// Trips the ejection cap (`max_open_ratio`) kept closed so far.
    pub capped_trips: u64,
    /// Whether per-key Prometheus series are exported.
    pub per_key_metrics: bool,
    /// Every live key's breaker, sorted by key; each `component` is `family[key]`, and
    /// [`ComponentName::key`] gives the key.
    pub keys: Vec<ComponentSnapshot>,
    /// The overflow breaker (`family[__overflow__]`).
    pub overflow: ComponentSnapshot,
}

impl FamilySnapshot {
    /// The snapshot of `key`'s breaker, if the key is live.
    pub fn key(&self, key: &str) -> Option<&ComponentSnapshot> {
        self.keys.iter().find(|k| k.component.key() == Some(key))
    }
}

/// The registry at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RegistrySnapshot {
    /// The derived global fuse.
    pub global: ComponentSnapshot,
    /// Members of the fuse (components and families) that are unhealthy.
    pub unhealthy: u32,
    /// Every registered component, sorted by name.
    pub components: Vec<ComponentSnapshot>,
    /// The fleet quorum's status, once a fleet is attached (feature `fleet`).
    pub fleet: Option<FleetStatus>,
    /// Every keyed family, sorted by name, with its keys.
    pub families: Vec<FamilySnapshot>,
}

/// A fleet quorum's health, as the registry it gates sees it (see `breaker::fleet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FleetStatus {
    /// The fleet reaches Redis (`false`: local mode, the breakers serve on their own).
    pub connected: bool,
    /// Times Redis was lost (a start that could not reach it counts).
    pub disconnects: u64,
    /// Records read from Redis and ignored: malformed, oversized or of a future version.
    pub ignored_records: u64,
    /// Calls refused with `FleetOpen`.
    pub refused_calls: u64,
}

impl RegistrySnapshot {
    /// The component called `name`, if registered.
    pub fn component(&self, name: &str) -> Option<&ComponentSnapshot> {
        self.components.iter().find(|c| c.component == name)
    }

    /// The keyed family called `name`, if registered.
    pub fn family(&self, name: &str) -> Option<&FamilySnapshot> {
        self.families.iter().find(|f| f.family == name)
    }
}

// The family's adapter, like `ComponentBreaker`'s below.
impl Family {
    /// The family, its keys and its overflow breaker now.
    pub fn snapshot(&self) -> FamilySnapshot {
        let config = self.config();
        FamilySnapshot {
            family: self.name().clone(),
            live: self.live(),
            unhealthy: self.unhealthy_keys(),
            family_unhealthy: self.is_unhealthy(),
            max_keys: config.max_keys,
            evictions: self.evictions(),
            overflowing: self.is_overflowing(),
            overflow_calls: self.overflow_calls(),
            capped_trips: self.capped_trips(),
            per_key_metrics: config.per_key_metrics,
            keys: self.keys().iter().map(|k| k.snapshot()).collect(),
            overflow: self.overflow().snapshot(),
        }
    }
}

impl FamilyHandle {
    /// The family in the process-wide registry now (see [`Family::snapshot`]).
    pub fn snapshot(&self) -> FamilySnapshot {
        self.family().snapshot()
    }
}

// The one impl block on `ComponentBreaker` outside the engine: the engine knows no snapshot
// type, so its public `snapshot()` is this adapter over the plain `engine::Reading` it
// exposes, and reads nothing else.
impl ComponentBreaker {
    /// This breaker's counters, state and window now.
    pub fn snapshot(&self) -> ComponentSnapshot {
        ComponentSnapshot::from(self.read())
    }
}

impl From<Reading> for ComponentSnapshot {
    fn from(r: Reading) -> Self {
        let transitions = CircuitState::ALL
            .iter()
            .flat_map(|&from| CircuitState::ALL.iter().map(move |&to| (from, to)))
            .filter_map(|(from, to)| {
                let count = r.transitions[from as usize][to as usize];
                (count > 0).then_some(TransitionCount { from, to, count })
            })
            .collect();
        ComponentSnapshot {
            rejections: Rejections {
                open: r.rejections(RejectReason::Open),
                half_open_exhausted: r.rejections(RejectReason::HalfOpenExhausted),
                global_open: r.rejections(RejectReason::GlobalOpen),
                forced_open: r.rejections(RejectReason::ForcedOpen),
            },
            component: r.name,
            state: r.state,
            next_call_state: r.next_state,
            generation: r.generation,
            time_in_state: r.time_in_state,
            retry_after: r.retry_after,
            calls: r.successes + r.failures + r.ignored,
            successes: r.successes,
            failures: r.failures,
            slow_calls: r.slow,
            ignored: r.ignored,
            window: r.window,
            trip_failure_rate: r.trip_failure_rate,
            consecutive_failures: r.failures_in_a_row,
            half_open_in_flight: r.probes_in_flight,
            transitions,
            stripes: r.stripes,
        }
    }
}

// The registry's adapter, like `ComponentBreaker`'s above.
impl GlobalCircuitBreaker {
    fn fleet_status(&self) -> Option<FleetStatus> {
        let gates = self.fleet_gates();
        gates.is_attached().then(|| FleetStatus {
            connected: gates.is_connected(),
            disconnects: gates.disconnects(),
            ignored_records: gates.ignored_records(),
            refused_calls: gates.refused(),
        })
    }

    /// Every component and the fuse, now.
    pub fn snapshot(&self) -> RegistrySnapshot {
        let mut components: Vec<_> = self.breakers().map(|b| b.snapshot()).collect();
        components.sort_unstable_by(|a, b| a.component.cmp(&b.component));
        RegistrySnapshot {
            global: self.global().snapshot(),
            unhealthy: self.unhealthy(),
            components,
            fleet: self.fleet_status(),
            families: self.family_list().iter().map(|f| f.snapshot()).collect(),
        }
    }
}
