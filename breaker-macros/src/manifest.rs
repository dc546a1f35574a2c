//! `breakers! { ... }`: parses the manifest, checks its names, and generates one `static`
//! handle per component in a `breakers` module, plus `ALL` and `declare`. An entry written
//! `name[]` is a keyed family: its `static` is a `FamilyHandle`, listed in `FAMILIES`; its
//! fields named in [`FAMILY_FIELDS`] go into its `FamilyConfig`, every other one into its
//! keys' `CircuitConfig`.
//!
//! Nothing is shared between macro invocations: `#[circuit_breaker]` names a handle by path
//! (`crate::breakers::<name>`), so rustc itself checks that the component was declared.
//!
//! The expansion names nothing of `breaker` but `breaker::__private` (tests below pin it),
//! so the constructor and the `const` check it calls need not be public API.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, bracketed, Attribute, Expr, Ident, Lit, Path, Token};

/// `FamilyConfig::FIELDS` (the macro cannot read the runtime's constant; tests/macro_family.rs
/// checks that a manifest setting all of them sets every one of `FamilyConfig::FIELDS`).
const FAMILY_FIELDS: [&str; 6] = [
    "max_keys",
    "idle_ttl",
    "unhealthy_key_ratio",
    "min_keys",
    "max_open_ratio",
    "per_key_metrics",
];

/// Whether a family entry's field goes into its `FamilyConfig`: a family field, or a name
/// one or two edits from one (`max_key`), so that rustc's "no field" error and its similar-name
/// hint are about `FamilyConfig`. No breaker field is that close to a family field.
fn is_family_field(name: &Ident) -> bool {
    let name = name.to_string();
    FAMILY_FIELDS
        .iter()
        .any(|field| edit_distance(&name, field) <= 2)
}

/// Levenshtein distance, for the short names of config fields.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

pub(crate) struct Manifest {
    krate: Option<Path>,
    entries: Vec<Entry>,
}

struct Entry {
    attrs: Vec<Attribute>,
    name: Ident,
    /// `name[]`: a keyed family.
    family: bool,
    /// `field: value` overrides, if the entry has a `{ ... }` block.
    config: Option<(Span, Vec<Field>)>,
}

struct Field {
    name: Ident,
    value: Expr,
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let value: Expr = input.parse()?;
        Ok(Self { name, value })
    }
}

impl Parse for Manifest {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut krate = None;
        if input.peek(Token![crate]) && input.peek2(Token![=]) {
            input.parse::<Token![crate]>()?;
            input.parse::<Token![=]>()?;
            krate = Some(input.parse()?);
            input.parse::<Token![;]>()?;
        }
        let mut entries = Vec::new();
        while !input.is_empty() {
            let attrs = input.call(Attribute::parse_outer)?;
            let name = input.call(Ident::parse_any).map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a component name (a lower snake_case identifier such as `binance_ws`)",
                )
            })?;
            let family = input.peek(syn::token::Bracket);
            if family {
                let content;
                let brackets = bracketed!(content in input);
                if !content.is_empty() {
                    return Err(syn::Error::new(
                        brackets.span.join(),
                        "a keyed family is declared with empty brackets, as in `upstream_host[]`; \
                         its keys are chosen at each call (`key = ..` in `#[circuit_breaker]`)",
                    ));
                }
            }
            let config = if input.peek(syn::token::Brace) {
                let content;
                let brace = braced!(content in input);
                let fields = Punctuated::<Field, Token![,]>::parse_terminated(&content)?;
                Some((brace.span.join(), fields.into_iter().collect()))
            } else {
                None
            };
            entries.push(Entry {
                attrs,
                name,
                family,
                config,
            });
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `,` between components, or `{ field: value, .. }` with config overrides",
                )
            })?;
        }
        Ok(Self { krate, entries })
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "union",
];

/// Names `mod breakers` already holds besides the components (`ALL` is not snake case).
const RESERVED: &[&str] = &["declare"];

/// Lower snake_case, not a keyword, not reserved, at most 128 bytes.
fn check_name(name: &Ident) -> syn::Result<()> {
    let text = name.to_string();
    let text = text.strip_prefix("r#").unwrap_or(&text);
    if RESERVED.contains(&text) {
        return Err(syn::Error::new(
            name.span(),
            format!(
                "`{text}` is reserved: `breakers::{text}(&registry)` registers the whole \
                 manifest; name the component something else, such as `{text}_api`"
            ),
        ));
    }
    if KEYWORDS.contains(&text) {
        return Err(syn::Error::new(
            name.span(),
            format!("`{text}` is a Rust keyword and cannot name a component; try `{text}_api`"),
        ));
    }
    let snake = text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !snake {
        return Err(syn::Error::new(
            name.span(),
            format!(
                "component names must be lower snake_case (like `binance_ws`); `{text}` is not"
            ),
        ));
    }
    if text.len() > 128 {
        return Err(syn::Error::new(
            name.span(),
            "component names must be at most 128 bytes long",
        ));
    }
    Ok(())
}

