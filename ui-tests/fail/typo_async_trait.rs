breaker::breakers! { binance_ws, kraken_rest }

#[async_trait::async_trait]
trait Exchange {
    async fn ticker(&self) -> Result<f64, std::io::Error>;
}

struct Kraken;

#[async_trait::async_trait]
impl Exchange for Kraken {
    #[breaker::circuit_breaker(component = "krakn_rest")]
    async fn ticker(&self) -> Result<f64, std::io::Error> {
        Ok(1.0)
    }
}

fn main() {
    let _ = Kraken.ticker();
}
