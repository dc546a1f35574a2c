//! Dropping what `watch` returns stops the watch at once: with `unused_must_use` denied,
//! neither `?` on it nor an ignored call compiles.
#![deny(unused_must_use)]

use breaker::{FileError, GlobalCircuitBreaker};

fn start(registry: &'static GlobalCircuitBreaker) -> Result<(), FileError> {
    breaker::watch(registry, "breakers.toml")?;
    breaker::watch_with(registry, "breakers.toml", breaker::WatchOptions::new());
    Ok(())
}

fn main() {
    let _ = start(breaker::registry());
}
