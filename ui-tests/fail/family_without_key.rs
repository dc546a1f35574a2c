// A keyed family names a breaker per key: the attribute must say which key.
breaker::breakers! { binance_ws, upstream_host[] }

#[breaker::circuit_breaker(component = "upstream_host")]
fn fetch(host: &str) -> Result<usize, breaker::CallError<std::io::Error>> {
    Ok(host.len())
}

fn main() {
    let _ = fetch("a.example");
}
