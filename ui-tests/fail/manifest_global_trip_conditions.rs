breaker::breakers! {
    binance_rest {
        min_calls: 5,
        global_trip_conditions: breaker::GlobalTripConditions::DEFAULT,
    },
}

fn main() {}
