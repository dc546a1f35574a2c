#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Model-based property test: a small sequential reference model of the state machine,
//! written from the transition tables and outcome rules in README.md (not from the engine),
//! driven in lockstep with a real registry of three components and its global fuse.
//!
//! Every random sequence of acquire / record (success, failure, ignored; slow ones come from
//! advancing the clock past `slow_call_threshold` while a call is out) / drop / panic /
//! advance clock / reload (valid and invalid) / force_open / disable / reset is applied to
//! both; after every step the same permits and rejections, the same `Recorded`, the same
//! states, generations, counters, windows and timers must come out. Invariants are checked
//! on the engine alone as well: `calls = successes + failures + ignored`, rates in `[0, 1]`,
//! the generation equals the number of transitions, and every transition event is one of the
//! documented ones.
//!
//! Cases: `PROPTEST_CASES` (default 3000). Seed: `MODEL_SEED` (a number; default: fresh each
//! run, printed). A failure prints the seed and the shrunk sequence; rerun it with
//! `MODEL_SEED=<seed> cargo test --test model`.
//!
//! Interpretations the README leaves open, and what the model assumes:
//! - The window's buckets are `rolling_window / window_buckets` wide, counted from the
//!   registry's creation; an outcome is in the window while fewer than `window_buckets`
//!   bucket widths separate its bucket from the current one (buckets "drop out one at a
//!   time"). Outcomes count at the time they are recorded.
//! - A reload that changes the bucket width or count re-buckets the window (README, "Config"):
//!   each outcome still inside the old window moves to the new bucket holding its old
//!   bucket's midpoint, or to the current bucket if that midpoint is still ahead, never to one
//!   before the episode began; those that land outside the new window leave it. Lifetime
//!   totals keep everything.
//! - `sample_weighting = count` (README, "The count window"): the window is the last
//!   `window_calls` outcomes of the episode, whatever their age, and `min_calls` asks for at
//!   most `window_calls` of them. The time window is not written meanwhile. A reload that
//!   switches to a count window or changes `window_calls` starts it empty; one that keeps
//!   `window_calls` keeps it; one that switches back finds the time window as it was.
//! - A call's start is read only when slow-call detection is on at admission (README: "off
//!   means one clock read per call instead of two"); it is slow if it took at least the
//!   threshold in force when it ends.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use breaker::{
    CallGuard, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, Event, FakeClock,
    GlobalCircuitBreaker, GlobalTripConditions, Outcome, Permit, Recorded, SampleWeighting,
};
use breaker_suite::EventLog;
use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

const NAMES: [&str; 3] = ["m0", "m1", "m2"];
const BUCKETS: u32 = 4;
const MS: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------------

use CircuitState::{Closed, Disabled, ForcedOpen, HalfOpen, Open};

/// Rejection reasons, in the order the snapshot reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    Open,
    HalfOpenExhausted,
    GlobalOpen,
    ForcedOpen,
}

