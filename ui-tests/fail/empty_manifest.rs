breaker::breakers! {}

fn main() {}
