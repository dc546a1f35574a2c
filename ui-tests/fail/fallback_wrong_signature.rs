breaker::breakers! { binance_ws }

fn cached() -> Result<f64, std::io::Error> {
    Ok(0.0)
}

#[breaker::circuit_breaker(component = "binance_ws", fallback = cached)]
fn ticker(symbol: &str) -> Result<f64, std::io::Error> {
    let _ = symbol;
    Ok(1.0)
}

fn main() {
    let _ = ticker("BTC");
}
