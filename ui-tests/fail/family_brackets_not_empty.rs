// A family is declared with empty brackets; its keys come from each call.
breaker::breakers! { upstream_host["a.example"] }

fn main() {}
