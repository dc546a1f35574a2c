//! Procedural macros for [`breaker`](https://docs.rs/breaker): the `breakers!` manifest and
//! the `#[circuit_breaker]` attribute. Use them through the `breaker` crate, which re-exports
//! both and documents them with examples.
//!
//! `#[circuit_breaker]` looks its component up as `crate::breakers::NAME`, so the manifest
//! must be declared at the crate root of the crate that uses the attribute, or re-exported
//! there with `pub use path::breakers;` (`ui-tests/pass/manifest_reexported.rs`); a manifest
//! left in a module is one error at the component name that says so
//! (`ui-tests/fail/manifest_in_module.rs`).
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

#[cfg(test)]
// A test fails by panicking; the workspace lints are for the macros' own code.
#[allow(clippy::unwrap_used)]
mod tests {
    use proc_macro2::{TokenStream, TokenTree};
    use quote::quote;

    /// Every `NAME` in `breaker::NAME` the tokens hold (groups included), in order.
    fn breaker_paths(tokens: TokenStream) -> Vec<String> {
        fn flatten(tokens: TokenStream, out: &mut Vec<TokenTree>) {
            for tree in tokens {
                match tree {
                    TokenTree::Group(g) => flatten(g.stream(), out),
                    other => out.push(other),
                }
            }
        }
        let mut trees = Vec::new();
        flatten(tokens, &mut trees);
        trees
            .windows(4)
            .filter_map(|w| match w {
                [TokenTree::Ident(krate), TokenTree::Punct(a), TokenTree::Punct(b), TokenTree::Ident(item)]
                    if krate == "breaker" && a.as_char() == ':' && b.as_char() == ':' =>
                {
                    Some(item.to_string())
                }
                _ => None,
            })
            .collect()
    }

    fn assert_only_private(what: &str, tokens: TokenStream) {
        let paths = breaker_paths(tokens);
        assert!(!paths.is_empty(), "{what}: the expansion names `breaker`");
        let public: Vec<_> = paths.iter().filter(|p| *p != "__private").collect();
        assert!(
            public.is_empty(),
            "{what}: generated code names `breaker::` items outside `__private`: {public:?}"
        );
    }

    #[test]
    fn the_manifest_names_only_private_items() {
        let manifest: crate::manifest::Manifest = syn::parse2(quote! {
            /// Docs.
            plain,
            tuned { error_rate_threshold: 0.3, open_cooldown: Duration::from_secs(1) },
            hosts[] { max_keys: 10, min_calls: 3 },
        })
        .unwrap();
        let expanded = manifest.expand();
        let text = expanded.to_string();
        assert!(text.contains("pub fn declare"), "{text}");
        assert!(text.contains("DEFAULT_CONFIG"), "{text}");
        assert!(!text.contains("CircuitConfig :: DEFAULT"), "{text}");
        assert!(text.contains("DEFAULT_FAMILY_CONFIG"), "{text}");
        assert!(text.contains("family_manifest_error"), "{text}");
        assert!(!text.contains("FamilyConfig :: DEFAULT"), "{text}");
        assert!(!text.contains(". check ()"), "{text}");
        assert_only_private("breakers!", expanded);
    }

    #[test]
    fn the_attribute_names_only_private_items() {
        let shapes = [
            (
                quote!(component = "api"),
                quote!(
                    fn f() -> Result<u32, E> {
                        Ok(1)
                    }
                ),
            ),
            (
                quote!(
                    component = api,
                    failure_if = is_bad,
                    ignore_if = is_404,
                    registry = R
                ),
                quote!(
                    async fn f(x: u32) -> Result<u32, E> {
                        Ok(x)
                    }
                ),
            ),
            (
                quote!(component = "api", timeout = "2s", fallback = cached),
                quote!(
                    async fn f(x: u32) -> Result<u32, E> {
                        Ok(x)
                    }
                ),
            ),
            (
                quote!(component = "api", fallback = cached),
                quote!(
                    fn f(x: u32) -> impl Future<Output = Result<u32, E>> {
                        async move { Ok(x) }
                    }
                ),
            ),
            (
                quote!(component = "hosts", key = host),
                quote!(
                    fn f(host: &str) -> Result<u32, E> {
                        Ok(1)
                    }
                ),
            ),
            (
                quote!(component = "hosts", key = self.host, registry = R),
                quote!(
                    async fn f(&self) -> Result<u32, E> {
                        Ok(1)
                    }
                ),
            ),
        ];
        for (args, item) in shapes {
            let what = format!("#[circuit_breaker({args})]");
            assert_only_private(&what, crate::expand::circuit_breaker(args, item));
        }
    }
}
