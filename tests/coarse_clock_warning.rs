#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A `CoarseClock` nobody drives says so, once. Alone in its binary: a scoped subscriber only
//! sees callsites whose interest no other thread has cached first.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use breaker::{CircuitConfig, CoarseClock, ComponentBreaker, FakeClock, Outcome};
use breaker_suite::call;

#[test]
fn a_clock_that_fell_a_second_behind_warns_once() {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
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
    let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        out.matches("a CoarseClock fell more than a second behind")
            .count(),
        1,
        "{out}"
    );
    assert!(out.contains("lag_ms=2000"), "{out}");
}
