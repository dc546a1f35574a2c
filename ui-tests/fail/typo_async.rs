breaker::breakers! { binance_ws, kraken_rest }

#[breaker::circuit_breaker(component = "kraken_rst")]
async fn ticker() -> Result<f64, std::io::Error> {
    Ok(1.0)
}

fn main() {
    let _ = ticker();
}
