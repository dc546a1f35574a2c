breaker::breakers! { BinanceWs }

fn main() {}
