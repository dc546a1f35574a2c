//! The macros' expansions name nothing of `breaker` but `__private`: both compile against a
//! stand-in crate that holds `__private` alone (`crate = ..` points them at it).
mod only_private {
    pub use breaker::__private;
}

breaker::breakers! {
    crate = crate::only_private;
    plain,
    tuned { min_calls: 5, error_rate_threshold: 0.25 },
    hosts[] { max_keys: 10, min_calls: 5 },
}

#[breaker::circuit_breaker(component = "tuned", crate = crate::only_private)]
fn call(fail: bool) -> Result<u32, std::io::Error> {
    if fail {
        return Err(std::io::Error::other("down"));
    }
    Ok(1)
}

#[breaker::circuit_breaker(component = "plain", crate = crate::only_private)]
async fn call_async() -> Result<u32, std::io::Error> {
    Ok(2)
}

#[breaker::circuit_breaker(component = "hosts", key = host, crate = crate::only_private)]
fn keyed(host: &str) -> Result<u32, std::io::Error> {
    Ok(u32::try_from(host.len()).unwrap_or(0))
}

fn main() {
    assert_eq!(keyed("a.example").ok(), Some(9));
    assert_eq!(breakers::FAMILIES.len(), 1);
    assert_eq!(call(false).ok(), Some(1));
    let _ = call_async();
    assert_eq!(breakers::tuned.declared_config().map(|c| c.min_calls), Some(5));
    assert_eq!(breakers::ALL.len(), 2);
}
