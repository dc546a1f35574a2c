breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws")]
struct Feed;

fn main() {
    let _ = Feed;
}
