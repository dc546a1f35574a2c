breaker::breakers! { binance_ws, kraken_rest }

#[derive(Debug)]
struct Error;
impl From<breaker::CircuitError> for Error {
    fn from(_: breaker::CircuitError) -> Self {
        Error
    }
}

#[breaker::circuit_breaker(component = "binance_wss")]
fn subscribe() -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _ = subscribe();
}
