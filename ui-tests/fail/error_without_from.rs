breaker::breakers! { binance_ws }

#[derive(Debug)]
struct FeedError;

#[breaker::circuit_breaker(component = "binance_ws")]
fn subscribe() -> Result<(), FeedError> {
    Err(FeedError)
}

fn main() {
    let _ = subscribe();
}
