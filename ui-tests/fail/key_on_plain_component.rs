// `key` on a plain component: it has one breaker, so there is no key to pick.
breaker::breakers! { binance_ws, upstream_host[] }

#[breaker::circuit_breaker(component = "binance_ws", key = symbol)]
fn subscribe(symbol: &str) -> Result<usize, breaker::CallError<std::io::Error>> {
    Ok(symbol.len())
}

fn main() {
    let _ = subscribe("BTCUSDT");
}
