#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A `CoarseClock` nobody drives says so, once. Alone in its binary: a scoped subscriber only
//! sees callsites whose interest no other thread has cached first.

use std::sync::Arc;
use std::time::Duration;

use breaker::{CircuitConfig, CoarseClock, ComponentBreaker, FakeClock, Outcome};
use breaker_suite::{call, logged};

#[test]
fn a_clock_that_fell_a_second_behind_warns_once() {
    let out = logged(tracing::Level::WARN, || {
        let fake = FakeClock::new();
        let coarse = CoarseClock::over(Arc::new(fake.clone()));
        let b = ComponentBreaker::new(
            "coarse",
            CircuitConfig {
                min_calls: 100,
                ..CircuitConfig::DEFAULT
            },
            Arc::new(coarse.clone()),
        )
        .unwrap();
        // Within a second: no warning.
        fake.advance(Duration::from_millis(900));
        call(&b, Outcome::Failure);
        // Two more seconds behind, twice: one warning.
        for _ in 0..2 {
            fake.advance(Duration::from_secs(2));
            call(&b, Outcome::Failure);
        }
    });
    assert_eq!(
        out.matches("a CoarseClock fell more than a second behind")
            .count(),
        1,
        "{out}"
    );
    assert!(out.contains("lag_ms=2000"), "{out}");
}