fn reject_of(e: &CircuitError) -> Reject {
    match e {
        CircuitError::Open { .. } => Reject::Open,
        CircuitError::HalfOpenExhausted { .. } => Reject::HalfOpenExhausted,
        CircuitError::GlobalOpen { .. } => Reject::GlobalOpen,
        CircuitError::ForcedOpen { .. } => Reject::ForcedOpen,
        other => panic!("unexpected rejection {other:?}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Counted,
    Probe,
    Unmetered,
}

/// What the model remembers about an admitted call.
#[derive(Debug, Clone, Copy)]
struct MGuard {
    component: usize,
    generation: u64,
    admission: Admission,
    started: Option<u64>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Record(Outcome),
    Dropped,
    Panicked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Success,
    Failure,
    Ignored,
}

/// One outcome in the current episode's window.
#[derive(Debug, Clone, Copy)]
struct Sample {
    epoch: u64,
    failure: bool,
    slow: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WindowCounts {
    calls: u64,
    failures: u64,
    slow: u64,
}

#[derive(Debug, Clone, Default)]
struct Totals {
    successes: u64,
    failures: u64,
    ignored: u64,
    slow: u64,
    rejections: [u64; 4],
}

#[derive(Debug, Clone)]
struct MComponent {
    state: CircuitState,
    generation: u64,
    since: u64,
    open_until: u64,
    reopens: u32,
    window: Vec<Sample>,
    /// The count window's outcomes, oldest first.
    recent: Vec<Sample>,
    run: u32,
    probes_in_flight: u32,
    probe_successes: u32,
    probe_failures: u32,
    totals: Totals,
    transitions: BTreeMap<(u8, u8), u64>,
}

impl MComponent {
    fn new() -> Self {
        Self {
            state: Closed,
            generation: 0,
            since: 0,
            open_until: 0,
            reopens: 0,
            window: Vec::new(),
            recent: Vec::new(),
            run: 0,
            probes_in_flight: 0,
            probe_successes: 0,
            probe_failures: 0,
            totals: Totals::default(),
            transitions: BTreeMap::new(),
        }
    }
}

/// An episode can only decide while `HalfOpen` if a reload lowered
/// `half_open_required_successes` or `half_open_allowed_failures` below what its probes
/// already tallied. The documented behaviour (and the engine's, since the regression tests
/// below) is that the next acquire ends such an episode; `false` models the old bug, where
/// every caller was refused until `half_open_max_wait`.
const RELOAD_DECIDED_EPISODES_END_AT_NEXT_ACQUIRE: bool = true;

#[derive(Debug, Clone)]
struct Model {
    config: CircuitConfig,
    now: u64,
    components: Vec<MComponent>,
    fuse: CircuitState,
    fuse_generation: u64,
}

fn bucket_nanos(c: &CircuitConfig) -> u64 {
    (c.rolling_window.as_nanos() / u128::from(c.window_buckets)) as u64
}

/// `open_cooldown × open_backoff_multiplier^reopens`, at most `open_cooldown_max`.
fn cooldown(c: &CircuitConfig, reopens: u32) -> u64 {
    let grown =
        c.open_cooldown.as_secs_f64() * f64::from(c.open_backoff_multiplier).powi(reopens as i32);
    if grown < c.open_cooldown_max.as_secs_f64() {
        Duration::from_secs_f64(grown).as_nanos() as u64
    } else {
        c.open_cooldown_max.as_nanos() as u64
    }
}

/// The rate as the trip rules compare it: an `f32`.
fn rate(part: u64, calls: u64) -> f32 {
    if calls == 0 {
        0.0
    } else {
        (part as f64 / calls as f64) as f32
    }
}

impl Model {
    fn new(config: CircuitConfig) -> Self {
        Self {
            config,
            now: 0,
            components: (0..NAMES.len()).map(|_| MComponent::new()).collect(),
            fuse: Closed,
            fuse_generation: 0,
        }
    }

    fn epoch(&self) -> u64 {
        self.now / bucket_nanos(&self.config)
    }

    fn counting(&self) -> bool {
        self.config.sample_weighting == SampleWeighting::Count
    }

    fn window(&self, c: usize) -> WindowCounts {
        let mut w = WindowCounts::default();
        if self.counting() {
            let recent = &self.components[c].recent;
            let last = recent
                .len()
                .saturating_sub(self.config.window_calls as usize);
            for s in &recent[last..] {
                w.calls += 1;
                w.failures += u64::from(s.failure);
                w.slow += u64::from(s.slow);
            }
            return w;
        }
        let now = self.epoch();
        for s in &self.components[c].window {
            if now - s.epoch < u64::from(self.config.window_buckets) {
                w.calls += 1;
                w.failures += u64::from(s.failure);
                w.slow += u64::from(s.slow);
            }
        }
        w
    }

    /// A transition: new generation, new (empty) episode, bookkeeping per the table.
    fn transition(&mut self, c: usize, to: CircuitState) {
        let now = self.now;
        let config = self.config;
        let m = &mut self.components[c];
        let from = m.state;
        match to {
            Open => {
                if from == HalfOpen {
                    m.reopens += 1;
                }
                m.open_until = now + cooldown(&config, m.reopens);
            }
            HalfOpen => {
                m.probes_in_flight = 0;
                m.probe_successes = 0;
                m.probe_failures = 0;
            }
            Closed => m.reopens = 0,
            ForcedOpen | Disabled => {}
        }
        m.state = to;
        m.generation += 1;
        m.since = now;
        m.window.clear();
        m.recent.clear();
        m.run = 0;
        *m.transitions.entry((from as u8, to as u8)).or_default() += 1;
        if from.is_unhealthy() != to.is_unhealthy() {
            self.derive_fuse();
        }
    }

    /// The global fuse table.
    fn derive_fuse(&mut self) {
        let g = self.config.global_trip_conditions;
        let components = self.components.len() as u32;
        let unhealthy = self
            .components
            .iter()
            .filter(|m| m.state.is_unhealthy())
            .count() as u32;
        let ratio_met = components >= g.min_components
            && rate(u64::from(unhealthy), u64::from(components)) >= g.component_open_ratio;
        let calls: u64 = (0..self.components.len())
            .map(|c| self.window(c).calls)
            .sum();
        let calls_met = g.min_calls == 0 || calls >= u64::from(g.min_calls);
        match self.fuse {
            Closed if ratio_met && calls_met => {
                self.fuse = Open;
                self.fuse_generation += 1;
            }
            Open if !ratio_met => {
                self.fuse = Closed;
                self.fuse_generation += 1;
            }
            _ => {}
        }
    }

    fn reject(&mut self, c: usize, why: Reject) -> Result<MGuard, Reject> {
        self.components[c].totals.rejections[why as usize] += 1;
        Err(why)
    }

    fn admit(&self, c: usize, admission: Admission) -> Result<MGuard, Reject> {
        Ok(MGuard {
            component: c,
            generation: self.components[c].generation,
            admission,
            started: self.config.slow_call_threshold.map(|_| self.now),
        })
    }

    fn acquire(&mut self, c: usize) -> Result<MGuard, Reject> {
        let fuse_open = matches!(self.fuse, Open | ForcedOpen);
        if self.components[c].state == Open && self.now >= self.components[c].open_until {
            self.transition(c, HalfOpen);
        }
        if self.components[c].state == HalfOpen {
            if let Some(wait) = self.config.half_open_max_wait {
                if self.now - self.components[c].since >= wait.as_nanos() as u64 {
                    self.transition(c, Open);
                }
            }
        }
        if RELOAD_DECIDED_EPISODES_END_AT_NEXT_ACQUIRE && self.components[c].state == HalfOpen {
            let m = &self.components[c];
            if m.probe_failures > self.config.half_open_allowed_failures {
                self.transition(c, Open);
            } else if m.probe_successes >= self.config.half_open_required_successes {
                self.transition(c, Closed);
            }
        }
        let m = &self.components[c];
        match m.state {
            Closed if fuse_open => self.reject(c, Reject::GlobalOpen),
            Closed => self.admit(c, Admission::Counted),
            Disabled => self.admit(c, Admission::Unmetered),
            ForcedOpen => self.reject(c, Reject::ForcedOpen),
            Open => self.reject(c, Reject::Open),
            HalfOpen => {
                let decided = m.probe_successes >= self.config.half_open_required_successes
                    || m.probe_failures > self.config.half_open_allowed_failures;
                if decided || m.probes_in_flight >= self.config.half_open_max_concurrent {
                    self.reject(c, Reject::HalfOpenExhausted)
                } else {
                    self.components[c].probes_in_flight += 1;
                    self.admit(c, Admission::Probe)
                }
            }
        }
    }

    fn finish(&mut self, g: MGuard, end: End) -> Recorded {
        let c = g.component;
        let slow = match (g.started, self.config.slow_call_threshold) {
            (Some(started), Some(threshold)) => self.now - started >= threshold.as_nanos() as u64,
            _ => false,
        };
        let kind = match end {
            End::Record(Outcome::Success) => Kind::Success,
            End::Record(Outcome::Failure) | End::Panicked => Kind::Failure,
            End::Record(Outcome::Ignored) => Kind::Ignored,
            End::Dropped if slow => Kind::Failure,
            End::Dropped => Kind::Ignored,
        };
        let slow = slow && kind != Kind::Ignored;
        let epoch = self.epoch();
        let m = &mut self.components[c];
        match kind {
            Kind::Success => m.totals.successes += 1,
            Kind::Failure => m.totals.failures += 1,
            Kind::Ignored => m.totals.ignored += 1,
        }
        m.totals.slow += u64::from(slow);
        if g.generation != m.generation {
            return Recorded::Stale;
        }
        if kind != Kind::Ignored {
            let sample = Sample {
                epoch,
                failure: kind == Kind::Failure,
                slow,
            };
            if self.config.sample_weighting == SampleWeighting::Count {
                m.recent.push(sample);
            } else {
                m.window.push(sample);
            }
        }
        match g.admission {
            Admission::Unmetered => {}
            Admission::Counted => match kind {
                Kind::Success => {
                    m.run = 0;
                    if slow {
                        self.evaluate(c, 0);
                    }
                }
                Kind::Failure => {
                    m.run += 1;
                    let run = m.run;
                    self.evaluate(c, run);
                }
                Kind::Ignored => {}
            },
            Admission::Probe => {
                m.probes_in_flight -= 1;
                match kind {
                    Kind::Success if !slow => m.probe_successes += 1,
                    Kind::Success | Kind::Failure => m.probe_failures += 1,
                    Kind::Ignored => {}
                }
                if m.probe_failures > self.config.half_open_allowed_failures {
                    self.transition(c, Open);
                } else if m.probe_successes >= self.config.half_open_required_successes {
                    self.transition(c, Closed);
                }
            }
        }
        Recorded::Counted
    }

    /// The Closed -> Open rules, checked when a failure or a slow call is recorded.
    fn evaluate(&mut self, c: usize, run: u32) {
        let config = self.config;
        if config
            .consecutive_failures_threshold
            .is_some_and(|t| run >= t)
        {
            return self.transition(c, Open);
        }
        let w = self.window(c);
        let min_calls = if self.counting() {
            config.min_calls.min(u32::from(config.window_calls))
        } else {
            config.min_calls
        };
        if w.calls < u64::from(min_calls) {
            return;
        }
        if rate(w.failures, w.calls) >= config.error_rate_threshold
            || (config.slow_call_threshold.is_some()
                && rate(w.slow, w.calls) >= config.slow_call_rate_threshold)
        {
            self.transition(c, Open);
        }
    }

    fn reload(&mut self, config: CircuitConfig) {
        let (w, n) = (
            bucket_nanos(&self.config),
            u64::from(self.config.window_buckets),
        );
        let (w2, n2) = (bucket_nanos(&config), u64::from(config.window_buckets));
        if (w, n) != (w2, n2) {
            let now = self.now;
            for m in &mut self.components {
                m.window.retain(|s| now / w - s.epoch < n);
                for s in &mut m.window {
                    let midpoint = s.epoch * w + w / 2;
                    s.epoch = (midpoint / w2).clamp(m.since / w2, now / w2);
                }
                m.window.retain(|s| now / w2 - s.epoch < n2);
            }
        }
        let count = SampleWeighting::Count;
        if config.sample_weighting == count
            && (self.config.sample_weighting != count
                || self.config.window_calls != config.window_calls)
        {
            for m in &mut self.components {
                m.recent.clear();
            }
        }
        self.config = config;
        self.derive_fuse();
    }

    fn force_open(&mut self, c: usize) {
        if self.components[c].state != ForcedOpen {
            self.transition(c, ForcedOpen);
        }
    }

    fn disable(&mut self, c: usize) {
        if self.components[c].state != Disabled {
            self.transition(c, Disabled);
        }
    }

    fn reset(&mut self, c: usize) {
        self.transition(c, Closed);
    }
}

// ---------------------------------------------------------------------------------------------
// Operations and their generators.
// ---------------------------------------------------------------------------------------------

/// Ways to break a config on reload.
#[derive(Debug, Clone, Copy)]
enum Bad {
    MinCallsZero,
    NanThreshold,
    ZeroBuckets,
    ZeroWindowCalls,
}

#[derive(Debug, Clone)]
enum Op {
    Acquire(usize),
    /// Ends the `i % len`-th outstanding call.
    End(usize, End),
    AdvanceMs(u64),
    Reload(CircuitConfig),
    ReloadInvalid(Bad),
    ForceOpen(usize),
    Disable(usize),
    Reset(usize),
}

fn config_strategy() -> impl Strategy<Value = CircuitConfig> {
    let thresholds = (
        prop_oneof![Just(4u64), Just(8)],
        1u32..=4,
        prop_oneof![Just(0.25f32), Just(0.5), Just(2.0 / 3.0), Just(1.0)],
        prop_oneof![Just(None), Just(Some(1u32)), Just(Some(2)), Just(Some(3))],
        prop_oneof![Just(None), Just(Some(2u64))],
        prop_oneof![Just(0.5f32), Just(1.0)],
    );
    let timers = (
        1u64..=3,
        prop_oneof![Just(1.0f32), Just(1.5), Just(2.0)],
        prop_oneof![Just(4u64), Just(9)],
        prop_oneof![Just(None), Just(Some(4u64)), Just(Some(7))],
    );
    let half_open = (1u32..=3, 1u32..=3, 0u32..=2);
    let fuse = (
        prop_oneof![Just(1.0f32 / 3.0), Just(0.5), Just(1.0)],
        1u32..=4,
        prop_oneof![3 => Just(0u32), 1 => Just(3)],
    );
    // Reloads change the bucket count as well as the width: the window is re-bucketed.
    let buckets = prop_oneof![2 => Just(BUCKETS), 1 => Just(2u32), 1 => Just(8)];
    // A third of the configs judge by the last 3, 5 or 8 calls instead.
    let counting =
        prop_oneof![6 => Just(None), 1 => Just(Some(3u16)), 1 => Just(Some(5)), 1 => Just(Some(8))];
    (thresholds, timers, half_open, fuse, buckets, counting).prop_map(
        |(
            (window, min_calls, error_rate, consecutive, slow, slow_rate),
            (cooldown, multiplier, cooldown_max, max_wait),
            (max_concurrent, required, allowed),
            (ratio, min_components, fuse_calls),
            buckets,
            counting,
        )| CircuitConfig {
            rolling_window: Duration::from_secs(window),
            window_buckets: buckets,
            min_calls,
            error_rate_threshold: error_rate,
            consecutive_failures_threshold: consecutive,
            slow_call_threshold: slow.map(Duration::from_secs),
            slow_call_rate_threshold: slow_rate,
            open_cooldown: Duration::from_secs(cooldown),
            open_backoff_multiplier: multiplier,
            open_cooldown_max: Duration::from_secs(cooldown_max),
            half_open_max_concurrent: max_concurrent,
            half_open_required_successes: required.min(max_concurrent),
            half_open_allowed_failures: allowed,
            half_open_max_wait: max_wait.map(Duration::from_secs),
            sample_weighting: if counting.is_some() {
                SampleWeighting::Count
            } else {
                SampleWeighting::Sliding
            },
            exponential_half_life: Duration::from_secs(5),
            window_calls: counting.unwrap_or(100),
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: ratio,
                min_components,
                min_calls: fuse_calls,
            },
        },
    )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    // Most steps go to the first component, so its episodes get deep; the other two are
    // there for the global fuse.
    let component = prop_oneof![4 => Just(0usize), 1 => Just(1), 1 => Just(2)];
    let end = prop_oneof![
        4 => Just(End::Record(Outcome::Success)),
        4 => Just(End::Record(Outcome::Failure)),
        1 => Just(End::Record(Outcome::Ignored)),
        1 => Just(End::Dropped),
        1 => Just(End::Panicked),
    ];
    let advance = prop_oneof![1u64..=1500, Just(1000), Just(2000), 2500u64..=12_000];
    let invalid = prop_oneof![
        Just(Bad::MinCallsZero),
        Just(Bad::NanThreshold),
        Just(Bad::ZeroBuckets),
        Just(Bad::ZeroWindowCalls)
    ];
    prop_oneof![
        24 => component.clone().prop_map(Op::Acquire),
        24 => (any::<usize>(), end).prop_map(|(i, e)| Op::End(i, e)),
        10 => advance.prop_map(Op::AdvanceMs),
        2 => config_strategy().prop_map(Op::Reload),
        1 => invalid.prop_map(Op::ReloadInvalid),
        1 => component.clone().prop_map(Op::ForceOpen),
        1 => component.clone().prop_map(Op::Disable),
        2 => component.prop_map(Op::Reset),
    ]
}

fn case_strategy() -> impl Strategy<Value = (CircuitConfig, Vec<Op>)> {
    (
        config_strategy(),
        prop::collection::vec(op_strategy(), 1..80),
    )
}

// ---------------------------------------------------------------------------------------------
// The engine side, and the lockstep comparison.
// ---------------------------------------------------------------------------------------------

struct Engine {
    clock: FakeClock,
    registry: GlobalCircuitBreaker,
    components: Vec<Arc<ComponentBreaker>>,
    log: EventLog,
}

impl Engine {
    fn new(config: CircuitConfig) -> Self {
        let clock = FakeClock::new();
        let log = EventLog::default();
        let registry = GlobalCircuitBreaker::builder()
            .config(config)
            .clock(clock.clone())
            .on_event(log.hook())
            .build()
            .unwrap();
        let components = NAMES
            .iter()
            .map(|n| registry.register(n).unwrap())
            .collect();
        Self {
            clock,
            registry,
            components,
            log,
        }
    }
}

/// The documented transitions of a component, with their reasons (README: the state machine).
fn documented(t: &breaker::Transition) -> bool {
    use breaker::TransitionReason as R;
    match (t.from, t.to) {
        (Closed, Open) => matches!(
            t.reason,
            R::ErrorRate { .. } | R::SlowCallRate { .. } | R::ConsecutiveFailures { .. }
        ),
        (Open, HalfOpen) => t.reason == R::CooldownElapsed,
        (HalfOpen, Open) => matches!(t.reason, R::ProbesFailed { .. } | R::HalfOpenTimeout),
        (HalfOpen, Closed) => matches!(t.reason, R::ProbesSucceeded { .. } | R::Reset),
        (_, Closed) => t.reason == R::Reset,
        (from, ForcedOpen) => from != ForcedOpen && t.reason == R::ForcedOpen,
        (from, Disabled) => from != Disabled && t.reason == R::Disabled,
        _ => false,
    }
}

fn end_engine(guard: CallGuard<'static>, end: End) -> Recorded {
    match end {
        End::Record(outcome) => guard.record(outcome),
        End::Dropped => {
            // What a drop records is checked through the counters.
            drop(guard);
            Recorded::Counted
        }
        End::Panicked => {
            let result = catch_unwind(AssertUnwindSafe(move || {
                let _guard = guard;
                // Unwinds without running the panic hook: no noise in the test output.
                resume_unwind(Box::new("the call panicked"));
            }));
            let payload = result.expect_err("the call panics");
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"the call panicked"));
            Recorded::Counted
        }
    }
}

