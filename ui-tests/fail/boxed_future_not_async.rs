use std::future::Future;
use std::pin::Pin;

breaker::breakers! { binance_ws }

async fn connect() -> Result<(), std::io::Error> {
    Ok(())
}

#[breaker::circuit_breaker(component = "binance_ws")]
fn subscribe() -> Pin<Box<dyn Future<Output = Result<(), std::io::Error>> + Send>> {
    Box::pin(connect())
}

fn main() {
    let _ = subscribe();
}
