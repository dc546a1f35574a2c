//! `failure_if`, `ignore_if`, `fallback`, `registry` and `crate`.
use std::io;

use breaker::{circuit_breaker, CircuitConfig, GlobalCircuitBreaker};
use once_cell::sync::Lazy;

breaker::breakers! { venue }

mod reexport {
    pub use breaker as inner;
}

static REGISTRY: Lazy<GlobalCircuitBreaker> = Lazy::new(|| {
    GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap()
});

#[derive(Debug)]
enum HttpError {
    Status(u16),
    Refused,
}

impl From<breaker::CircuitError> for HttpError {
    fn from(_: breaker::CircuitError) -> Self {
        HttpError::Refused
    }
}

fn is_server_error(e: &HttpError) -> bool {
    matches!(e, HttpError::Status(500..=599))
}

fn is_not_found(e: &HttpError) -> bool {
    matches!(e, HttpError::Status(404))
}

#[circuit_breaker(component = "venue", registry = REGISTRY, ignore_if = is_not_found, failure_if = is_server_error)]
fn get(status: u16) -> Result<(), HttpError> {
    if status == 200 {
        Ok(())
    } else {
        Err(HttpError::Status(status))
    }
}

fn cached_price(symbol: &str) -> Result<f64, io::Error> {
    Ok(if symbol.is_empty() { 0.0 } else { 1.0 })
}

#[circuit_breaker(component = "venue", registry = REGISTRY, fallback = cached_price)]
fn price(symbol: &str) -> Result<f64, io::Error> {
    Ok(symbol.len() as f64)
}

#[circuit_breaker(component = "venue", crate = reexport::inner)]
fn via_reexport() -> Result<(), io::Error> {
    Ok(())
}

fn main() {
    get(200).unwrap();
    assert!(get(404).is_err());
    assert!(get(400).is_err());
    assert!(get(503).is_err());
    let venue = REGISTRY.component("venue").unwrap().snapshot();
    assert_eq!((venue.successes, venue.failures, venue.ignored), (2, 1, 1));
    assert_eq!(price("BTC").unwrap(), 3.0);
    REGISTRY.component("venue").unwrap().force_open();
    assert_eq!(price("BTC").unwrap(), 1.0);
    assert!(matches!(get(200), Err(HttpError::Refused)));
    via_reexport().unwrap();
    assert_eq!(breakers::venue.snapshot().successes, 1);
}