fn compare(model: &Model, engine: &Engine, step: usize) -> Result<(), TestCaseError> {
    let now = model.now;
    for (c, b) in engine.components.iter().enumerate() {
        let m = &model.components[c];
        let s = b.snapshot();
        let at = format!("step {step}, component {}", NAMES[c]);
        // Invariants of the engine alone.
        prop_assert_eq!(s.calls, s.successes + s.failures + s.ignored, "{}", at);
        prop_assert!(
            (0.0..=1.0).contains(&s.window.error_rate),
            "{}: {:?}",
            at,
            s.window
        );
        prop_assert!(
            (0.0..=1.0).contains(&s.window.slow_call_rate),
            "{}: {:?}",
            at,
            s.window
        );
        prop_assert!(s.window.failures <= s.window.calls, "{}", at);
        prop_assert!(s.slow_calls <= s.successes + s.failures, "{}", at);
        let transitions: u64 = s.transitions.iter().map(|t| t.count).sum();
        prop_assert_eq!(s.generation, transitions, "{}", at);
        // Agreement with the model.
        prop_assert_eq!(s.state, m.state, "{}", at);
        prop_assert_eq!(s.generation, m.generation, "{}", at);
        prop_assert_eq!(s.successes, m.totals.successes, "{}", at);
        prop_assert_eq!(s.failures, m.totals.failures, "{}", at);
        prop_assert_eq!(s.ignored, m.totals.ignored, "{}", at);
        prop_assert_eq!(s.slow_calls, m.totals.slow, "{}", at);
        let r = s.rejections;
        prop_assert_eq!(
            [r.open, r.half_open_exhausted, r.global_open, r.forced_open],
            m.totals.rejections,
            "{}",
            at
        );
        let w = model.window(c);
        prop_assert_eq!(
            (s.window.calls, s.window.failures, s.window.slow_calls),
            (w.calls, w.failures, w.slow),
            "{}: window",
            at
        );
        prop_assert_eq!(s.consecutive_failures, m.run, "{}: failure run", at);
        let in_flight = if m.state == HalfOpen {
            m.probes_in_flight
        } else {
            0
        };
        prop_assert_eq!(s.half_open_in_flight, in_flight, "{}", at);
        prop_assert_eq!(
            s.time_in_state,
            Duration::from_nanos(now - m.since),
            "{}",
            at
        );
        let retry =
            (m.state == Open).then(|| Duration::from_nanos(m.open_until.saturating_sub(now)));
        prop_assert_eq!(s.retry_after, retry, "{}: retry_after", at);
        let counts: BTreeMap<(u8, u8), u64> = s
            .transitions
            .iter()
            .map(|t| ((t.from as u8, t.to as u8), t.count))
            .collect();
        prop_assert_eq!(&counts, &m.transitions, "{}: transition counts", at);
    }
    let fuse = engine.registry.global().snapshot();
    prop_assert_eq!(fuse.state, model.fuse, "step {}: global fuse", step);
    prop_assert_eq!(
        fuse.generation,
        model.fuse_generation,
        "step {}: fuse generation",
        step
    );
    let unhealthy = model
        .components
        .iter()
        .filter(|m| m.state.is_unhealthy())
        .count();
    prop_assert_eq!(
        engine.registry.snapshot().unhealthy as usize,
        unhealthy,
        "step {}",
        step
    );
    Ok(())
}

