breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "binance_ws")]
fn subscribe() {}

fn main() {
    subscribe();
}
