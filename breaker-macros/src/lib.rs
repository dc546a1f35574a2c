//! Procedural macros for [`breaker`](https://docs.rs/breaker): the `breakers!` manifest and
//! the `#[circuit_breaker]` attribute. Use them through the `breaker` crate, which re-exports
//! both and documents them with examples.
#![forbid(unsafe_code)]

mod args;
mod expand;
mod manifest;

use proc_macro::TokenStream;

/// Declares the components this crate calls; see `breaker::breakers!`.
#[proc_macro]
pub fn breakers(input: TokenStream) -> TokenStream {
    match syn::parse::<manifest::Manifest>(input) {
        Ok(manifest) => manifest.expand().into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Protects a function with its component's breaker; see `breaker::circuit_breaker`.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::circuit_breaker(args.into(), item.into()).into()
}
