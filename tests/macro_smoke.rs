#![allow(clippy::unwrap_used, missing_docs)]
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
    let mut v = vec![];
    let r = futures::executor::block_on(async_fn(&mut v));
    assert!(r.is_ok());
}
