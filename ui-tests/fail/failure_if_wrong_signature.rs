breaker::breakers! { binance_ws }

fn is_timeout(code: u16) -> bool {
    code == 408
}

#[breaker::circuit_breaker(component = "binance_ws", failure_if = is_timeout)]
fn subscribe() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
