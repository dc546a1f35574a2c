breaker::breakers! { binance_ws }

trait Feed {
    #[breaker::circuit_breaker(component = "binance_ws")]
    fn subscribe(&self) -> Result<(), std::io::Error>;
}

fn main() {}
