breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws")]
const fn depth() -> Result<u32, std::io::Error> {
    Ok(20)
}

fn main() {
    let _ = depth();
}
