//! Procedural macros for [`breaker`](https://docs.rs/breaker).
//!
//! The `#[circuit_breaker]` attribute and the `breakers!` manifest land here; see the `breaker`
//! crate for the runtime they expand into.
#![forbid(unsafe_code)]
