//! `CallError<E>` makes any error type protectable, one the user did not write included:
//! `?` on the call's own error through `.map_err(CallError::Inner)`, and a refusal as
//! `CallError::Rejected`, in sync, async and fallback shapes.
use std::num::ParseIntError;

use breaker::{circuit_breaker, CallError, CircuitError};

breaker::breakers! { quotes }

#[circuit_breaker(component = "quotes")]
fn parse(text: &str) -> Result<u32, CallError<ParseIntError>> {
    let n: u32 = text.parse().map_err(CallError::Inner)?;
    Ok(n)
}

#[circuit_breaker(component = "quotes")]
async fn fetch(text: String) -> Result<u32, CallError<ParseIntError>> {
    Ok(text.parse().map_err(CallError::Inner)?)
}

fn cached(_text: &str) -> Result<u32, CallError<std::io::Error>> {
    Ok(0)
}

#[circuit_breaker(component = "quotes", fallback = cached)]
fn read(text: &str) -> Result<u32, CallError<std::io::Error>> {
    Ok(text.len() as u32)
}

fn main() {
    assert_eq!(parse("1"), Ok(1));
    assert!(matches!(parse("x"), Err(CallError::Inner(_))));
    let _ = fetch(String::from("1"));
    assert_eq!(read("ab").ok(), Some(2));
    breakers::quotes.force_open();
    assert!(matches!(parse("1"), Err(CallError::Rejected(CircuitError::ForcedOpen { .. }))));
    assert_eq!(read("ab").ok(), Some(0));
}
