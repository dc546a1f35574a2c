breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws")]
fn depth() -> u32 {
    20
}

fn main() {
    let _ = depth();
}
