//! One breaker: [`ComponentBreaker`], its hot path and its state machine. Everything a call
//! touches is in this folder, and nothing here knows of registries, files, the fuse,
//! snapshots or other breakers: whoever owns a breaker is an [`Owner`](events::Owner), and
//! what is derived from elsewhere reaches admission as a gate ([`gate`]).
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the breaker's fields, its constructors, its accessors, a reload |
//! | `admit.rs` | admission ([`ComponentBreaker::acquire`]): one small function per state |
//! | `record.rs` | recording an outcome and the trip check |
//! | `transition.rs` | transitions (the automatic ones and manual control) |
//! | `state.rs`, `probe.rs`, `failure_run.rs`, `gate.rs` | the packed atomic words: state + generation, the half-open tally, failures in a row, the gates held |
//! | `guard.rs` | [`Permit`], [`CallGuard`], [`Outcome`], [`Recorded`] |
//! | `call.rs` | `call` / `run_protected`: acquire, run and record in one |
//! | `error.rs`, `events.rs` | [`CircuitError`], [`CallError`]; [`Transition`] and the owner interface |
//! | `window/` | the rolling window's striped, lock-free buckets |
//! | `clock.rs` | [`Clock`], [`SystemClock`], [`CoarseClock`], [`FakeClock`], and the nanosecond timeline |
//! | `reading.rs` | a plain read-only view of the breaker, for snapshots |
//! | `loom_shim.rs` | every atomic and lock above, swapped for loom's in the loom models |
//!
//! # Admission, in order
//!
//! 1. The manual states: `ForcedOpen` refuses, `Disabled` admits (bypassing everything else).
//! 2. The breaker's own state: `Open` refuses until its cooldown ends, then moves to
//!    `HalfOpen`; `HalfOpen` admits up to `half_open_max_concurrent` probes. Probes pass the
//!    gates: a verdict derived from unhealthy components must not block the probes that heal
//!    them.
//! 3. The gates, for a `Closed` breaker: if any owner holds one, the call is refused with
//!    that owner's verdict (for the global fuse, [`CircuitError::GlobalOpen`]).
//!
//! # Cost
//!
//! | path | loads | writes | other |
//! |---|---|---|---|
//! | acquire, `Closed`, no gate held | the state word and the gate word (one cache line), the slow-call threshold | none | no clock read |
//! | record, `Closed`, success | the state word (generation check), the slow-call threshold, the failure run (written only when non-zero), this thread's stripe | one uncontended CAS on this thread's stripe | one clock read (the bucket) |
//! | record, `Closed`, success, `sample_weighting = count` | the state word, the slow-call threshold, the failure run, this thread's ring cursor and one ring byte | one uncontended CAS on the cursor (and the byte only when it changes) | no clock read |
//! | record, `Closed`, failure | the same, then the trip check: its rules (three words of the failure line, no `ArcSwap` load), the cached sum of the window's earlier buckets and the current bucket of each stripe in use (a count window: each ring's running counts) | the failure run; once per bucket width the cache | |
//! | acquire, refused | as above | one counter on this thread's stripe | an `ArcSwap` load of the config for a refusal that carries a retry hint |
//!
//! No allocation, no lock, no hashing on any of them. With slow-call detection on, acquire
//! reads the clock once more. A refusal's [`CircuitError`] carries the component's
//! [`ComponentName`]: for a `breakers!` component a copy of a `&'static str` (no allocation,
//! no reference-count write), for a breaker named at run time one `Arc` reference-count
//! increment (never an allocation).

mod admit;
mod call;
pub(crate) mod clock;
mod error;
pub(crate) mod events;
mod failure_run;
pub(crate) mod gate;
mod guard;
pub(crate) mod loom_shim;
mod probe;
mod reading;
mod record;
pub(crate) mod state;
mod transition;
mod window;

pub use clock::{Clock, CoarseClock, FakeClock, Sleep, SystemClock};
pub use error::{BuildError, CallError, CircuitError};
pub use events::{Transition, TransitionReason};
pub use guard::{CallGuard, Outcome, Permit, Recorded};
pub use state::CircuitState;
pub use window::{Exponential, Sliding, WindowStats, WindowStrategy};

