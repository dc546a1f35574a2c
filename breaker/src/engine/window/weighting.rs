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
#[derive(Debug, Default, Clone, Copy)]
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

    /// The sums, for the trip check's cache: `[calls, failures, slow]` and their weighted
    /// twins' bits.
    pub(crate) fn parts(&self) -> [u64; 6] {
        [
            self.stats.calls,
            self.stats.failures,
            self.stats.slow_calls,
            self.calls.to_bits(),
            self.failures.to_bits(),
            self.slow.to_bits(),
        ]
    }

    /// The fold [`parts`](Self::parts) came from.
    pub(crate) fn from_parts(p: [u64; 6]) -> Self {
        Self {
            stats: WindowStats {
                calls: p[0],
                failures: p[1],
                slow_calls: p[2],
                ..WindowStats::default()
            },
            calls: f64::from_bits(p[3]),
            failures: f64::from_bits(p[4]),
            slow: f64::from_bits(p[5]),
        }
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
