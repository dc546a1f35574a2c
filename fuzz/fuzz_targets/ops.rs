//! Random operation sequences on a registry of a few components: acquire, record, drop,
//! panic, advance the clock, reload (arbitrary, often invalid, configs), force, disable,
//! reset, register, snapshot, also on the global fuse.
//!
//! Checks: nothing panics or hangs; counts are conserved (`calls = successes + failures +
//! ignored`; every admitted call is counted once and every rejection once); rates stay in
//! [0, 1]; the generation equals the transitions counted; a half-open breaker never has more
//! probes in flight than were admitted and not yet ended, and none once every guard is gone.
#![no_main]

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CallGuard, CircuitConfig, CircuitState, ComponentBreaker, FakeClock, GlobalCircuitBreaker,
    GlobalTripConditions, Outcome, Permit, SampleWeighting,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 4] = ["f0", "f1", "f2", "f3"];

/// A config: raw arbitrary values (mostly invalid, to exercise refusal) or the same bytes
/// folded into the valid ranges (to exercise the state machine).
#[derive(Debug, Arbitrary)]
struct ArbConfig {
    raw: bool,
    rolling_window_ms: u32,
    min_calls: u8,
    error_rate: f32,
    consecutive: Option<u8>,
    slow_ms: Option<u16>,
    slow_rate: f32,
    cooldown_ms: u32,
    multiplier: f32,
    cooldown_max_ms: u32,
    max_concurrent: u8,
    required: u8,
    allowed: u8,
    max_wait_ms: Option<u32>,
    exponential: bool,
    half_life_ms: u32,
    ratio: f32,
    min_components: u8,
    fuse_calls: u8,
}

/// A ratio in (0, 1] from any float.
fn unit(v: f32) -> f32 {
    let r = if v.is_finite() { v.abs().fract() } else { 1.0 };
    if r == 0.0 {
        1.0
    } else {
        r
    }
}

impl ArbConfig {
    fn config(&self) -> CircuitConfig {
        if self.raw {
            self.raw_config()
        } else {
            self.valid_config()
        }
    }

    fn raw_config(&self) -> CircuitConfig {
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        CircuitConfig {
            rolling_window: ms(self.rolling_window_ms),
            window_buckets: 4,
            min_calls: u32::from(self.min_calls),
            error_rate_threshold: self.error_rate,
            consecutive_failures_threshold: self.consecutive.map(u32::from),
            slow_call_threshold: self.slow_ms.map(|v| ms(u32::from(v))),
            slow_call_rate_threshold: self.slow_rate,
            open_cooldown: ms(self.cooldown_ms),
            open_backoff_multiplier: self.multiplier,
            open_cooldown_max: ms(self.cooldown_max_ms),
            half_open_max_concurrent: u32::from(self.max_concurrent),
            half_open_required_successes: u32::from(self.required),
            half_open_allowed_failures: u32::from(self.allowed),
            half_open_max_wait: self.max_wait_ms.map(ms),
            sample_weighting: if self.exponential {
                SampleWeighting::Exponential
            } else {
                SampleWeighting::Sliding
            },
            exponential_half_life: ms(self.half_life_ms),
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: self.ratio,
                min_components: u32::from(self.min_components),
                min_calls: u64::from(self.fuse_calls),
            },
        }
    }

    fn valid_config(&self) -> CircuitConfig {
        let ms = |v: u32| Duration::from_millis(u64::from(v));
        let cooldown = 1 + self.cooldown_ms % 5_000;
        let max_concurrent = 1 + u32::from(self.max_concurrent) % 5;
        let config = CircuitConfig {
            rolling_window: ms(4 * (1 + self.rolling_window_ms % 5_000)),
            min_calls: 1 + u32::from(self.min_calls) % 10,
            consecutive_failures_threshold: self.consecutive.map(|v| 1 + u32::from(v) % 6),
            slow_call_threshold: self.slow_ms.map(|v| ms(1 + u32::from(v) % 3_000)),
            open_cooldown: ms(cooldown),
            open_backoff_multiplier: 1.0 + unit(self.multiplier) * 3.0,
            open_cooldown_max: ms(cooldown + self.cooldown_max_ms % 20_000),
            half_open_max_concurrent: max_concurrent,
            half_open_required_successes: 1 + u32::from(self.required) % max_concurrent,
            half_open_allowed_failures: u32::from(self.allowed) % 3,
            half_open_max_wait: self.max_wait_ms.map(|v| ms(1 + v % 20_000)),
            exponential_half_life: ms(1 + self.half_life_ms % 20_000),
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: unit(self.ratio),
                min_components: 1 + u32::from(self.min_components) % 5,
                min_calls: u64::from(self.fuse_calls % 8),
            },
            error_rate_threshold: unit(self.error_rate),
            slow_call_rate_threshold: unit(self.slow_rate),
            ..self.raw_config()
        };
        debug_assert!(config.validate().is_ok(), "{config:?}");
        config
    }
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum End {
    Success,
    Failure,
    Ignored,
    Dropped,
    Panicked,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Acquire(u8),
    AcquireByName(u8),
    End(u8, End),
    AdvanceMs(u16),
    AdvanceNanos(u64),
    Reload(ArbConfig),
    ReloadComponent(u8, ArbConfig),
    ForceOpen(u8),
    Disable(u8),
    Reset(u8),
    ForceGlobal,
    DisableGlobal,
    ResetGlobal,
    Register(u8),
    Snapshot,
}

#[derive(Debug, Arbitrary)]
struct Input {
    initial: ArbConfig,
    ops: Vec<Op>,
}

