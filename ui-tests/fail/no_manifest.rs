#[breaker::circuit_breaker(component = "binance_ws")]
fn subscribe() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
