breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws", timeout = 5)]
async fn subscribe() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
