breaker::breakers! { binance_ws, kraken_rest }

#[breaker::circuit_breaker(component = "binance_ws", component = "kraken_rest")]
fn subscribe() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
