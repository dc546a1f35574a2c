// An out-of-range family field fails to compile with the runtime's words, at the field.
use std::time::Duration;

breaker::breakers! {
    no_keys[] { max_keys: 0 },
    too_many[] { max_keys: 2_000_000 },
    ratio[] { unhealthy_key_ratio: 1.5 },
    no_ttl[] { idle_ttl: Duration::ZERO },
    cap[] { max_open_ratio: 0.0, error_rate_threshold: 0.3 },
    key_range[] { max_keys: 10, error_rate_threshold: 2.0 },
    fine[] { max_keys: 10, min_keys: 2, error_rate_threshold: 0.3 },
}

fn main() {}
