//! Rewrites a function into acquire -> call -> record against its component's handle.
//!
//! The shapes, and why the generated code looks the way it does:
//! - **sync fn**: the body runs in `call_once(move || BODY)`, an `FnOnce`, so `?` and `return`
//!   leave the closure (and are recorded like any other exit) and the body may return borrows
//!   of `&mut` arguments (a closure inferred as `Fn` cannot; tracing#2847).
//! - **async fn**: the body runs as `typed_future::<RET, _>(async move BODY).await`; the guard
//!   is held across the await (it is `Send`). Naming RET up front lets `?` in the body infer its
//!   error type. A panic in the body (or in `failure_if`) needs no `catch_unwind` here: it
//!   unwinds through the generated `async` block's `poll`, which drops the block's live locals,
//!   the guard among them, while unwinding, so the guard records a failure even when a catcher
//!   above keeps the future alive (`FutureExt::catch_unwind`, tower-http's `CatchPanicLayer`);
//!   tests/panics.rs pins it. A hand-written future that holds a guard in a field does not get
//!   this: see `breaker::layer`'s `ResponseFuture`.
//! - **fn returning a future** (`-> impl Future`, `#[async_trait]`'s `Pin<Box<dyn Future>>`):
//!   only the tail `async move { .. }` / `Box::pin(async move { .. })` is rewritten and every
//!   other statement is left alone (tracing#1297, #1866), so the future stays `Send`.
//! - `impl Trait` in RET is erased to `_` where RET is written out (it is not allowed there).
//! - The user's signature and body tokens are reused as they are, so their own lints
//!   (`dead_code`, `unused_variables`) and type errors still point at their code; inner
//!   attributes (`#![allow(..)]`) are hoisted into the new body (tracing#2294); the body is
//!   quoted exactly once; the macro's locals are `mixed_site`, so they cannot clash with the
//!   user's.
//! - The handle is looked up as `crate::breakers::NAME` through a glob import, with a stand-in
//!   `breakers` in an outer scope, so a manifest declared in a module gets one error that says
//!   to declare it at the crate root, not rustc's suggestion of `component = infra::breakers`
//!   (a module); see `Rewrite::root_handle`.
//! - **`key = expr`** (a keyed family): `expr` is evaluated once per call, just before the
//!   breaker is asked (so before the body; for an async fn or a future tail, when the future is
//!   first polled, as the acquire is), borrowed (`&(expr)`, so an argument it names is not
//!   moved), in a statement of its own, so its borrows of the arguments end before the body
//!   or the fallback takes them. The `&` and the parentheses span the user's expression, so
//!   "not string-like" points at all of it.
//! - Using a family without `key`, or `key` on a plain component, is one E0277 at the
//!   component's name that says which, worded per call site (`Rewrite::root_handle`).
//! - On any error the original item is emitted beside the error, so one mistake does not
//!   cascade into errors at every call site.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    AttrStyle, Block, Expr, FnArg, GenericArgument, Item, ItemFn, Pat, PathArguments, ReturnType,
    Stmt, TraitItemFn, Type,
};

use crate::args::{Args, Timeout};

pub(crate) fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(e) => {
            let error = e.to_compile_error();
            quote!(#error #item)
        }
    }
}

fn try_expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function = parse_function(item)?;
    let args: Args = syn::parse2(args)?;
    Rewrite::new(args, function)?.expand()
}

/// The item as a function with a body, or an error that says what to do instead.
fn parse_function(item: TokenStream) -> syn::Result<ItemFn> {
    if let Ok(f) = syn::parse2::<ItemFn>(item.clone()) {
        return Ok(f);
    }
    if let Ok(m) = syn::parse2::<TraitItemFn>(item.clone()) {
        return match m.default {
            Some(block) => Ok(ItemFn {
                attrs: m.attrs,
                vis: syn::Visibility::Inherited,
                sig: m.sig,
                block: Box::new(block),
            }),
            None => Err(syn::Error::new(
                m.sig.ident.span(),
                "#[circuit_breaker] needs a function body to protect: put it on the method in \
                 the `impl` block, not on the trait's declaration",
            )),
        };
    }
    let span = match syn::parse2::<Item>(item) {
        Ok(Item::Struct(s)) => s.ident.span(),
        Ok(Item::Enum(e)) => e.ident.span(),
        Ok(Item::Trait(t)) => t.ident.span(),
        Ok(Item::Impl(i)) => i.impl_token.span,
        Ok(Item::Mod(m)) => m.ident.span(),
        Ok(Item::Static(s)) => s.ident.span(),
        Ok(Item::Const(c)) => c.ident.span(),
        _ => Span::call_site(),
    };
    Err(syn::Error::new(
        span,
        "#[circuit_breaker] can only be applied to functions and methods (sync or async) that \
         return `Result`",
    ))
}

