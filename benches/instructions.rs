#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Instructions per call, for `scripts/instructions` (valgrind's callgrind counts them: a
//! measure two noisy cores cannot disturb, so a change of a few instructions on the hot path
//! shows). `instructions <subject> <calls>` runs `calls` Closed-success calls
//! (`acquire` + `record(Success)`) on one breaker and exits; the script runs each subject at
//! two call counts and divides the difference, so setup and teardown cancel out.
//!
//! Subjects: `standalone` (a `ComponentBreaker` with no owner), `member` (a component of a
//! registry whose fuse is closed: admission also reads the gate the fuse could hold).
//! Only API that predates the gate is used, so the same file measures older commits.

use std::hint::black_box;
use std::sync::Arc;

use breaker::{
    CircuitConfig, ComponentBreaker, GlobalCircuitBreaker, Outcome, Permit, SystemClock,
};

fn run(b: &ComponentBreaker, calls: u64) -> u64 {
    let mut allowed = 0;
    for _ in 0..calls {
        if let Permit::Allowed(guard) = black_box(b).acquire() {
            black_box(guard.record(Outcome::Success));
            allowed += 1;
        }
    }
    allowed
}

fn main() {
    let mut args = std::env::args().skip(1);
    let subject = args.next().unwrap_or_default();
    let calls: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    if calls == 0 {
        // `cargo bench` runs every bench target with `--bench`; this one only measures when
        // the script asks.
        return;
    }
    let allowed = match subject.as_str() {
        "standalone" => {
            let b =
                ComponentBreaker::new("standalone", CircuitConfig::DEFAULT, Arc::new(SystemClock))
                    .unwrap();
            run(&b, calls)
        }
        "member" => {
            let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
            let b = registry.register("member").unwrap();
            run(&b, calls)
        }
        other => panic!("unknown subject {other:?}: standalone or member"),
    };
    assert_eq!(allowed, calls, "every call is admitted in Closed");
}
