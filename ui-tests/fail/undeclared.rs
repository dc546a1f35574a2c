breaker::breakers! { binance_ws }

#[breaker::circuit_breaker(component = "postgres")]
fn query() -> Result<u64, std::io::Error> {
    Ok(1)
}

fn main() {
    let _ = query();
}
