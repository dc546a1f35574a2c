breaker::breakers! {
    binance_rest { error_rate_treshold: 0.3 },
}

fn main() {}
