//! [`ComponentBreaker`] and its hot path: admission ([`ComponentBreaker::acquire`]) and outcome
//! recording. Everything a call touches is in this file; transitions live in `transition.rs`.
//!
//! Cost in `Closed`, success, slow-call detection off:
//! - acquire: one load of the fuse's state word, one of this breaker's state word, one of the
//!   slow-call threshold. No write, no clock read.
//! - record: one clock read (to find the bucket), one load of the state word (generation
//!   check), one load + CAS on this thread's stripe, one load of the consecutive-failure
//!   counter (written only when it is non-zero).
//!
//! No allocation, no lock, no hashing. The trip check (which folds the window) runs only when a
//! failure or a slow call is recorded.
//!
//! A refusal also counts itself on this thread's stripe, and its [`CircuitError`] carries the
//! component's [`ComponentName`]: for a `breakers!` component a copy of a `&'static str` (no
//! allocation, no reference-count write), for a breaker named at run time one `Arc`
//! reference-count increment (never an allocation).

pub(crate) mod call;
pub(crate) mod clock;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod guard;
pub(crate) mod loom_shim;
pub(crate) mod probe;
pub(crate) mod state;
pub(crate) mod transition;
pub(crate) mod window;

pub use clock::{Clock, FakeClock, SystemClock};
pub use error::{CallError, CircuitError};
pub use events::{Transition, TransitionReason};
pub use guard::{CallGuard, Outcome, Permit, Recorded};
pub use state::CircuitState;
pub use window::{Exponential, Sliding, WindowStats, WindowStrategy};

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;

use crate::config::CircuitConfig;
use crate::names::ComponentName;
use crate::registry::events::Hooks;
use crate::registry::fuse::Fuse;
use clock::{nanos, Timeline};
use error::RejectReason;
use guard::{BreakerRef, Finish};
use loom_shim::{lock, AtomicU32, AtomicU64, Mutex, Ordering};
use probe::{ProbeResult, ProbeWord};
use state::StateWord;
use window::{Kind, Window};

/// One breaker: the state machine for one component. Usually owned by a
/// [`GlobalCircuitBreaker`](crate::GlobalCircuitBreaker) and reached through a manifest handle
/// or by name, but it also works on its own.
pub struct ComponentBreaker {
    // Read by every call.
    pub(crate) state: AtomicU64,
    /// `slow_call_threshold` in nanoseconds; 0 when detection is off.
    slow_nanos: AtomicU64,
    pub(crate) window: Window,
    pub(crate) fuse: Option<Arc<Fuse>>,
    pub(crate) timeline: Timeline,

    // Read and written on failures, transitions and snapshots.
    pub(crate) name: ComponentName,
    /// The global fuse's own breaker: its state is derived, never driven by calls.
    pub(crate) derived: bool,
    pub(crate) config: ArcSwap<CircuitConfig>,
    pub(crate) probe: AtomicU64,
    /// Failures in a row, tagged with the episode they belong to: `generation:32 | count:32`.
    /// A count from another episode reads as 0, so a new episode needs no reset and a failure
    /// that raced a transition cannot lengthen the new episode's run.
    pub(crate) consecutive: CachePadded<AtomicU64>,
    /// When the current state was entered (nanoseconds on the timeline).
    pub(crate) since: AtomicU64,
    /// When the current `Open` state ends.
    pub(crate) open_until: AtomicU64,
    /// Re-opens from `HalfOpen` since the last close: the backoff exponent.
    pub(crate) reopens: AtomicU32,
    /// Transition counts, indexed `from * 5 + to`.
    pub(crate) transitions: [AtomicU64; 25],
    /// Serialises transitions (never taken by the hot path).
    pub(crate) transition_lock: Mutex<()>,
    pub(crate) hooks: Arc<Hooks>,
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

/// What a guard remembers about its admission.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    generation: u64,
    admission: Admission,
    /// When the call started, if slow-call detection was on.
    started: Option<u64>,
}

