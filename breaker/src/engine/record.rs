//! Recording how an admitted call ended ([`ComponentBreaker::finish`], called by the guard),
//! the failure run, and the trip check.

use crate::config::{CircuitConfig, SampleWeighting};

use super::clock::nanos;
use super::events::TransitionReason;
use super::failure_run::FailureRun;
use super::guard::{Admission, Finish, Recorded, Ticket};
use super::loom_shim::Ordering;
use super::probe::{ProbeResult, ProbeWord};
use super::state::{CircuitState, StateWord};
use super::window::{outcome, Added, Exponential, Kind, Sliding, WindowStats, WindowStrategy};
use super::{ComponentBreaker, Role, Rules};

impl ComponentBreaker {
    /// Records how an admitted call ended (called by the guard, exactly once).
    #[inline(always)]
    pub(super) fn finish(&self, ticket: &Ticket, how: Finish) -> Recorded {
        // The clock is read only when something needs it: slow-call detection, the time
        // window's bucket, or a trip check. A count window's success needs none of them.
        // An untimed ticket (slow-call detection was off at admission) skips even the load of
        // the threshold; a timed one is judged by the threshold now in force (0: off).
        let mut clock = Clock(None);
        let slow = match ticket.started() {
            Some(started) => match self.slow_nanos.load(Ordering::Relaxed) {
                0 => false,
                slow_nanos => clock.now(self).saturating_sub(started) >= slow_nanos,
            },
            None => false,
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
        let generation = ticket.generation();
        if word.generation() != generation {
            return self.stale(kind, slow);
        }
        match self.failure.count.get() {
            Some(count) if kind != Kind::Ignored => {
                match count.add(generation, outcome(kind == Kind::Failure, slow)) {
                    Added::Counted => {}
                    Added::Stale => return self.stale(kind, slow),
                    Added::Inactive => self.add_timed(clock.now(self), generation, kind, slow),
                }
            }
            Some(count) if count.is_active() => self.window.add_retired(kind),
            _ => self.add_timed(clock.now(self), generation, kind, slow),
        }
        match ticket.admission() {
            Admission::Unmetered => {}
            Admission::Counted => match kind {
                Kind::Success => {
                    self.end_failure_run(generation);
                    if slow {
                        self.evaluate(word, &mut clock, 0);
                    }
                }
                Kind::Failure => {
                    let run = self.extend_failure_run(generation);
                    self.evaluate(word, &mut clock, run);
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
                self.finish_probe(word, result, clock.now(self));
            }
        }
        Recorded::Counted
    }

    /// Counts an outcome in the time window's bucket for `now`.
    #[inline(always)]
    fn add_timed(&self, now: u64, generation: u64, kind: Kind, slow: bool) {
        self.window.add(now, generation, kind);
        if slow {
            self.add_slow(now, generation);
        }
    }

    /// The slow-call count beside the outcome: out of line, so the common case carries one
    /// copy of the window's write.
    #[cold]
    #[inline(never)]
    fn add_slow(&self, now: u64, generation: u64) {
        self.window.add(now, generation, Kind::Slow);
    }

    /// An outcome of a finished episode: in the totals only.
    #[cold]
    fn stale(&self, kind: Kind, slow: bool) -> Recorded {
        self.window.add_retired(kind);
        if slow {
            self.window.add_retired(Kind::Slow);
        }
        Recorded::Stale
    }

    /// A success ends the failure run. Load first: a success must not write a shared line
    /// when nothing failed.
    #[inline(always)]
    fn end_failure_run(&self, generation: u64) {
        let run = FailureRun(self.failure.run.load(Ordering::Relaxed));
        if run.is_running_in(generation) {
            let _ = self.failure.run.compare_exchange(
                run.0,
                FailureRun::empty(generation).0,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// One more failure in episode `generation`'s run; returns the run's length.
    fn extend_failure_run(&self, generation: u64) -> u32 {
        let mut run = FailureRun(self.failure.run.load(Ordering::Relaxed));
        loop {
            let next = run.extended(generation);
            match self.failure.run.compare_exchange_weak(
                run.0,
                next.0,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next.count(),
                Err(actual) => run = FailureRun(actual),
            }
        }
    }

    /// Failures in a row in the current episode.
    pub(super) fn failures_in_a_row(&self) -> u32 {
        FailureRun(self.failure.run.load(Ordering::Relaxed)).in_episode(self.word().generation())
    }

    /// The trip check: consecutive failures first, then the window's rates.
    #[cold]
    fn evaluate(&self, word: StateWord, clock: &mut Clock, run: u32) {
        tracing::trace!(
            target: "breaker",
            component = self.name.as_str(),
            state = word.state().as_str(),
            failures_in_a_row = run,
            "failure or slow call recorded"
        );
        if self.role == Role::Derived {
            // A derived breaker's state comes from its owner, never from its own calls.
            return;
        }
        self.timeline.tick_coarse();
        let rules = self.failure.trip.get();
        if let Some(threshold) = rules.consecutive {
            if run >= threshold {
                self.transition(
                    word,
                    CircuitState::Open,
                    TransitionReason::ConsecutiveFailures { count: run },
                    clock.now(self),
                );
                return;
            }
        }
        let (stats, min_calls) = self.trip_stats(&rules, clock, word.generation());
        if stats.calls < min_calls {
            return;
        }
        let reason = if stats.error_rate >= rules.error_rate {
            TransitionReason::ErrorRate {
                rate: stats.error_rate,
                threshold: rules.error_rate,
                calls: stats.calls,
            }
        } else if let Some(threshold) = rules.slow_rate.filter(|t| stats.slow_call_rate >= *t) {
            TransitionReason::SlowCallRate {
                rate: stats.slow_call_rate,
                threshold,
                calls: stats.calls,
            }
        } else {
            return;
        };
        self.transition(word, CircuitState::Open, reason, clock.now(self));
    }

    /// The window as the trip check sees it at `now`, for episode `generation`.
    pub(super) fn window_stats(
        &self,
        config: &CircuitConfig,
        now: u64,
        generation: u64,
    ) -> WindowStats {
        let strategy: &dyn WindowStrategy = match config.sample_weighting {
            SampleWeighting::Sliding => &Sliding,
            SampleWeighting::Exponential => &Exponential,
            SampleWeighting::Count => {
                // The window is whichever one the breaker writes (a reload may be switching).
                if let Some(stats) = self.failure.count.get().and_then(|c| c.stats()) {
                    return stats;
                }
                &Sliding
            }
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

    /// The window as the trip check sees it, and the calls the `min_calls` gate asks for (a
    /// count window holds at most `window_calls` calls on one stripe, so no more than that).
    /// O(stripes): the count window keeps running counts, the sliding window's earlier
    /// buckets are cached; only an exponential window is folded in full.
    fn trip_stats(&self, rules: &Rules, clock: &mut Clock, generation: u64) -> (WindowStats, u64) {
        let min_calls = u64::from(rules.min_calls);
        let since = || self.since.load(Ordering::Acquire);
        match rules.weighting {
            SampleWeighting::Count => {
                if let Some((stats, calls)) = self.failure.count.get().and_then(|c| c.trip()) {
                    return (stats, min_calls.min(calls));
                }
            }
            SampleWeighting::Exponential => {
                let stats = self.window.stats(
                    clock.now(self),
                    generation,
                    since(),
                    &Exponential,
                    rules.half_life_nanos,
                );
                return (stats, min_calls);
            }
            SampleWeighting::Sliding => {}
        }
        let stats =
            self.window
                .sliding_stats(clock.now(self), generation, since(), &self.failure.fold);
        (stats, min_calls)
    }

    /// Calls in the current episode's window at `now` (what the global fuse's `min_calls`
    /// counts). Folds the window: not for the call path.
    pub(crate) fn window_calls(&self, now: u64) -> u64 {
        self.window_stats(&self.config.load(), now, self.word().generation())
            .calls
    }

    /// Failures in the current episode's window at `now` (a keyed family evicts only keys
    /// with none). Folds the window: not for the call path.
    pub(crate) fn window_failures(&self, now: u64) -> u64 {
        self.window_stats(&self.config.load(), now, self.word().generation())
            .failures
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
    pub(super) fn decide(
        &self,
        word: StateWord,
        probes: ProbeWord,
        config: &CircuitConfig,
        now: u64,
    ) {
        match probes.verdict(config) {
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
}

/// The clock reading of one record, taken the first time something needs it.
struct Clock(Option<u64>);

impl Clock {
    #[inline(always)]
    fn now(&mut self, breaker: &ComponentBreaker) -> u64 {
        match self.0 {
            Some(now) => now,
            None => *self.0.insert(breaker.timeline.call_nanos()),
        }
    }
}
