// A misspelt family gets rustc's similar-name hint, as a misspelt component does.
breaker::breakers! { upstream_host[] }

#[breaker::circuit_breaker(component = "upstream_hots", key = host)]
fn fetch(host: &str) -> Result<usize, breaker::CallError<std::io::Error>> {
    Ok(host.len())
}

fn main() {
    let _ = fetch("a.example");
}