impl Manifest {
    /// Every name problem at once, each at its own token.
    fn check(&self) -> syn::Result<()> {
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        let mut seen: HashMap<String, &Ident> = HashMap::new();
        for entry in &self.entries {
            if let Err(e) = check_name(&entry.name) {
                push(e);
                continue;
            }
            for field in entry.config.iter().flat_map(|(_, fields)| fields) {
                if field.name == "global_trip_conditions" {
                    // The fuse reads the registry's defaults only: set here it would mean
                    // nothing, so it is refused rather than accepted and ignored.
                    push(syn::Error::new(
                        field.name.span(),
                        "`global_trip_conditions` configures the global fuse, which reads the \
                         registry's defaults only; set it in the registry's config \
                         (`GlobalCircuitBreaker::builder().config(..)`) or in the file's `[global]`",
                    ));
                }
            }
            let key = entry.name.to_string();
            if let Some(first) = seen.get(&key) {
                let mut e = syn::Error::new(
                    entry.name.span(),
                    format!("component `{key}` is declared twice"),
                );
                e.combine(syn::Error::new(
                    first.span(),
                    format!("`{key}` first declared here"),
                ));
                push(e);
            } else {
                seen.insert(key, &entry.name);
            }
        }
        if self.entries.is_empty() {
            push(syn::Error::new(
                Span::call_site(),
                "`breakers!` needs at least one component, as in `breakers! { binance_ws }`",
            ));
        }
        errors.map_or(Ok(()), Err)
    }