impl Ticket {
    pub(crate) fn is_probe(&self) -> bool {
        self.admission == Admission::Probe
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Closed: counted and evaluated.
    Counted,
    /// HalfOpen: holds a probe token.
    Probe,
    /// Disabled: counted, never evaluated.
    Unmetered,
}

/// Bounds the acquire loop: Open -> HalfOpen -> (decided) Closed, then admit.
const ACQUIRE_ATTEMPTS: usize = 4;

/// The answer of the probe word to a would-be probe.
enum Probe {
    Admitted,
    Full,
    /// The episode's tally has already decided; the word as read.
    Decided(ProbeWord),
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

/// Where a half-open tally leads: `Open` once more than the allowed failures failed, `Closed`
/// once the required successes succeeded, `None` while undecided.
fn decided(probes: ProbeWord, config: &CircuitConfig) -> Option<CircuitState> {
    if probes.failures() > config.half_open_allowed_failures {
        Some(CircuitState::Open)
    } else if probes.successes() >= config.half_open_required_successes {
        Some(CircuitState::Closed)
    } else {
        None
    }
}

impl ComponentBreaker {
    /// A standalone breaker (no registry, no global fuse). The config is validated first.
    pub fn new(
        name: &str,
        config: CircuitConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::RegistryError> {
        crate::names::check(name).map_err(|reason| crate::RegistryError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        config.validate()?;
        Ok(Self::build(
            ComponentName::copied(name),
            config,
            Timeline::new(clock),
            None,
            Arc::new(Hooks::default()),
            false,
        ))
    }

    /// Builds a breaker from a config the caller has validated.
    pub(crate) fn build(
        name: ComponentName,
        config: CircuitConfig,
        timeline: Timeline,
        fuse: Option<Arc<Fuse>>,
        hooks: Arc<Hooks>,
        derived: bool,
    ) -> Self {
        let now = timeline.now_nanos();
        Self {
            state: AtomicU64::new(StateWord::INITIAL.0),
            slow_nanos: AtomicU64::new(config.slow_call_threshold.map_or(0, nanos)),
            window: Window::new(config.window_buckets, bucket_nanos(&config)),
            fuse,
            timeline,
            name,
            derived,
            config: ArcSwap::from_pointee(config),
            probe: AtomicU64::new(ProbeWord::fresh(0).0),
            consecutive: CachePadded::new(AtomicU64::new(0)),
            since: AtomicU64::new(now),
            open_until: AtomicU64::new(0),
            reopens: AtomicU32::new(0),
            transitions: Default::default(),
            transition_lock: Mutex::new(()),
            hooks,
        }
    }

    /// The component's name (clone it to keep it: see [`ComponentName`] for the cost).
    pub fn name(&self) -> &ComponentName {
        &self.name
    }

    /// The current state.
    pub fn state(&self) -> CircuitState {
        self.word().state()
    }

    /// The config in force.
    pub fn config(&self) -> CircuitConfig {
        **self.config.load()
    }

    #[inline]
    pub(crate) fn word(&self) -> StateWord {
        StateWord(self.state.load(Ordering::Acquire))
    }

    /// Lets a call through or refuses it. Never blocks; see the module docs for its cost.
    #[inline]
    pub fn acquire(&self) -> Permit<'_> {
        match self.admit() {
            Ok(ticket) => Permit::Allowed(CallGuard::new(BreakerRef::Borrowed(self), ticket)),
            Err(e) => Permit::Rejected(e),
        }
    }

    /// [`acquire`](Self::acquire) for a shared breaker: the guard keeps the breaker alive, so
    /// it can outlive the borrow (spawned tasks).
    pub fn acquire_owned(self: &Arc<Self>) -> Permit<'static> {
        Arc::clone(self).into_permit()
    }

    pub(crate) fn into_permit(self: Arc<Self>) -> Permit<'static> {
        match self.admit() {
            Ok(ticket) => Permit::Allowed(CallGuard::new(BreakerRef::Shared(self), ticket)),
            Err(e) => Permit::Rejected(e),
        }
    }