pub(crate) use call::{run, run_async};
pub(crate) use error::RejectReason;
pub(crate) use reading::Reading;

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;

use crate::config::{CircuitConfig, SampleWeighting};
use crate::names::{self, ComponentName};
use clock::{nanos, Timeline};
use events::{Owner, Unowned};
use failure_run::FailureRun;
use gate::Gate;
use loom_shim::{lock, AtomicU32, AtomicU64, Mutex, OnceBox, Ordering};
use probe::ProbeWord;
use state::StateWord;
use window::{CountWindow, FoldCache, Window};

/// One breaker: the state machine for one component. Usually owned by a
/// [`GlobalCircuitBreaker`](crate::GlobalCircuitBreaker) and reached through a manifest handle
/// or by name, but it also works on its own.
pub struct ComponentBreaker {
    // Read by every call.
    words: Words,
    /// `slow_call_threshold` in nanoseconds; 0 when detection is off.
    slow_nanos: AtomicU64,
    window: Window,
    timeline: Timeline,

    // Read and written on failures, transitions and snapshots.
    name: ComponentName,
    role: Role,
    config: ArcSwap<CircuitConfig>,
    /// The half-open episode's tally ([`ProbeWord`]).
    probe: AtomicU64,
    /// Failures in a row and what the trip check needs, on a line of its own: failures
    /// write it.
    failure: CachePadded<FailureLine>,
    /// When the current state was entered (nanoseconds on the timeline).
    since: AtomicU64,
    /// When the current `Open` state ends.
    open_until: AtomicU64,
    /// Transition counts, indexed `from * 5 + to`.
    transitions: [AtomicU64; 25],
    /// Serialises transitions (never taken by the hot path).
    transition_lock: Mutex<()>,
    owner: Arc<dyn Owner>,
}

/// The two words every admission reads, 16-byte aligned so that they always share a cache
/// line: a `Closed` breaker with gates costs the line its state word costs anyway.
#[repr(C, align(16))]
struct Words {
    /// The [`StateWord`]: state and generation.
    state: AtomicU64,
    /// The gates held over this breaker ([`Gate`]).
    gate: Gate,
}

/// The line failures write: the failure run, and the count window (whose pointer rides in
/// the line's padding, so a breaker without one pays nothing for it).
struct FailureLine {
    /// Failures in a row ([`FailureRun`]).
    run: AtomicU64,
    /// The count window, for `sample_weighting = count` (allocated by the config that first
    /// asks for it, never by a call).
    count: OnceBox<CountWindow>,
    /// The config's trip rules, so the trip check needs no `ArcSwap` load.
    trip: TripRules,
    /// The fold of the window's earlier buckets, for the trip check.
    fold: FoldCache,
    /// Re-opens from `HalfOpen` since the last close: the backoff exponent. (Written by
    /// transitions, which follow failures; here it fills padding and keeps the breaker in four
    /// lines.)
    reopens: AtomicU32,
    /// The window's failure rate (`f32` bits) when `Closed` last tripped to `Open`: what
    /// tripped it, kept through the outage (the window itself restarts at the trip). Written
    /// by transitions only, under the transition lock.
    trip_rate: AtomicU32,
}

/// The trip rules of the config in force, in three words a reload writes (a trip check
/// racing a reload may read some old and some new, as it may read either config).
#[derive(Debug, Default)]
struct TripRules {
    /// `min_calls:32 | consecutive_failures_threshold:32` (0: off).
    counts: AtomicU64,
    /// `error_rate_threshold` bits `:32 | slow_call_rate_threshold` bits `:32` (infinity when
    /// slow-call detection is off, so no rate reaches it).
    rates: AtomicU64,
    /// `weighting:2 | exponential_half_life` in nanoseconds (at most a year: 55 bits).
    weighting: AtomicU64,
}

