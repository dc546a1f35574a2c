breaker::breakers! {
    binance_rest { error_rate_threshold: 1.5 },
}

fn main() {}