    #[inline]
    fn admit(&self) -> Result<Ticket, CircuitError> {
        let fuse_open = match &self.fuse {
            Some(fuse) => fuse.is_open(),
            None => false,
        };
        let mut word = self.word();
        for _ in 0..ACQUIRE_ATTEMPTS {
            match word.state() {
                CircuitState::Closed if !fuse_open => {
                    return Ok(Ticket {
                        generation: word.generation(),
                        admission: Admission::Counted,
                        started: self.start_timer(),
                    });
                }
                CircuitState::Closed => return Err(self.reject_global()),
                CircuitState::Disabled => {
                    return Ok(Ticket {
                        generation: word.generation(),
                        admission: Admission::Unmetered,
                        started: self.start_timer(),
                    });
                }
                CircuitState::ForcedOpen => {
                    self.count_rejection(RejectReason::ForcedOpen);
                    return Err(CircuitError::ForcedOpen {
                        component: self.name.clone(),
                    });
                }
                CircuitState::Open if self.derived => return Err(self.reject_global()),
                CircuitState::Open => {
                    let now = self.timeline.now_nanos();
                    if let Some(retry_after) = self.cooldown_left(now) {
                        self.count_rejection(RejectReason::Open);
                        return Err(CircuitError::Open {
                            component: self.name.clone(),
                            retry_after,
                        });
                    }
                    self.transition(
                        word,
                        CircuitState::HalfOpen,
                        TransitionReason::CooldownElapsed,
                        now,
                    );
                }
                CircuitState::HalfOpen => {
                    let now = self.timeline.now_nanos();
                    let config = self.config.load();
                    let since = self.since.load(Ordering::Acquire);
                    if let Some(max_wait) = config.half_open_max_wait {
                        if now.saturating_sub(since) >= nanos(max_wait) {
                            self.transition(
                                word,
                                CircuitState::Open,
                                TransitionReason::HalfOpenTimeout,
                                now,
                            );
                            word = self.word();
                            continue;
                        }
                    }
                    match self.take_probe(word.generation(), &config) {
                        Probe::Admitted => {
                            return Ok(Ticket {
                                generation: word.generation(),
                                admission: Admission::Probe,
                                started: (self.slow_nanos.load(Ordering::Relaxed) != 0)
                                    .then_some(now),
                            });
                        }
                        Probe::Full => {
                            self.count_rejection(RejectReason::HalfOpenExhausted);
                            return Err(CircuitError::HalfOpenExhausted {
                                component: self.name.clone(),
                            });
                        }
                        // The episode has decided but nobody acted on it (a reload lowered
                        // the bar after the deciding probe finished): act now, then retry.
                        Probe::Decided(probes) => {
                            self.decide(word, probes, &config, now);
                            word = self.word();
                            continue;
                        }
                    }
                }
            }
            word = self.word();
        }
        // Only reachable if the state changed under us on every attempt; refusing is safe.
        self.count_rejection(RejectReason::HalfOpenExhausted);
        Err(CircuitError::HalfOpenExhausted {
            component: self.name.clone(),
        })
    }

    /// Counts a refusal (on this thread's stripe) and emits a `debug` event with the
    /// component and state, which costs one relaxed load when that level is off.
    #[inline]
    fn count_rejection(&self, reason: RejectReason) {
        self.window.reject(reason as usize);
        tracing::debug!(
            target: "breaker",
            component = self.name.as_str(),
            state = self.state().as_str(),
            reason = reason.as_str(),
            "call refused"
        );
    }

    #[cold]
    fn reject_global(&self) -> CircuitError {
        self.count_rejection(RejectReason::GlobalOpen);
        CircuitError::GlobalOpen {
            component: self.name.clone(),
            retry_after: self.config.load().open_cooldown,
        }
    }

