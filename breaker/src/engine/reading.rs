//! [`Reading`]: a breaker's state and counters at one instant, as plain values, read from the
//! same atomics the hot path keeps (so taking one adds nothing to the call path). Snapshots
//! and the Prometheus export are built from it, one layer up.

use std::time::Duration;

use crate::names::ComponentName;

use super::clock::nanos;
use super::error::RejectReason;
use super::loom_shim::Ordering;
use super::probe::ProbeWord;
use super::state::{CircuitState, StateWord};
use super::window::{Tally, WindowStats};
use super::{ComponentBreaker, Role};

/// One breaker at one instant.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    pub(crate) name: ComponentName,
    pub(crate) state: CircuitState,
    /// The state the next call would see: `state` advanced by time alone (see
    /// [`ComponentBreaker::next_call_state`]).
    pub(crate) next_state: CircuitState,
    pub(crate) generation: u64,
    pub(crate) time_in_state: Duration,
    /// For `Open`: how long until probes are let through.
    pub(crate) retry_after: Option<Duration>,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) ignored: u64,
    pub(crate) slow: u64,
    /// Refusals, indexed by [`RejectReason`].
    rejections: [u64; 4],
    /// The window as the trip check sees it now.
    pub(crate) window: WindowStats,
    /// The window's failure rate at the last `Closed -> Open` trip (0 before any).
    pub(crate) trip_failure_rate: f32,
    pub(crate) failures_in_a_row: u32,
    /// Probes in flight (in `HalfOpen`).
    pub(crate) probes_in_flight: u32,
    /// Transitions, indexed `[from][to]` in [`CircuitState::ALL`] order.
    pub(crate) transitions: [[u64; 5]; 5],
    pub(crate) stripes: usize,
}

impl Reading {
    /// Refusals for `reason` over the breaker's lifetime.
    pub(crate) fn rejections(&self, reason: RejectReason) -> u64 {
        self.rejections[reason as usize]
    }
}

impl ComponentBreaker {
    /// The state the next call would see at `now`, without making the transition (read-only,
    /// for readers: the state only advances on a call). An `Open` breaker past its cooldown
    /// would move to `HalfOpen`; a `HalfOpen` one past `half_open_max_wait` would re-open.
    /// A derived breaker has no timer of its own, and the manual states never advance.
    pub(crate) fn next_call_state(&self, word: StateWord, now: u64) -> CircuitState {
        match word.state() {
            CircuitState::Open
                if self.role == Role::Component && self.cooldown_left(now).is_none() =>
            {
                CircuitState::HalfOpen
            }
            CircuitState::HalfOpen => {
                let since = self.since.load(Ordering::Acquire);
                match self.config.load().half_open_max_wait {
                    Some(wait) if now.saturating_sub(since) >= nanos(wait) => CircuitState::Open,
                    _ => CircuitState::HalfOpen,
                }
            }
            state => state,
        }
    }

    /// Lifetime totals: the time window's (which also holds rejections, ignored calls and
    /// stale outcomes) plus the count window's.
    fn totals(&self) -> Tally {
        self.window.totals_with(|t| {
            if let Some(count) = self.failure.count.get() {
                count.total_into(t);
            }
        })
    }

    /// This breaker's state and counters now.
    pub(crate) fn read(&self) -> Reading {
        let now = self.timeline.now_nanos();
        let word = self.word();
        let state = word.state();
        let totals = self.totals();
        let probe = ProbeWord(self.probe.load(Ordering::Acquire));
        let mut transitions = [[0; 5]; 5];
        for (from, row) in transitions.iter_mut().enumerate() {
            for (to, count) in row.iter_mut().enumerate() {
                *count = self.transitions[from * 5 + to].load(Ordering::Relaxed);
            }
        }
        Reading {
            name: self.name.clone(),
            state,
            next_state: self.next_call_state(word, now),
            generation: word.generation(),
            time_in_state: Duration::from_nanos(
                now.saturating_sub(self.since.load(Ordering::Acquire)),
            ),
            retry_after: self.retry_after(),
            successes: totals.successes,
            failures: totals.failures,
            ignored: totals.ignored,
            slow: totals.slow,
            rejections: totals.rejections,
            window: self.window_stats(&self.config.load(), now, word.generation()),
            trip_failure_rate: self.trip_failure_rate(),
            failures_in_a_row: self.failures_in_a_row(),
            probes_in_flight: if state == CircuitState::HalfOpen
                && probe.belongs_to(word.generation())
            {
                probe.in_flight()
            } else {
                0
            },
            transitions,
            stripes: self.window.stripes_in_use()
                + self.failure.count.get().map_or(0, |c| c.stripes_in_use()),
        }
    }
}
