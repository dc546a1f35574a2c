//! How the window's buckets are weighted when the rates are computed: the strategy behind
//! [`SampleWeighting`](crate::SampleWeighting).

use serde::Serialize;

/// The window folded into what the trip rules compare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WindowStats {
    /// Calls in the window, unweighted (ignored calls excluded); `min_calls` compares this.
    pub calls: u64,
    /// Failed calls in the window, unweighted.
    pub failures: u64,
    /// Slow calls in the window, unweighted.
    pub slow_calls: u64,
    /// `failures / calls` under the weighting, in `[0, 1]` (0 for an empty window).
    pub error_rate: f32,
    /// `slow calls / calls` under the weighting, in `[0, 1]` (0 for an empty window).
    pub slow_call_rate: f32,
}

impl WindowStats {
    /// The stats of `calls` calls with every weight 1: the rates as [`Fold`] computes them
    /// (the same `f64` division), so both give the same bits.
    #[inline]
    pub(crate) fn unweighted(calls: u64, failures: u64, slow_calls: u64) -> Self {
        // Below 2^63 a signed conversion rounds exactly as the unsigned one (one instruction
        // instead of several); no count gets near 2^63.
        let float = |n: u64| i64::try_from(n).map_or(n as f64, |n| n as f64);
        let rate = |part: u64| {
            if part == 0 || calls == 0 {
                0.0
            } else {
                ((float(part) / float(calls)) as f32).clamp(0.0, 1.0)
            }
        };
        Self {
            calls,
            failures,
            slow_calls,
            error_rate: rate(failures),
            slow_call_rate: rate(slow_calls),
        }
    }
}

/// Weighs a bucket by its age when the window is folded into rates. The buckets themselves
/// are the same for every strategy, so switching strategy (even on reload) loses nothing.
pub trait WindowStrategy: Send + Sync {
    /// The weight of a bucket `age` bucket widths old (0 = the current bucket). Only buckets
    /// inside the window are asked about. `half_life` is the configured
    /// `exponential_half_life` in bucket widths; strategies that do not decay ignore it.
    fn weight(&self, age: u64, half_life: f64) -> f64;
}

/// Every bucket in the window weighs 1.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sliding;

/// A bucket `age` widths old weighs `0.5^(age / half_life)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exponential;

impl WindowStrategy for Sliding {
    fn weight(&self, _age: u64, _half_life: f64) -> f64 {
        1.0
    }
}

impl WindowStrategy for Exponential {
    fn weight(&self, age: u64, half_life: f64) -> f64 {
        if half_life > 0.0 {
            0.5f64.powf(age as f64 / half_life)
        } else {
            f64::from(u8::from(age == 0))
        }
    }
}

/// Accumulates weighted bucket counts into [`WindowStats`].
#[derive(Debug, Default)]
pub(crate) struct Fold {
    stats: WindowStats,
    calls: f64,
    failures: f64,
    slow: f64,
}

impl Fold {
    pub(crate) fn add(&mut self, weight: f64, successes: u64, failures: u64, slow: u64) {
        let calls = successes + failures;
        self.stats.calls += calls;
        self.stats.failures += failures;
        self.stats.slow_calls += slow;
        self.calls += weight * calls as f64;
        self.failures += weight * failures as f64;
        self.slow += weight * slow as f64;
    }

    pub(crate) fn finish(mut self) -> WindowStats {
        if self.calls > 0.0 {
            // Rounding the f64 ratio to f32 makes `3 / 10` equal the literal `0.3f32`, so an
            // inclusive threshold trips at exactly its configured rate.
            self.stats.error_rate = ((self.failures / self.calls) as f32).clamp(0.0, 1.0);
            self.stats.slow_call_rate = ((self.slow / self.calls) as f32).clamp(0.0, 1.0);
        }
        self.stats
    }
}
