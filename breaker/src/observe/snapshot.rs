//! Point-in-time views of breakers, read from the same atomics the engine keeps (so taking one
//! adds nothing to the call path). Serializable for HTTP and logs.

use std::time::Duration;

use serde::Serialize;

use crate::engine::error::RejectReason;
use crate::engine::loom_shim::Ordering;
use crate::engine::probe::ProbeWord;
use crate::engine::ComponentBreaker;
use crate::{CircuitState, ComponentName, GlobalCircuitBreaker, WindowStats};

/// Rejections by reason, over the breaker's lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
pub struct ComponentSnapshot {
    /// The component (`"__global__"` for the fuse).
    pub component: ComponentName,
    /// Its state.
    pub state: CircuitState,
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
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Probes in flight (in `HalfOpen`).
    pub half_open_in_flight: u32,
    /// Every transition that happened at least once.
    pub transitions: Vec<TransitionCount>,
    /// Counter stripes allocated so far (memory grows with contention, not with traffic).
    pub stripes: usize,
}

/// The registry at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistrySnapshot {
    /// The derived global fuse.
    pub global: ComponentSnapshot,
    /// Components that are `Open` or `HalfOpen`.
    pub unhealthy: u32,
    /// Every registered component, sorted by name.
    pub components: Vec<ComponentSnapshot>,
}

impl RegistrySnapshot {
    /// The component called `name`, if registered.
    pub fn component(&self, name: &str) -> Option<&ComponentSnapshot> {
        self.components.iter().find(|c| c.component == name)
    }
}

impl ComponentBreaker {
    /// This breaker's counters, state and window now.
    pub fn snapshot(&self) -> ComponentSnapshot {
        let now = self.timeline.now_nanos();
        let word = self.word();
        let state = word.state();
        let totals = self.window.totals();
        let probe = ProbeWord(self.probe.load(Ordering::Acquire));
        let r = |reason: RejectReason| totals.rejections[reason as usize];
        let transitions = CircuitState::ALL
            .iter()
            .flat_map(|&from| CircuitState::ALL.iter().map(move |&to| (from, to)))
            .filter_map(|(from, to)| {
                let count =
                    self.transitions[from as usize * 5 + to as usize].load(Ordering::Relaxed);
                (count > 0).then_some(TransitionCount { from, to, count })
            })
            .collect();
        ComponentSnapshot {
            component: self.name.clone(),
            state,
            generation: word.generation(),
            time_in_state: Duration::from_nanos(
                now.saturating_sub(self.since.load(Ordering::Acquire)),
            ),
            retry_after: self.retry_after(),
            calls: totals.successes + totals.failures + totals.ignored,
            successes: totals.successes,
            failures: totals.failures,
            slow_calls: totals.slow,
            ignored: totals.ignored,
            rejections: Rejections {
                open: r(RejectReason::Open),
                half_open_exhausted: r(RejectReason::HalfOpenExhausted),
                global_open: r(RejectReason::GlobalOpen),
                forced_open: r(RejectReason::ForcedOpen),
            },
            window: self.window_stats(&self.config.load(), now, word.generation()),
            consecutive_failures: self.failure_run(),
            half_open_in_flight: if state == CircuitState::HalfOpen
                && probe.belongs_to(word.generation())
            {
                probe.in_flight()
            } else {
                0
            },
            transitions,
            stripes: self.window.stripes_in_use(),
        }
    }
}

impl GlobalCircuitBreaker {
    /// Every component and the fuse, now.
    pub fn snapshot(&self) -> RegistrySnapshot {
        let mut components: Vec<_> = self.breakers().map(|b| b.snapshot()).collect();
        components.sort_unstable_by(|a, b| a.component.cmp(&b.component));
        RegistrySnapshot {
            global: self.global().snapshot(),
            unhealthy: self.fuse().unhealthy(),
            components,
        }
    }
}