    pub(crate) fn expand(self) -> TokenStream {
        if let Err(e) = self.check() {
            return e.to_compile_error();
        }
        let krate = self
            .krate
            .as_ref()
            .map_or_else(|| quote!(::breaker), |p| quote!(#p));
        let private = quote!(#krate::__private);
        let mut consts = Vec::new();
        let mut statics = Vec::new();
        let mut all = Vec::new();
        let mut families = Vec::new();
        for entry in &self.entries {
            let name = &entry.name;
            let text = name.to_string();
            let upper = text.to_uppercase();
            let (span, fields) = match &entry.config {
                Some((span, fields)) => (*span, fields.iter().collect::<Vec<_>>()),
                None => (name.span(), Vec::new()),
            };
            // A family's own fields go into its `FamilyConfig`, the rest into its keys'.
            let (family_fields, fields): (Vec<&Field>, Vec<&Field>) = fields
                .into_iter()
                .partition(|f| entry.family && is_family_field(&f.name));
            let config = optional_const(&mut consts, &fields, || {
                let konst = format_ident!("__BREAKERS_CONFIG_{}", upper);
                let kind = Kind::circuit(&private);
                (konst, kind, span)
            });
            let field_names = names(&fields);
            let docs: Vec<_> = entry
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .collect();
            let default_doc = if entry.family {
                format!("The `{text}` keyed family: a circuit breaker per key.")
            } else {
                format!("The `{text}` component's circuit breaker.")
            };
            let doc = if docs.is_empty() {
                quote!(#[doc = #default_doc])
            } else {
                quote!(#(#docs)*)
            };
            let others = entry.attrs.iter().filter(|a| !a.path().is_ident("doc"));
            if entry.family {
                let family = optional_const(&mut consts, &family_fields, || {
                    let konst = format_ident!("__BREAKERS_FAMILY_{}", upper);
                    (konst, Kind::family(&private), span)
                });
                let family_names = names(&family_fields);
                statics.push(quote! {
                    #doc
                    #(#others)*
                    pub static #name: #private::FamilyHandle = #private::family_handle(
                        #text, #config, &[#(#field_names),*], #family, &[#(#family_names),*],
                    );
                });
                families.push(quote!(&#name));
            } else {
                statics.push(quote! {
                    #doc
                    #(#others)*
                    pub static #name: #private::ComponentHandle =
                        #private::handle(#text, #config, &[#(#field_names),*], &ALL);
                });
                all.push(quote!(&#name));
            }
        }
        let count = all.len();
        let family_count = families.len();
        quote! {
            #(#consts)*
            /// The circuit breakers declared with `breakers!`: one handle per component or
            /// keyed family.
            #[allow(non_upper_case_globals)]
            pub mod breakers {
                #(#statics)*
                /// Every component (not keyed family) declared in this manifest.
                pub static ALL: [&#private::ComponentHandle; #count] = [#(#all),*];
                /// Every keyed family (`name[]`) declared in this manifest.
                pub static FAMILIES: [&#private::FamilyHandle; #family_count] = [#(#families),*];
                /// Registers every component and keyed family of this manifest in `registry`
                /// at once (the components all or nothing; idempotent). Call it at startup, so
                /// a snapshot lists every component and family before its first call and
                /// strict mode knows them before a config file is loaded.
                pub fn declare(
                    registry: &#private::GlobalCircuitBreaker,
                ) -> ::core::result::Result<(), #private::RegistryError> {
                    #private::declare(registry, &ALL, &FAMILIES)
                }
            }
        }
    }
}

/// The names of `fields`, as the handle records them.
fn names(fields: &[&Field]) -> Vec<String> {
    fields.iter().map(|f| f.name.to_string()).collect()
}

/// `Some(super::KONST)` with `KONST` and its checks pushed to `consts`, or `None` when the
/// entry sets none of `fields`.
fn optional_const(
    consts: &mut Vec<TokenStream>,
    fields: &[&Field],
    make: impl FnOnce() -> (Ident, Kind, Span),
) -> TokenStream {
    if fields.is_empty() {
        return quote!(::core::option::Option::None);
    }
    let (konst, kind, span) = make();
    consts.push(config_const(&kind, &konst, span, fields, &names(fields)));
    quote!(::core::option::Option::Some(super::#konst))
}

/// The config type an entry's fields are assigned into, its base, and its compile-time check.
struct Kind {
    ty: TokenStream,
    default: TokenStream,
    error: TokenStream,
}

impl Kind {
    fn circuit(private: &TokenStream) -> Self {
        Self {
            ty: quote!(#private::CircuitConfig),
            default: quote!(#private::DEFAULT_CONFIG),
            error: quote!(#private::manifest_error),
        }
    }

    fn family(private: &TokenStream) -> Self {
        Self {
            ty: quote!(#private::FamilyConfig),
            default: quote!(#private::DEFAULT_FAMILY_CONFIG),
            error: quote!(#private::family_manifest_error),
        }
    }
}

/// An entry's config as a `const`, and the checks that make a broken rule a compile error
/// worded as the runtime's: one per field, at the user's field (with the value as written
/// when it is a literal, since a `const` cannot format a float), and one at the entry's braces
/// for a rule that a field the entry does not set breaks.
fn config_const(
    kind: &Kind,
    konst: &Ident,
    span: Span,
    fields: &[&Field],
    field_names: &[String],
) -> TokenStream {
    let Kind { ty, default, error } = kind;
    // Field assignments keep the user's tokens, so rustc reports an unknown field (with "a
    // field with a similar name exists") or a wrong type at them.
    let assigns = fields.iter().map(|f| {
        let (field, value) = (&f.name, &f.value);
        quote!(config.#field = #value;)
    });
    let field_checks = fields.iter().map(|f| {
        let field = f.name.to_string();
        let literal = match literal_text(&f.value) {
            Some(text) => quote!(::core::option::Option::Some(#text)),
            None => quote!(::core::option::Option::None),
        };
        let check = quote! {
            #error(&#konst, ::core::option::Option::Some(#field), &[], #literal)
        };
        panic_on(check, f.name.span())
    });
    let entry_check = panic_on(
        quote! {
            #error(&#konst, ::core::option::Option::None, &[#(#field_names),*], ::core::option::Option::None)
        },
        span,
    );
    quote_spanned! {span=>
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        const #konst: #ty = {
            let mut config = #default;
            #(#assigns)*
            config
        };
        #(#field_checks)*
        #entry_check
    }
}

/// `const _: () = if let Some(message) = CHECK { panic!("{}", message) };`, located at `span`.
fn panic_on(check: TokenStream, span: Span) -> TokenStream {
    let message = Ident::new("message", Span::mixed_site());
    quote_spanned! {span=>
        #[allow(clippy::panic)]
        const _: () = if let ::core::option::Option::Some(#message) = #check {
            ::core::panic!("{}", #message.as_str())
        };
    }
}

/// A numeric literal as written (`1.5`, `-0.5`), for a message that `const` cannot format.
fn literal_text(value: &Expr) -> Option<String> {
    match value {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Float(f) => Some(f.base10_digits().to_owned()),
            Lit::Int(i) => Some(i.base10_digits().to_owned()),
            _ => None,
        },
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            literal_text(&unary.expr).map(|text| format!("-{text}"))
        }
        Expr::Paren(paren) => literal_text(&paren.expr),
        Expr::Group(group) => literal_text(&group.expr),
        _ => None,
    }
}