    /// Reads the clock only when slow-call detection is on.
    #[inline]
    fn start_timer(&self) -> Option<u64> {
        if self.slow_nanos.load(Ordering::Relaxed) == 0 {
            None
        } else {
            Some(self.timeline.now_nanos())
        }
    }

    /// Takes one of `half_open_max_concurrent` probe tokens of episode `generation`, unless
    /// the episode has already decided.
    fn take_probe(&self, generation: u64, config: &CircuitConfig) -> Probe {
        let mut current = ProbeWord(self.probe.load(Ordering::Acquire));
        loop {
            // The transition into HalfOpen writes the fresh word before it publishes the
            // state, so a word from another episode means this one has already ended.
            if !current.belongs_to(generation) {
                return Probe::Full;
            }
            if decided(current, config).is_some() {
                return Probe::Decided(current);
            }
            let Some(next) = current.admit(config.half_open_max_concurrent) else {
                return Probe::Full;
            };
            match self.probe.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Probe::Admitted,
                Err(actual) => current = ProbeWord(actual),
            }
        }
    }

    /// Records how an admitted call ended (called by the guard, exactly once).
    #[inline]
    pub(crate) fn finish(&self, ticket: &Ticket, how: Finish) -> Recorded {
        let now = self.timeline.now_nanos();
        let slow_nanos = self.slow_nanos.load(Ordering::Relaxed);
        let slow = match ticket.started {
            Some(started) if slow_nanos != 0 => now.saturating_sub(started) >= slow_nanos,
            _ => false,
        };
        let kind = match how {
            Finish::Success => Kind::Success,
            Finish::Failure | Finish::Panicked => Kind::Failure,
            Finish::Ignored => Kind::Ignored,
            // A cancelled call tells nothing about the dependency, unless it had already been
            // slow: then it is the slow failure it would have become.
            Finish::Dropped if slow => Kind::Failure,
            Finish::Dropped => Kind::Ignored,
        };
        let slow = slow && kind != Kind::Ignored;

        let word = self.word();
        let generation = ticket.generation;
        if word.generation() != generation {
            self.window.add_retired(kind);
            if slow {
                self.window.add_retired(Kind::Slow);
            }
            return Recorded::Stale;
        }
        self.window.add(now, generation, kind);
        if slow {
            self.window.add(now, generation, Kind::Slow);
        }
        match ticket.admission {
            Admission::Unmetered => {}
            Admission::Counted => match kind {
                Kind::Success => {
                    self.end_failure_run(generation);
                    if slow {
                        self.evaluate(word, now, 0);
                    }
                }
                Kind::Failure => {
                    let run = self.extend_failure_run(generation);
                    self.evaluate(word, now, run);
                }
                Kind::Ignored | Kind::Slow => {}
            },
            Admission::Probe => {
                let result = match kind {
                    // A slow probe says the dependency is not well yet.
                    Kind::Success if slow => ProbeResult::Failure,
                    Kind::Success => ProbeResult::Success,
                    Kind::Failure => ProbeResult::Failure,
                    Kind::Ignored | Kind::Slow => ProbeResult::Neutral,
                };
                self.finish_probe(word, result, now);
            }
        }
        Recorded::Counted
    }

