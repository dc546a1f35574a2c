// A misspelt family field is reported against `FamilyConfig`, with its similar-name hint.
breaker::breakers! {
    upstream_host[] { max_key: 10, error_rate_threshold: 0.3 },
}

fn main() {}
