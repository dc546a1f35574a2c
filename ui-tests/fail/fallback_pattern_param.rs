breaker::breakers! { binance_ws }

fn cached((symbol, depth): (&str, u32)) -> Result<u32, std::io::Error> {
    let _ = symbol;
    Ok(depth)
}

#[breaker::circuit_breaker(component = "binance_ws", fallback = cached)]
fn depth((symbol, depth): (&str, u32)) -> Result<u32, std::io::Error> {
    let _ = symbol;
    Ok(depth)
}

fn main() {
    let _ = depth(("BTC", 5));
}
