// The key expression sees the function's arguments, nothing of the macro's own.
breaker::breakers! { upstream_host[] }

#[breaker::circuit_breaker(component = "upstream_host", key = hots)]
fn fetch(host: &str) -> Result<usize, breaker::CallError<std::io::Error>> {
    Ok(host.len())
}

fn main() {
    let _ = fetch("a.example");
}
