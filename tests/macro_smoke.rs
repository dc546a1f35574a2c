#![allow(clippy::unwrap_used, missing_docs)]
//! The two basic shapes end to end: a sync fn (early `return` and
//! `?` inside) and an async fn returning a borrow of its `&mut` argument, each protected by a
//! component of a manifest with per-component config.
use breaker::{circuit_breaker, CircuitError};
use std::time::Duration;

breaker::breakers! {
    /// ws
    binance_ws,
    binance_rest { error_rate_threshold: 0.3, open_cooldown: Duration::from_secs(10) },
}

#[circuit_breaker(component = "binance_ws")]
fn sync_fn(x: u32) -> Result<u32, std::io::Error> {
    if x == 0 {
        return Err(std::io::Error::other("zero"));
    }
    let y: u32 = "5".parse().map_err(std::io::Error::other)?;
    Ok(x + y)
}

#[circuit_breaker(component = binance_rest)]
async fn async_fn(x: &mut Vec<u32>) -> Result<&mut u32, CircuitError> {
    x.push(1);
    Ok(&mut x[0])
}

#[test]
fn smoke() {
    assert_eq!(sync_fn(1).unwrap(), 6);
    assert_eq!(
        sync_fn(0).unwrap_err().to_string(),
        "zero",
        "an early `return` comes back as written"
    );
    let mut v = vec![];
    let first = futures::executor::block_on(async_fn(&mut v)).unwrap();
    assert_eq!(*first, 1, "a borrow of the `&mut` argument comes back");
    *first = 7;
    assert_eq!(v, [7]);
}