/// The trip rules as plain values.
#[derive(Debug, Clone, Copy)]
struct Rules {
    min_calls: u32,
    consecutive: Option<u32>,
    error_rate: f32,
    slow_rate: Option<f32>,
    weighting: SampleWeighting,
    half_life_nanos: u64,
}

impl TripRules {
    fn new(config: &CircuitConfig) -> Self {
        let rules = Self::default();
        rules.set(config);
        rules
    }

    fn set(&self, c: &CircuitConfig) {
        let consecutive = c.consecutive_failures_threshold.unwrap_or(0);
        self.counts.store(
            u64::from(c.min_calls) << 32 | u64::from(consecutive),
            Ordering::Relaxed,
        );
        let slow = if c.slow_call_threshold.is_some() {
            c.slow_call_rate_threshold
        } else {
            f32::INFINITY
        };
        self.rates.store(
            u64::from(c.error_rate_threshold.to_bits()) << 32 | u64::from(slow.to_bits()),
            Ordering::Relaxed,
        );
        let kind: u64 = match c.sample_weighting {
            SampleWeighting::Sliding => 0,
            SampleWeighting::Exponential => 1,
            SampleWeighting::Count => 2,
        };
        let half_life = nanos(c.exponential_half_life).min((1 << 62) - 1);
        self.weighting
            .store(kind << 62 | half_life, Ordering::Relaxed);
    }

    #[inline]
    fn get(&self) -> Rules {
        let counts = self.counts.load(Ordering::Relaxed);
        let rates = self.rates.load(Ordering::Relaxed);
        let weighting = self.weighting.load(Ordering::Relaxed);
        let slow = f32::from_bits(rates as u32);
        Rules {
            min_calls: (counts >> 32) as u32,
            consecutive: Some(counts as u32).filter(|c| *c != 0),
            error_rate: f32::from_bits((rates >> 32) as u32),
            slow_rate: slow.is_finite().then_some(slow),
            weighting: match weighting >> 62 {
                0 => SampleWeighting::Sliding,
                1 => SampleWeighting::Exponential,
                _ => SampleWeighting::Count,
            },
            half_life_nanos: weighting & ((1 << 62) - 1),
        }
    }
}

/// What drives a breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Its own calls, and manual control: a component's breaker.
    Component,
    /// Its owner, who derives it from elsewhere (the registry's global fuse, from the
    /// components): its calls never trip it, it has no cooldown timer, and while `Open` it
    /// refuses with its owner's verdict.
    Derived,
}

impl fmt::Debug for ComponentBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentBreaker")
            .field("name", &self.name)
            .field("state", &self.state())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// A count window for a config that judges by one (in the first episode), else none yet.
fn count_window(config: &CircuitConfig) -> OnceBox<CountWindow> {
    let slot = OnceBox::new();
    if config.sample_weighting == SampleWeighting::Count {
        let _ = slot.set(Box::new(CountWindow::new(config.window_calls.into(), 0)));
    }
    slot
}

/// The width of one window bucket in nanoseconds (valid configs only divide evenly).
const fn bucket_nanos(config: &CircuitConfig) -> u64 {
    let n = nanos(config.rolling_window) / config.window_buckets as u64;
    if n == 0 {
        1
    } else {
        n
    }
}

