breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws", retries = 5)]
fn subscribe() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