#[derive(Default, Clone, Copy)]
struct Count {
    admitted: u64,
    rejected: u64,
}

fn check(b: &ComponentBreaker, count: Count, outstanding: u64, outstanding_probes: u32) {
    let s = b.snapshot();
    assert_eq!(s.calls, s.successes + s.failures + s.ignored);
    // Every admitted call is counted once it ends; the others are still out.
    assert_eq!(s.calls + outstanding, count.admitted, "{s:?}");
    assert_eq!(s.rejections.total(), count.rejected);
    assert!((0.0..=1.0).contains(&s.window.error_rate), "{s:?}");
    assert!((0.0..=1.0).contains(&s.window.slow_call_rate), "{s:?}");
    assert!(s.window.failures <= s.window.calls);
    let transitions: u64 = s.transitions.iter().map(|t| t.count).sum();
    assert_eq!(s.generation, transitions);
    if s.state == CircuitState::HalfOpen {
        assert!(s.half_open_in_flight <= outstanding_probes, "{s:?}");
    } else {
        assert_eq!(s.half_open_in_flight, 0);
    }
}

fuzz_target!(|input: Input| {
    let clock = FakeClock::new();
    let Ok(registry) = GlobalCircuitBreaker::builder()
        .config(input.initial.config())
        .clock(clock.clone())
        .build()
    else {
        return;
    };
    let mut breakers: Vec<Option<Arc<ComponentBreaker>>> = vec![None; NAMES.len()];
    breakers[0] = Some(registry.register(NAMES[0]).unwrap());
    let mut counts = [Count::default(); NAMES.len()];
    let mut held: Vec<(usize, bool, CallGuard<'static>)> = Vec::new();

    for op in input.ops.iter().take(300) {
        match op {
            Op::Acquire(c) | Op::AcquireByName(c) => {
                let c = usize::from(*c) % NAMES.len();
                let Some(b) = &breakers[c] else { continue };
                let permit = if matches!(op, Op::Acquire(_)) {
                    b.acquire_owned()
                } else {
                    // By name: the guard holds the registry's Arc, then ends at once.
                    match breaker::Breaker::acquire(&registry, NAMES[c]) {
                        Permit::Allowed(g) => {
                            counts[c].admitted += 1;
                            g.record(Outcome::Ignored);
                            continue;
                        }
                        Permit::Rejected(_) => {
                            counts[c].rejected += 1;
                            continue;
                        }
                    }
                };
                match permit {
                    Permit::Allowed(g) => {
                        counts[c].admitted += 1;
                        let probe = g.is_probe();
                        held.push((c, probe, g));
                    }
                    Permit::Rejected(_) => counts[c].rejected += 1,
                }
            }
            Op::End(i, end) => {
                if held.is_empty() {
                    continue;
                }
                let (_, _, g) = held.remove(usize::from(*i) % held.len());
                match end {
                    End::Success => drop(g.record(Outcome::Success)),
                    End::Failure => drop(g.record(Outcome::Failure)),
                    End::Ignored => drop(g.record(Outcome::Ignored)),
                    End::Dropped => drop(g),
                    End::Panicked => {
                        let r = catch_unwind(AssertUnwindSafe(move || {
                            let _g = g;
                            resume_unwind(Box::new("fuzz"));
                        }));
                        assert!(r.is_err());
                    }
                }
            }
            Op::AdvanceMs(ms) => clock.advance(Duration::from_millis(u64::from(*ms))),
            Op::AdvanceNanos(n) => clock.advance(Duration::from_nanos(*n)),
            Op::Reload(config) => {
                let config = config.config();
                let expected = config.validate().is_ok();
                assert_eq!(registry.reload(config).is_ok(), expected);
            }
            Op::ReloadComponent(c, config) => {
                let c = usize::from(*c) % NAMES.len();
                let config = config.config();
                let result = registry.reload_component(NAMES[c], config);
                if breakers[c].is_none() {
                    assert!(result.is_err());
                } else {
                    assert_eq!(result.is_ok(), config.validate().is_ok());
                }
            }
            Op::ForceOpen(c) | Op::Disable(c) | Op::Reset(c) | Op::Register(c) => {
                let c = usize::from(*c) % NAMES.len();
                if let Op::Register(_) = op {
                    breakers[c] = Some(registry.register(NAMES[c]).unwrap());
                    continue;
                }
                let Some(b) = &breakers[c] else { continue };
                match op {
                    Op::ForceOpen(_) => b.force_open(),
                    Op::Disable(_) => b.disable(),
                    _ => b.reset(),
                }
            }
            Op::ForceGlobal => registry.global().force_open(),
            Op::DisableGlobal => registry.global().disable(),
            Op::ResetGlobal => registry.global().reset(),
            Op::Snapshot => {
                let snap = registry.snapshot();
                let unhealthy = snap
                    .components
                    .iter()
                    .filter(|c| c.state.is_unhealthy())
                    .count() as u32;
                assert_eq!(snap.unhealthy, unhealthy);
            }
        }
        for (c, b) in breakers.iter().enumerate() {
            if let Some(b) = b {
                let mine = held.iter().filter(|(h, _, _)| *h == c);
                let probes = mine.clone().filter(|(_, p, _)| *p).count() as u32;
                check(b, counts[c], mine.count() as u64, probes);
            }
        }
    }
    drop(held);
    for (c, b) in breakers.iter().enumerate() {
        if let Some(b) = b {
            check(b, counts[c], 0, 0);
        }
    }
});
