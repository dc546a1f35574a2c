//! A `CallGuard` that is dropped unused records a cancelled call, not the outcome: with
//! `unused_must_use` denied, neither `?` on a permit nor a bare guard compiles.
#![deny(unused_must_use)]

use breaker::{CircuitError, GlobalCircuitBreaker, Permit};

fn call(registry: &GlobalCircuitBreaker) -> Result<(), CircuitError> {
    registry.acquire("db").into_result()?;
    Ok(())
}

fn bare(registry: &GlobalCircuitBreaker) {
    if let Permit::Allowed(guard) = registry.acquire("db") {
        guard;
    }
}

fn main() {
    let registry = GlobalCircuitBreaker::new(breaker::CircuitConfig::DEFAULT).unwrap();
    let _ = call(&registry);
    bare(&registry);
}