enum Shape {
    Sync,
    Async,
    /// A non-async fn returning a future; the path to its tail `async` block and the future's
    /// `Output` type.
    FutureTail(Box<Type>),
}

struct Rewrite {
    args: Args,
    function: ItemFn,
    shape: Shape,
    ret: Type,
    krate: TokenStream,
}

impl Rewrite {
    fn new(args: Args, function: ItemFn) -> syn::Result<Self> {
        let sig = &function.sig;
        if let Some(c) = &sig.constness {
            return Err(syn::Error::new(
                c.span,
                "#[circuit_breaker] cannot be used on a `const fn`: a breaker decides at run time",
            ));
        }
        let ret = match &sig.output {
            ReturnType::Type(_, ty) => (**ty).clone(),
            ReturnType::Default => {
                return Err(syn::Error::new(
                    sig.ident.span(),
                    format!(
                        "#[circuit_breaker] needs `{}` to return `Result<T, E>`: it records `Ok` \
                         as a success and `Err` as a failure, and returns `Err` when the breaker \
                         refuses the call; this function returns `()`",
                        sig.ident
                    ),
                ))
            }
        };
        let shape = if sig.asyncness.is_some() {
            Shape::Async
        } else if let Some(output) = future_output(&ret) {
            Shape::FutureTail(Box::new(output))
        } else {
            Shape::Sync
        };
        check_timeout(&args, &shape)?;
        let krate = args
            .krate
            .as_ref()
            .map_or_else(|| quote!(::breaker), ToTokens::to_token_stream);
        Ok(Self {
            args,
            function,
            shape,
            ret,
            krate,
        })
    }

