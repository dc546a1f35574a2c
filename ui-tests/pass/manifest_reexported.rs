//! The advice of `ui-tests/fail/manifest_in_module.stderr` works: a manifest declared in a
//! module is found once the crate root re-exports it, from a function in any module.
mod infra {
    breaker::breakers! { binance_ws }
}

pub use infra::breakers;

mod client {
    #[breaker::circuit_breaker(component = "binance_ws")]
    pub fn subscribe() -> Result<u32, std::io::Error> {
        Ok(1)
    }
}

fn main() {
    assert_eq!(client::subscribe().ok(), Some(1));
    assert_eq!(breakers::binance_ws.snapshot().successes, 1);
}
