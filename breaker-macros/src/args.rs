//! Parses `#[circuit_breaker(...)]`'s arguments into [`Args`].

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Path, Token};

const VALID: &str = "expected one of: `component`, `key`, `failure_if`, `ignore_if`, \
                     `fallback`, `registry`, `crate`, `timeout`";

/// The attribute's arguments, each with the span of the user's tokens for diagnostics.
pub(crate) struct Args {
    /// The component's identifier, spanned at the user's string literal or identifier.
    pub(crate) component: Ident,
    /// `key = expr`: the component is a keyed family, and `expr` (over the arguments) picks
    /// the key's breaker.
    pub(crate) key: Option<Expr>,
    pub(crate) failure_if: Option<Path>,
    pub(crate) ignore_if: Option<Path>,
    pub(crate) fallback: Option<Path>,
    pub(crate) registry: Option<Path>,
    pub(crate) krate: Option<Path>,
    pub(crate) timeout: Option<Timeout>,
}

/// `timeout = "2s"`: checked here, so a bad duration is an error at the user's string.
pub(crate) struct Timeout {
    /// The `timeout` key, where a timeout on a sync fn is reported.
    pub(crate) key: Ident,
    pub(crate) nanos: u64,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut component = None;
        let mut key_expr = None;
        let mut failure_if = None;
        let mut ignore_if = None;
        let mut fallback = None;
        let mut registry = None;
        let mut krate = None;
        let mut timeout = None;
        while !input.is_empty() {
            let key: Ident = if input.peek(Token![crate]) {
                let k: Token![crate] = input.parse()?;
                Ident::new("crate", k.span)
            } else {
                input.parse().map_err(|e| {
                    syn::Error::new(e.span(), format!("expected an argument name; {VALID}"))
                })?
            };
            let name = key.to_string();
            input.parse::<Token![=]>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("expected `=` after `{name}`, as in `{name} = ...`"),
                )
            })?;
            match name.as_str() {
                "component" => set(&mut component, &key, parse_component(input)?)?,
                "key" => set(&mut key_expr, &key, input.parse()?)?,
                "failure_if" => set(&mut failure_if, &key, input.parse()?)?,
                "ignore_if" => set(&mut ignore_if, &key, input.parse()?)?,
                "fallback" => set(&mut fallback, &key, input.parse()?)?,
                "registry" => set(&mut registry, &key, input.parse()?)?,
                "crate" => set(&mut krate, &key, input.parse()?)?,
                "timeout" => set(&mut timeout, &key, parse_timeout(&key, input)?)?,
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{name}`; {VALID}"),
                    ))
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let component = component.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "missing `component`: name the component this function calls, as in \
                 #[circuit_breaker(component = \"binance_ws\")]",
            )
        })?;
        Ok(Self {
            component,
            key: key_expr,
            failure_if,
            ignore_if,
            fallback,
            registry,
            krate,
            timeout,
        })
    }
}

fn set<T>(slot: &mut Option<T>, key: &Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            key.span(),
            format!("duplicate argument `{key}`; give it once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// `"binance_ws"` or `binance_ws`, as an identifier carrying the user's span, so rustc's own
/// "cannot find value" error lands on the user's tokens.
fn parse_component(input: ParseStream<'_>) -> syn::Result<Ident> {
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        let value = lit.value();
        return match syn::parse_str::<Ident>(&value) {
            Ok(ident) if ident != "r#" && !value.starts_with("r#") => {
                Ok(Ident::new(&value, lit.span()))
            }
            _ => Err(syn::Error::new(
                lit.span(),
                format!(
                    "`{value}` is not a component name: components are declared in `breakers!` \
                     as lower snake_case identifiers (such as `binance_ws`)"
                ),
            )),
        };
    }
    input.parse::<Ident>().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected the component's name, as in `component = \"binance_ws\"`",
        )
    })
}

/// `"2s"`, `"1500ms"`, `"1m 30s"`: a humantime duration (as in config files), above zero and
/// within `u64` nanoseconds.
fn parse_timeout(key: &Ident, input: ParseStream<'_>) -> syn::Result<Timeout> {
    let lit: LitStr = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected the timeout as a string, as in `timeout = \"2s\"` or `timeout = \"500ms\"`",
        )
    })?;
    let value = lit.value();
    let bad = |why: String| {
        syn::Error::new(
            lit.span(),
            format!("`timeout = \"{value}\"`: {why}; write a duration such as \"2s\" or \"500ms\""),
        )
    };
    let duration = humantime::parse_duration(&value).map_err(|e| bad(e.to_string()))?;
    if duration.is_zero() {
        return Err(bad("a timeout must be above zero".to_owned()));
    }
    let nanos = u64::try_from(duration.as_nanos())
        .map_err(|_| bad("too long (at most about 584 years)".to_owned()))?;
    Ok(Timeout {
        key: key.clone(),
        nanos,
    })
}