    fn expand(self) -> syn::Result<TokenStream> {
        let ItemFn {
            attrs,
            vis,
            sig,
            block,
        } = &self.function;
        let (inner, outer): (Vec<_>, Vec<_>) = attrs
            .iter()
            .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
        let private = self.private();
        let body = match &self.shape {
            Shape::Sync => {
                let ret = erase_impl_trait(&self.ret);
                self.protect(
                    &quote!(#private::call_once::<#ret, _>(move || #block)),
                    false,
                )?
            }
            Shape::Async => {
                let ret = erase_impl_trait(&self.ret);
                self.protect(
                    &quote!(#private::typed_future::<#ret, _>(async move #block)),
                    true,
                )?
            }
            Shape::FutureTail(output) => {
                let output = erase_impl_trait(output);
                let mut block = (**block).clone();
                let tail = tail_async_block(&mut block)?;
                let inner_block = tail.block.clone();
                let protected = self.protect(
                    &quote!(#private::typed_future::<#output, _>(async move #inner_block)),
                    true,
                )?;
                let span = tail.async_token.span;
                *tail = syn::parse2(quote_spanned!(span=> async move { #protected }))?;
                let stmts = &block.stmts;
                quote!(#(#stmts)*)
            }
        };
        // The new body reuses the user's brace token: with call-site braces the item's span
        // is the macro's, and rustc's `dead_code` stays silent about an unused annotated fn
        // (tracing#3108, #1366).
        let mut new_block = TokenStream::new();
        block.brace_token.surround(&mut new_block, |tokens| {
            tokens.extend(quote!(#(#inner)* #body));
        });
        Ok(quote! {
            #(#outer)*
            #vis #sig #new_block
        })
    }

    fn private(&self) -> TokenStream {
        let krate = &self.krate;
        quote!(#krate::__private)
    }

    /// acquire; on refusal return the rejection (or the fallback); run `call` (a future when
    /// `is_async`); record; return.
    fn protect(&self, call: &TokenStream, is_async: bool) -> syn::Result<TokenStream> {
        let private = self.private();
        let mixed = Span::mixed_site();
        let guard = syn::Ident::new("guard", mixed);
        let out = syn::Ident::new("out", mixed);
        let err = syn::Ident::new("err", mixed);
        let outcome = syn::Ident::new("outcome", mixed);

        let component = &self.args.component;
        // The path resolves at the call site but is *located* at the user's component name, so
        // rustc's "cannot find value" lands on their string, while lints that skip macro
        // output (`unused_qualifications`) do not fire on `crate::breakers::`.
        let at_name = Span::call_site().located_at(component.span());
        let component = syn::Ident::new(&component.to_string(), at_name);
        let handle = self.root_handle(&component, at_name);
        let acquire = match (&self.args.registry, &self.args.key) {
            (None, None) => quote!(#private::acquire(#handle)),
            (Some(registry), None) => quote!(#private::acquire_in(&#registry, #handle)),
            (None, Some(key)) => {
                let key = borrowed(key);
                quote!(#private::acquire_keyed(#handle, #key))
            }
            (Some(registry), Some(key)) => {
                let key = borrowed(key);
                quote!(#private::acquire_keyed_in(&#registry, #handle, #key))
            }
        };
        let acquired = syn::Ident::new("acquired", mixed);
        let refused = match &self.args.fallback {
            Some(fallback) => {
                // The arguments carry the path's span, so a wrong fallback signature is
                // reported at `fallback = path`, not spread over the parameter list.
                let forwarded = respan(&self.forwarded_args(fallback)?, fallback.span());
                let call = quote_spanned!(fallback.span()=> #fallback(#forwarded));
                if is_async {
                    quote!(#call.await)
                } else {
                    call
                }
            }
            None => respan(&quote!(#private::Reject::rejected(#err)), self.ret.span()),
        };
        let failed = match &self.args.failure_if {
            Some(path) => {
                // Located at the user's path, so a wrong signature is reported there.
                let call = respan(&quote!(#path(#err)), path.span());
                quote!(if #call { #private::Outcome::Failure } else { #private::Outcome::Success })
            }
            None => quote!(#private::Outcome::Failure),
        };
        let on_error = match &self.args.ignore_if {
            Some(path) => {
                let call = respan(&quote!(#path(#err)), path.span());
                quote!(if #call { #private::Outcome::Ignored } else { #failed })
            }
            None => failed,
        };
        // Without a fallback the value must also be rejectable, so a function returning `u32`
        // gets one error (at its return type), not one per trait.
        let classify = match &self.args.fallback {
            Some(_) => quote!(#private::error_of),
            None => quote!(#private::error_of_rejectable),
        };
        let classify = respan(&quote!(#classify(&#out)), self.ret.span());
        let call = match (&self.args.timeout, is_async) {
            (Some(timeout), true) => self.timed(call, timeout),
            (None, true) => quote!(#call.await),
            (_, false) => call.clone(),
        };
        Ok(quote! {
            let #acquired = #acquire;
            let #guard = match #acquired {
                ::core::result::Result::Ok(#guard) => #guard,
                ::core::result::Result::Err(#err) => return #refused,
            };
            let #out = #call;
            let #outcome = match #classify {
                ::core::option::Option::None => #private::Outcome::Success,
                ::core::option::Option::Some(#err) => #on_error,
            };
            #guard.record(#outcome);
            #out
        })
    }

    /// `timeout = ".."`: the call future awaited for at most the timeout on the breaker's
    /// clock; past it the future is dropped, the call recorded as a failure and the
    /// `CircuitError::Timeout` returned through `From<CircuitError>` (also with a `fallback`:
    /// the arguments were moved into the cut-off call, so the fallback cannot have them).
    fn timed(&self, call: &TokenStream, timeout: &Timeout) -> TokenStream {
        let private = self.private();
        let mixed = Span::mixed_site();
        let guard = syn::Ident::new("guard", mixed);
        let after = syn::Ident::new("after", mixed);
        let done = syn::Ident::new("done", mixed);
        let nanos = timeout.nanos;
        let err = syn::Ident::new("err", mixed);
        let rejected = respan(&quote!(#private::Reject::rejected(#err)), self.ret.span());
        quote!({
            let #after = ::core::time::Duration::from_nanos(#nanos);
            match #private::timed(&#guard, #after, #call).await {
                ::core::option::Option::Some(#done) => #done,
                ::core::option::Option::None => {
                    let #err = #private::timed_out(&#guard, #after);
                    #guard.record(#private::Outcome::Failure);
                    return #rejected;
                }
            }
        })
    }

    /// `&crate::breakers::NAME`, as a block whose only failure is a diagnostic that tells a
    /// newcomer where the manifest belongs.
    ///
    /// Written as `crate::breakers::NAME`, a manifest declared in a module (`mod infra {
    /// breakers! { .. } }`) makes rustc suggest `component = infra::breakers`, a module, not a
    /// component. Instead the path is resolved in two scopes: an inner `use crate::*;` finds
    /// the crate root's `breakers` (declared there or `pub use`d there), and only when there is
    /// none does lookup fall through to a stand-in `mod breakers` in the outer scope, whose
    /// `NAME` has a type that lacks `DeclaredAtCrateRoot`. The failure is then one E0277 at
    /// the user's component name, worded by `on_unimplemented`. A wrong name with a real
    /// manifest is still rustc's own "cannot find value" with its "similar name" hint. The
    /// block holds no user code, so the stand-in shadows nothing the user wrote.
    fn root_handle(&self, component: &syn::Ident, at_name: Span) -> TokenStream {
        let private = self.private();
        let label = format!(
            "`#[circuit_breaker]` looks this component up as `crate::breakers::{component}`"
        );
        // The handle's kind must match `key`: a local trait per call site, so the message
        // names the component. Its method's return type does not depend on `Self`, so a
        // mismatch is this one error, not one more at `__private::acquire*`.
        let (expected, message, kind_label, note) = match &self.args.key {
            None => (
                quote!(#private::ComponentHandle),
                format!("`{component}` is a keyed family: add `key = <expr>`"),
                "a keyed family needs a key to pick its breaker".to_owned(),
                format!(
                    "e.g. `#[circuit_breaker(component = \"{component}\", key = host)]`, \
                     where the key is an expression over the function's arguments"
                ),
            ),
            Some(_) => (
                quote!(#private::FamilyHandle),
                format!(
                    "`{component}` is not a family: remove `key`, or declare it as `{component}[]`"
                ),
                "a plain component has one breaker, for every call".to_owned(),
                format!(
                    "`{component}[]` in `breakers!` declares a keyed family: a breaker per key"
                ),
            ),
        };
        quote_spanned! {at_name=> {
            #[diagnostic::on_unimplemented(
                message = "no `breakers!` manifest at the crate root",
                label = #label,
                note = "declare `breakers!` at the crate root (or `pub use path::breakers;` there)",
                note = "`#[circuit_breaker]` finds components only through `crate::breakers`, wherever the function is; a manifest declared inside a module is not seen",
            )]
            trait DeclaredAtCrateRoot {
                type Handle: ?::core::marker::Sized + 'static;
                fn handle(&'static self) -> &'static Self::Handle;
            }
            #[diagnostic::do_not_recommend]
            impl DeclaredAtCrateRoot for #private::ComponentHandle {
                type Handle = Self;
                #[inline(always)]
                fn handle(&'static self) -> &'static Self {
                    self
                }
            }
            #[diagnostic::do_not_recommend]
            impl DeclaredAtCrateRoot for #private::FamilyHandle {
                type Handle = Self;
                #[inline(always)]
                fn handle(&'static self) -> &'static Self {
                    self
                }
            }
            #[diagnostic::on_unimplemented(message = #message, label = #kind_label, note = #note)]
            trait ExpectedKind {
                fn expected(&'static self) -> &'static #expected;
            }
            #[diagnostic::do_not_recommend]
            impl ExpectedKind for #expected {
                #[inline(always)]
                fn expected(&'static self) -> &'static #expected {
                    self
                }
            }
            #[allow(non_camel_case_types, non_upper_case_globals, dead_code, unreachable_pub)]
            mod breakers {
                pub struct NoManifestAtCrateRoot;
                pub static #component: NoManifestAtCrateRoot = NoManifestAtCrateRoot;
            }
            // Only `breakers` is named under the glob, so no crate-root item can shadow the
            // trait above.
            ExpectedKind::expected(DeclaredAtCrateRoot::handle({
                #[allow(unused_imports, clippy::wildcard_imports)]
                use crate::*;
                &breakers::#component
            }))
        }}
    }

    /// The function's parameters, to pass on to the fallback unchanged.
    fn forwarded_args(&self, fallback: &syn::Path) -> syn::Result<TokenStream> {
        self.function
            .sig
            .inputs
            .iter()
            .map(|arg| match arg {
                FnArg::Receiver(r) => Ok(r.self_token.to_token_stream()),
                FnArg::Typed(t) => match &*t.pat {
                    Pat::Ident(p) => Ok(p.ident.to_token_stream()),
                    other => Err(syn::Error::new(
                        other.span(),
                        format!(
                            "`fallback = {}` receives this function's arguments, so each \
                             parameter needs a plain name, not a pattern",
                            fallback.to_token_stream()
                        ),
                    )),
                },
            })
            .collect::<syn::Result<Vec<_>>>()
            .map(|args| quote!(#(#args),*))
    }
}

/// A timeout needs a future to cut off: on a sync fn it is an error at `timeout`.
fn check_timeout(args: &Args, shape: &Shape) -> syn::Result<()> {
    match (&args.timeout, shape) {
        (Some(timeout), Shape::Sync) => Err(syn::Error::new(
            timeout.key.span(),
            "`timeout` needs an `async fn` (or a fn returning a future): a sync call cannot be \
             cut off without leaving it running on its thread; time it out inside the body \
             (a socket or client timeout) instead",
        )),
        _ => Ok(()),
    }
}

/// `&(key)`, with the `&` located at the expression's first token and the parentheses at its
/// last, so the whole reference spans the user's expression (`Span::join` is not stable).
fn borrowed(key: &Expr) -> TokenStream {
    let tokens = key.to_token_stream();
    let first = tokens.clone().into_iter().next().map(|t| t.span());
    let last = tokens.clone().into_iter().last().map(|t| t.span());
    let (Some(first), Some(last)) = (first, last) else {
        return quote!(&(#key));
    };
    let amp = quote_spanned!(Span::call_site().located_at(first)=> &);
    let mut parens = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, tokens);
    parens.set_span(Span::call_site().located_at(last));
    quote!(#amp #parens)
}

/// `tokens` located at `span` (each keeping its own hygiene), so rustc points at one place of
/// the user's code.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(g) = &tree {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(&g.stream(), span));
                group.set_span(g.span().located_at(span));
                tree = proc_macro2::TokenTree::Group(group);
            } else {
                tree.set_span(tree.span().located_at(span));
            }
            tree
        })
        .collect()
}

/// `Output` of `impl Future<Output = T>` or `Pin<Box<dyn Future<Output = T> + ..>>`, if the
/// return type is a future.
fn future_output(ty: &Type) -> Option<Type> {
    let bounds = match ty {
        Type::ImplTrait(t) => &t.bounds,
        Type::TraitObject(t) => &t.bounds,
        Type::Paren(p) => return future_output(&p.elem),
        Type::Group(g) => return future_output(&g.elem),
        Type::Path(p) => {
            // Pin<Box<..>>: look inside the generic arguments.
            let last = p.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            return args.args.iter().find_map(|a| match a {
                GenericArgument::Type(t) => future_output(t),
                _ => None,
            });
        }
        _ => return None,
    };
    bounds.iter().find_map(|b| {
        let syn::TypeParamBound::Trait(t) = b else {
            return None;
        };
        let last = t.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(at) if at.ident == "Output" => Some(at.ty.clone()),
            _ => None,
        })
    })
}

/// The `async` block a future-returning function ends in: `async move { .. }` or
/// `Box::pin(async move { .. })`.
fn tail_async_block(block: &mut Block) -> syn::Result<&mut syn::ExprAsync> {
    let span = block.brace_token.span.close();
    let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() else {
        return Err(not_async_tail(span));
    };
    let tail_span = tail.span();
    match tail {
        Expr::Async(a) => Ok(a),
        Expr::Call(call) if call.args.len() == 1 && is_pin_call(&call.func) => {
            match call.args.first_mut() {
                Some(Expr::Async(a)) => Ok(a),
                _ => Err(not_async_tail(tail_span)),
            }
        }
        _ => Err(not_async_tail(tail_span)),
    }
}

fn is_pin_call(func: &Expr) -> bool {
    matches!(func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "pin"))
}

fn not_async_tail(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "#[circuit_breaker] can only protect a function returning a future if its body ends in \
         `async move { .. }` or `Box::pin(async move { .. })`; write it as an `async fn` instead",
    )
}

/// RET with every `impl Trait` replaced by `_`, for the places where RET is written out.
fn erase_impl_trait(ty: &Type) -> Type {
    struct Erase;
    impl VisitMut for Erase {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(t) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](t.span()),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Erase.visit_type_mut(&mut ty);
    ty
}
