//! The timed expansion (`timeout = ".."`) is as lint-clean as the rest of the attribute's
//! (see `tests/lint_clean.rs`): nothing is allowed here, so a lint that fires is the macro's.
#![deny(warnings, unused_qualifications, missing_docs, clippy::pedantic)]

use std::io;

use breaker::circuit_breaker;

breaker::breakers! {
    /// The venue's REST API.
    venue_rest,
}

/// A timed `async fn`.
///
/// # Errors
///
/// The breaker's refusal or timeout.
#[circuit_breaker(component = "venue_rest", timeout = "2s")]
pub async fn price(symbol: &str) -> Result<usize, io::Error> {
    Ok(symbol.len())
}

/// On the real clock, inside a tokio runtime (its timer) and outside one (no timer: the call
/// is not cut off, and does not panic).
#[test]
#[allow(clippy::unwrap_used)] // the test's own code: it fails by panicking
fn timed_calls_on_the_real_clock_return_their_value() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(price("BTC")).ok(), Some(3));
    assert_eq!(futures::executor::block_on(price("ETH")).ok(), Some(3));
}
