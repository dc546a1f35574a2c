breaker::breakers! {
    binance_ws,
    kraken_rest,
    binance_ws,
}

fn main() {}
