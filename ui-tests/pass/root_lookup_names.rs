//! The attribute finds the crate root's manifest whatever else is named alike: a crate-root
//! item with the name of the attribute's helper trait, and a `breakers` module of the
//! function's own module, change nothing.
breaker::breakers! { binance_ws }

/// Shares its name with the trait the attribute declares for its crate-root lookup.
pub trait DeclaredAtCrateRoot {}

mod client {
    /// Not the manifest: `#[circuit_breaker]` looks only at `crate::breakers`.
    #[allow(non_upper_case_globals, dead_code)]
    mod breakers {
        pub static binance_ws: u32 = 0;
    }

    #[breaker::circuit_breaker(component = "binance_ws")]
    pub fn subscribe() -> Result<u32, std::io::Error> {
        Ok(1)
    }
}

fn main() {
    assert_eq!(client::subscribe().ok(), Some(1));
    assert_eq!(breakers::binance_ws.snapshot().successes, 1);
}