    /// A success ends the failure run. Load first: a success must not write a shared line
    /// when nothing failed.
    #[inline]
    fn end_failure_run(&self, generation: u64) {
        let run = self.consecutive.load(Ordering::Relaxed);
        if run & 0xffff_ffff != 0 && run >> 32 == generation & 0xffff_ffff {
            let _ = self.consecutive.compare_exchange(
                run,
                (generation & 0xffff_ffff) << 32,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// One more failure in episode `generation`'s run; returns the run's length.
    fn extend_failure_run(&self, generation: u64) -> u32 {
        let episode = generation & 0xffff_ffff;
        let mut run = self.consecutive.load(Ordering::Relaxed);
        loop {
            let count = if run >> 32 == episode {
                run & 0xffff_ffff
            } else {
                0
            };
            let next = (episode << 32) | (count + 1).min(0xffff_ffff);
            match self.consecutive.compare_exchange_weak(
                run,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (next & 0xffff_ffff) as u32,
                Err(actual) => run = actual,
            }
        }
    }

    /// Failures in a row in the current episode.
    pub(crate) fn failure_run(&self) -> u32 {
        let run = self.consecutive.load(Ordering::Relaxed);
        if run >> 32 == self.word().generation() & 0xffff_ffff {
            (run & 0xffff_ffff) as u32
        } else {
            0
        }
    }

    /// The trip check: consecutive failures first, then the window's rates.
    #[cold]
    fn evaluate(&self, word: StateWord, now: u64, run: u32) {
        tracing::trace!(
            target: "breaker",
            component = self.name.as_str(),
            state = word.state().as_str(),
            failures_in_a_row = run,
            "failure or slow call recorded"
        );
        if self.derived {
            // The fuse's state is derived from the components, never from its own calls.
            return;
        }
        let config = self.config.load();
        if let Some(threshold) = config.consecutive_failures_threshold {
            if run >= threshold {
                self.transition(
                    word,
                    CircuitState::Open,
                    TransitionReason::ConsecutiveFailures { count: run },
                    now,
                );
                return;
            }
        }
        let stats = self.window_stats(&config, now, word.generation());
        if stats.calls < u64::from(config.min_calls) {
            return;
        }
        let reason = if stats.error_rate >= config.error_rate_threshold {
            TransitionReason::ErrorRate {
                rate: stats.error_rate,
                threshold: config.error_rate_threshold,
                calls: stats.calls,
            }
        } else if config.slow_call_threshold.is_some()
            && stats.slow_call_rate >= config.slow_call_rate_threshold
        {
            TransitionReason::SlowCallRate {
                rate: stats.slow_call_rate,
                threshold: config.slow_call_rate_threshold,
                calls: stats.calls,
            }
        } else {
            return;
        };
        self.transition(word, CircuitState::Open, reason, now);
    }

    pub(crate) fn window_stats(
        &self,
        config: &CircuitConfig,
        now: u64,
        generation: u64,
    ) -> crate::WindowStats {
        let strategy: &dyn crate::WindowStrategy = match config.sample_weighting {
            crate::SampleWeighting::Sliding => &crate::Sliding,
            crate::SampleWeighting::Exponential => &crate::Exponential,
        };
        // The window measures the half-life in its own bucket width, which a reload may be
        // changing while `config` is still the old one.
        self.window.stats(
            now,
            generation,
            self.since.load(Ordering::Acquire),
            strategy,
            nanos(config.exponential_half_life),
        )
    }

    /// Returns a probe's token and closes or re-opens once the episode has decided.
    fn finish_probe(&self, word: StateWord, result: ProbeResult, now: u64) {
        let mut current = ProbeWord(self.probe.load(Ordering::Acquire));
        let next = loop {
            if !current.belongs_to(word.generation()) {
                return;
            }
            let next = current.finish(result);
            match self.probe.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break next,
                Err(actual) => current = ProbeWord(actual),
            }
        };
        self.decide(word, next, &self.config.load(), now);
    }

    /// Closes or re-opens a half-open episode whose probe tally has decided.
    fn decide(&self, word: StateWord, probes: ProbeWord, config: &CircuitConfig, now: u64) {
        match decided(probes, config) {
            Some(CircuitState::Open) => {
                self.transition(
                    word,
                    CircuitState::Open,
                    TransitionReason::ProbesFailed {
                        failures: probes.failures(),
                    },
                    now,
                );
            }
            Some(_) => {
                self.transition(
                    word,
                    CircuitState::Closed,
                    TransitionReason::ProbesSucceeded {
                        successes: probes.successes(),
                    },
                    now,
                );
            }
            None => {}
        }
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
        }
        self.config.store(Arc::new(config));
    }
}
