breaker::breakers! { binance_ws, type }

fn main() {}
