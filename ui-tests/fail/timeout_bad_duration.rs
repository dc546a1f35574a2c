breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws", timeout = "2 parsecs")]
async fn subscribe() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
