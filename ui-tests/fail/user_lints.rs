//! The user's own lints still fire inside and on an annotated function: the attribute reuses
//! the body's brace token (tracing#3108), so `dead_code` sees the user's item.
#![deny(dead_code, unused_variables)]

breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws")]
fn never_called() -> Result<u32, std::io::Error> {
    let x = 1;
    Ok(2)
}

struct Client;

impl Client {
    #[breaker::circuit_breaker(component = "binance_ws")]
    async fn never_awaited(&self) -> Result<u32, std::io::Error> {
        Ok(3)
    }
}

fn main() {
    let _client = Client;
}
