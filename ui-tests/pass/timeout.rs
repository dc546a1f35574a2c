//! `timeout = ".."` on every async shape: `async fn`, a method, `fn -> impl Future`, with a
//! fallback (which answers refusals; a timeout goes through `From<CircuitError>`).
use std::future::Future;

use breaker::{circuit_breaker, CallError, CircuitError};

breaker::breakers! { venue }

#[circuit_breaker(component = "venue", timeout = "2s")]
async fn plain(x: u32) -> Result<u32, std::io::Error> {
    Ok(x)
}

#[circuit_breaker(component = "venue", timeout = "1m 30s")]
async fn wrapped(x: &str) -> Result<u32, CallError<std::num::ParseIntError>> {
    x.parse().map_err(CallError::Inner)
}

async fn cached(_x: u32) -> Result<u32, std::io::Error> {
    Ok(0)
}

#[circuit_breaker(component = "venue", timeout = "250ms", fallback = cached)]
async fn with_fallback(x: u32) -> Result<u32, std::io::Error> {
    Ok(x)
}

#[circuit_breaker(component = "venue", timeout = "2s")]
fn tail(x: u32) -> impl Future<Output = Result<u32, std::io::Error>> + Send {
    async move { Ok(x) }
}

struct Client;

impl Client {
    #[circuit_breaker(component = "venue", timeout = "2s")]
    async fn get(&self, x: u32) -> Result<u32, std::io::Error> {
        Ok(x)
    }
}

fn is_send<T: Send>(_: &T) {}

fn main() {
    let client = Client;
    let futures = (plain(1), wrapped("2"), with_fallback(3), tail(4), client.get(5));
    is_send(&futures.0);
    is_send(&futures.1);
    is_send(&futures.2);
    is_send(&futures.3);
    is_send(&futures.4);
    let _: Option<CircuitError> = None;
}
