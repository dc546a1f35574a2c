breaker::breakers! { binance_ws }

#[breaker::circuit_breaker]
fn subscribe() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