impl ComponentBreaker {
    /// A standalone breaker (no registry, no global fuse). The name and the config are
    /// validated first.
    pub fn new(
        name: &str,
        config: CircuitConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, BuildError> {
        names::check(name).map_err(|reason| BuildError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        config.validate()?;
        Ok(Self::build(
            ComponentName::copied(name),
            config,
            Timeline::new(clock),
            Arc::new(Unowned),
            Role::Component,
        ))
    }

    /// Builds a breaker from a config the caller has validated, owned by `owner`.
    pub(crate) fn build(
        name: ComponentName,
        config: CircuitConfig,
        timeline: Timeline,
        owner: Arc<dyn Owner>,
        role: Role,
    ) -> Self {
        let now = timeline.now_nanos();
        Self {
            words: Words {
                state: AtomicU64::new(StateWord::INITIAL.bits()),
                gate: Gate::new(),
            },
            slow_nanos: AtomicU64::new(config.slow_call_threshold.map_or(0, nanos)),
            window: Window::new(config.window_buckets, bucket_nanos(&config)),
            timeline,
            name,
            role,
            config: ArcSwap::from_pointee(config),
            probe: AtomicU64::new(ProbeWord::fresh(0).0),
            failure: CachePadded::new(FailureLine {
                run: AtomicU64::new(FailureRun::NONE.0),
                count: count_window(&config),
                trip: TripRules::new(&config),
                fold: FoldCache::default(),
                reopens: AtomicU32::new(0),
                trip_rate: AtomicU32::new(0),
            }),
            since: AtomicU64::new(now),
            open_until: AtomicU64::new(0),
            transitions: Default::default(),
            transition_lock: Mutex::new(()),
            owner,
        }
    }

    /// The component's name (clone it to keep it: see [`ComponentName`] for the cost).
    pub fn name(&self) -> &ComponentName {
        &self.name
    }

    /// A timer on this breaker's clock that completes `after` from now (for `timeout`).
    pub(crate) fn sleep(&self, after: std::time::Duration) -> Sleep {
        self.timeline.sleep(after)
    }

    /// The current state.
    pub fn state(&self) -> CircuitState {
        self.word().state()
    }

    /// The config in force.
    pub fn config(&self) -> CircuitConfig {
        **self.config.load()
    }

    /// The state word: state and generation.
    #[inline(always)]
    pub(crate) fn word(&self) -> StateWord {
        StateWord(self.words.state.load(Ordering::Acquire))
    }

    /// The gates its owners hold over this breaker.
    #[inline(always)]
    pub(crate) fn gate(&self) -> &Gate {
        &self.words.gate
    }

    /// Applies a validated config; state and counts are kept. A new bucket width or count is
    /// put in force under the transition lock (so the episode cannot change meanwhile; calls
    /// never take it), with the window's counts re-bucketed by age.
    pub(crate) fn apply(&self, config: CircuitConfig) {
        self.slow_nanos.store(
            config.slow_call_threshold.map_or(0, nanos),
            Ordering::Relaxed,
        );
        {
            let _guard = lock(&self.transition_lock);
            self.window.relayout(
                bucket_nanos(&config),
                config.window_buckets,
                self.timeline.now_nanos(),
                self.word().generation(),
                self.since.load(Ordering::Acquire),
            );
            let generation = self.word().generation();
            if config.sample_weighting == SampleWeighting::Count {
                let count = self.failure.count.get_or_init(|| {
                    Box::new(CountWindow::new(config.window_calls.into(), generation))
                });
                count.relayout(Some(config.window_calls.into()), generation);
            } else if let Some(count) = self.failure.count.get() {
                count.relayout(None, generation);
            }
            self.failure.trip.set(&config);
        }
        self.config.store(Arc::new(config));
    }
}

// Not in the loom build (`--cfg breaker_loom`), which runs only the models.
#[cfg(not(breaker_loom))]
#[cfg(test)]
mod tests {
    use super::*;

    /// The state word and the gate word are read by every admission: they share a line.
    #[test]
    fn the_state_and_gate_words_share_a_cache_line() {
        assert_eq!(std::mem::size_of::<Words>(), 16);
        assert_eq!(std::mem::align_of::<Words>(), 16);
    }

    /// The breaker is four 128-byte lines (README, "Cost and memory"); the window's levels
    /// beyond the first, its carried sets and its high-water mark live outside it for that,
    /// and the timeline's origin lives behind its shared pointer.
    /// The failure line's padding holds the trip rules and the fold cache.
    #[test]
    fn the_failure_line_is_one_cache_line() {
        assert!(std::mem::size_of::<FailureLine>() <= 128);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_breaker_fits_four_cache_lines() {
        assert!(std::mem::size_of::<ComponentBreaker>() <= 512);
    }
}
