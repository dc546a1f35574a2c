breaker::breakers! {
    binance_rest { open_cooldown: 10 },
}

fn main() {}