fn run_case(config: &CircuitConfig, ops: &[Op]) -> Result<(), TestCaseError> {
    let engine = Engine::new(*config);
    let mut model = Model::new(*config);
    let mut outstanding: Vec<(CallGuard<'static>, MGuard)> = Vec::new();
    compare(&model, &engine, 0)?;
    for (step, op) in ops.iter().enumerate() {
        let step = step + 1;
        match *op {
            Op::Acquire(c) => {
                let expected = model.acquire(c);
                let permit = engine.components[c].acquire_owned();
                match (permit, expected) {
                    (Permit::Allowed(guard), Ok(m)) => {
                        prop_assert_eq!(
                            guard.is_probe(),
                            m.admission == Admission::Probe,
                            "step {}: probe",
                            step
                        );
                        outstanding.push((guard, m));
                    }
                    (Permit::Rejected(e), Err(why)) => {
                        prop_assert_eq!(reject_of(&e), why, "step {}", step);
                        prop_assert_eq!(e.component(), NAMES[c]);
                    }
                    (permit, expected) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step}: engine {permit:?}, model {expected:?}"
                        )))
                    }
                }
            }
            Op::End(i, end) => {
                if !outstanding.is_empty() {
                    let (guard, m) = outstanding.remove(i % outstanding.len());
                    let expected = model.finish(m, end);
                    let recorded = end_engine(guard, end);
                    if matches!(end, End::Record(_)) {
                        prop_assert_eq!(recorded, expected, "step {}", step);
                    }
                }
            }
            Op::AdvanceMs(ms) => {
                model.now += ms * MS;
                engine.clock.advance(Duration::from_millis(ms));
            }
            Op::Reload(config) => {
                model.reload(config);
                engine.registry.reload(config).unwrap();
            }
            Op::ReloadInvalid(bad) => {
                let mut config = model.config;
                let field = match bad {
                    Bad::MinCallsZero => {
                        config.min_calls = 0;
                        "min_calls"
                    }
                    Bad::NanThreshold => {
                        config.error_rate_threshold = f32::NAN;
                        "error_rate_threshold"
                    }
                    Bad::ZeroBuckets => {
                        config.window_buckets = 0;
                        "window_buckets"
                    }
                    Bad::ZeroWindowCalls => {
                        config.window_calls = 0;
                        "window_calls"
                    }
                };
                let refused = engine.registry.reload(config);
                prop_assert_eq!(refused.map_err(|e| e.field()), Err(field));
                prop_assert_eq!(engine.registry.config(), model.config);
            }
            Op::ForceOpen(c) => {
                model.force_open(c);
                engine.components[c].force_open();
            }
            Op::Disable(c) => {
                model.disable(c);
                engine.components[c].disable();
            }
            Op::Reset(c) => {
                model.reset(c);
                engine.components[c].reset();
            }
        }
        compare(&model, &engine, step)?;
    }
    // Only documented transitions, each announced once.
    let transitions = engine.log.transitions();
    for t in &transitions {
        if t.component == breaker::GLOBAL {
            prop_assert!(
                matches!((t.from, t.to), (Closed, Open) | (Open, Closed))
                    && matches!(t.reason, breaker::TransitionReason::GlobalRatio { .. }),
                "fuse {:?}",
                t
            );
        } else {
            prop_assert!(documented(t), "undocumented transition {:?}", t);
        }
    }
    let announced = transitions
        .iter()
        .filter(|t| t.component != breaker::GLOBAL)
        .count() as u64;
    let counted: u64 = model.components.iter().map(|m| m.generation).sum();
    prop_assert_eq!(announced, counted);
    let reloads = engine
        .log
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::ConfigReloaded { .. } | Event::ConfigRefused { .. }
            )
        })
        .count();
    let expected_reloads = ops
        .iter()
        .filter(|op| matches!(op, Op::Reload(_) | Op::ReloadInvalid(_)))
        .count();
    prop_assert_eq!(reloads, expected_reloads);
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn seed() -> u64 {
    match std::env::var("MODEL_SEED") {
        Ok(v) => v.parse().expect("MODEL_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    }
}

fn runner(seed: u64, cases: u32) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = ProptestConfig {
        cases,
        // Shrinking a 60-step sequence takes a few thousand runs at most.
        max_shrink_iters: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

#[test]
fn engine_agrees_with_the_reference_model() {
    let seed = seed();
    let cases = cases();
    let started = Instant::now();
    let mut runner = runner(seed, cases);
    let result = runner.run(&case_strategy(), |(config, ops)| run_case(&config, &ops));
    eprintln!(
        "model: {cases} cases, seed {seed}, {:.2?}",
        started.elapsed()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (config, ops))) => {
            let report = format!(
                "the engine and the model disagree: {reason}\n\
                 rerun with MODEL_SEED={seed} PROPTEST_CASES={cases}\n\
                 config: {config:#?}\nops ({}): {ops:#?}\n",
                ops.len()
            );
            // Kept for CI artifacts: the seed and the shrunk case.
            let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("model-failures.txt");
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
            {
                use std::io::Write as _;
                let _ = writeln!(file, "{report}");
            }
            panic!("{report}(also appended to {})", path.display())
        }
        Err(e) => panic!("MODEL_SEED={seed}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: sequences the model turned up, minimised.
// ---------------------------------------------------------------------------------------------

/// A registry with one component `r` that has tripped, cooled down, and had `successes`
/// successful and `failures` failed probes (3 slots, 3 successes required, 1 failure
/// allowed, no `half_open_max_wait`). No probe is in flight.
fn half_open_with(successes: u32, failures: u32) -> (GlobalCircuitBreaker, Arc<ComponentBreaker>) {
    let clock = FakeClock::new();
    let config = CircuitConfig {
        min_calls: 1,
        open_cooldown: Duration::from_secs(1),
        half_open_max_concurrent: 3,
        half_open_required_successes: 3,
        half_open_allowed_failures: 1,
        half_open_max_wait: None,
        ..CircuitConfig::DEFAULT
    };
    let registry = GlobalCircuitBreaker::builder()
        .config(config)
        .clock(clock.clone())
        .build()
        .unwrap();
    let b = registry.register("r").unwrap();
    b.acquire().into_result().unwrap().record(Outcome::Failure);
    clock.advance(Duration::from_secs(1));
    for outcome in std::iter::repeat_n(Outcome::Success, successes as usize)
        .chain(std::iter::repeat_n(Outcome::Failure, failures as usize))
    {
        b.acquire().into_result().unwrap().record(outcome);
    }
    assert_eq!(b.state(), HalfOpen);
    assert_eq!(b.snapshot().half_open_in_flight, 0);
    (registry, b)
}

/// README: HalfOpen -> Closed once `half_open_required_successes` probes succeeded, and "a
/// changed threshold applies at the next evaluation".
///
/// Regression (found by the model): a reload that lowered `half_open_required_successes` to
/// the successes already tallied, while no probe was in flight, wedged the breaker: every
/// call was refused with `HalfOpenExhausted` until `half_open_max_wait`, or forever without
/// it, because only a finishing probe acted on the decision. The next acquire now does.
#[test]
fn a_reload_that_decides_a_half_open_episode_closes_it() {
    let (registry, b) = half_open_with(2, 0);
    let config = CircuitConfig {
        half_open_required_successes: 2,
        ..registry.config()
    };
    registry.reload(config).unwrap();
    let permit = b.acquire();
    assert!(
        permit.is_allowed() && b.state() == Closed,
        "two of two required probes succeeded, yet: {permit:?}, {:?}",
        b.state()
    );
}

/// The same with `half_open_allowed_failures` lowered below the failures already tallied:
/// the episode has failed, so the breaker must re-open (and later probe again), not refuse
/// everyone for ever.
#[test]
fn a_reload_that_fails_a_half_open_episode_reopens_it() {
    let (registry, b) = half_open_with(0, 1);
    let config = CircuitConfig {
        half_open_allowed_failures: 0,
        ..registry.config()
    };
    registry.reload(config).unwrap();
    let permit = b.acquire();
    assert!(
        matches!(&permit, Permit::Rejected(CircuitError::Open { .. })) && b.state() == Open,
        "one failed probe with none allowed, yet: {permit:?}, {:?}",
        b.state()
    );
}
