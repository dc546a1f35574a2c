//! The macros' documentation; the code lives in `breaker-macros`.

/// Declares the components this crate calls, once, and checks them at compile time.
///
/// ```
/// use std::time::Duration;
///
/// breaker::breakers! {
///     /// Binance market-data websocket.
///     binance_ws,
///     binance_rest { error_rate_threshold: 0.3, open_cooldown: Duration::from_secs(10) },
///     kraken_rest,
/// }
///
/// # fn main() {
/// assert_eq!(breakers::binance_rest.declared_config().map(|c| c.error_rate_threshold), Some(0.3));
/// assert_eq!(breakers::ALL.len(), 3);
/// # }
/// ```
///
/// This expands to a `pub mod breakers` holding one `pub static` [`ComponentHandle`] per
/// component (named after it), `ALL`, an array of them, and `declare`, which registers the
/// whole manifest in a registry at startup. `#[circuit_breaker(component = "binance_ws")]`
/// names `crate::breakers::binance_ws`, so a misspelt or undeclared component is rustc's own
/// error at your string (with "a static with a similar name exists"). Declare the manifest at
/// the crate root, or re-export it there with `pub use path::breakers;` (a library can share
/// its manifest that way: `pub use dep::breakers;`); a manifest left in a module is an error
/// at the attribute that says so.
///
/// - Names are lower snake_case identifiers, not keywords, each declared once; `declare` is
///   reserved for the function.
/// - `name { field: value, .. }` overrides [`CircuitConfig`] fields on top of the registry's
///   defaults. Field names and types are checked by rustc; an out-of-range value fails to
///   compile, at the field, with the words [`CircuitConfig::validate`] would use at run time
///   (`error_rate_threshold = 1.5: must be in (0, 1]`), after rustc's `evaluation panicked:`.
///   A `const` cannot format a float or a duration, so the value is written as the macro saw
///   it when it is a literal (`1.5`, `-0.5`); counts and a zero duration are written whatever
///   the expression; any other value (a `const`, `Duration::from_secs(..)`) is left out and
///   the message names the field and the rule only.
/// - `name[]` (optionally `name[] { field: value, .. }`) declares a keyed family: a breaker
///   per key, created at run time (see README "Families"). Its `static` is a
///   [`FamilyHandle`](crate::FamilyHandle), listed in `breakers::FAMILIES` (not in `ALL`,
///   which holds the components). Its [`FamilyConfig`](crate::FamilyConfig) fields
///   (`max_keys`, `idle_ttl`, `unhealthy_key_ratio`, `min_keys`, `max_open_ratio`,
///   `per_key_metrics`) go into the family's config, every other field into its keys'
///   `CircuitConfig`; both are checked at compile time the same way (`max_keys = 0: must be
///   between 1 and 1000000`). A family is used with `#[circuit_breaker(component = "name",
///   key = expr)]`; names are shared with the components (declared once across both).
/// - `breakers::declare(&registry)` registers every component of the manifest, all or
///   nothing, and then every family, so a snapshot lists them before their first call (and strict mode knows them
///   before a config file is loaded). Without it, the first use of any handle registers the
///   whole manifest in the process-wide [`registry`](crate::registry()) (creating that
///   registry if needed: [`install`](crate::install) a custom one before it), and later uses
///   go straight to the breaker with no map lookup.
/// - `crate = path;` as the first item names a re-exported `breaker` crate.
///
/// ```
/// breaker::breakers! { orders_api, fills_api }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = breaker::GlobalCircuitBreaker::new(breaker::CircuitConfig::DEFAULT)?;
/// breakers::declare(&registry)?;
/// assert_eq!(registry.components(), ["fills_api", "orders_api"]);
/// # Ok(())
/// # }
/// ```
///
/// [`ComponentHandle`]: crate::ComponentHandle
/// [`CircuitConfig`]: crate::CircuitConfig
/// [`CircuitConfig::validate`]: crate::CircuitConfig::validate
pub use breaker_macros::breakers;

/// Protects a function with its component's circuit breaker.
///
/// ```
/// # use breaker::CircuitError;
/// breaker::breakers! { binance_rest }
///
/// #[derive(Debug)]
/// enum ApiError { Http(u16), Breaker(CircuitError) }
/// impl From<CircuitError> for ApiError {
///     fn from(e: CircuitError) -> Self { ApiError::Breaker(e) }
/// }
///
/// #[breaker::circuit_breaker(component = "binance_rest")]
/// fn ticker(symbol: &str) -> Result<f64, ApiError> {
///     if symbol.is_empty() {
///         return Err(ApiError::Http(400)); // recorded as a failure, like any `Err`
///     }
///     Ok(42_000.0)
/// }
///
/// # fn main() {
/// assert_eq!(ticker("BTCUSDT").ok(), Some(42_000.0));
/// # }
/// ```
///
/// `fn ticker(..) -> Result<T, E> { BODY }` becomes, in effect:
///
/// ```text
/// fn ticker(..) -> Result<T, E> {
///     let guard = match acquire(&crate::breakers::binance_rest) {
///         Ok(guard) => guard,
///         Err(refused) => return Err(E::from(refused)),   // or `return FALLBACK(args..)`
///     };
///     let out: Result<T, E> = call_once(move || BODY);     // `async move BODY`.await for async fns
///     guard.record(/* Ok: Success, Err: Failure, unless failure_if / ignore_if say otherwise */);
///     out
/// }
/// ```
///
/// so every exit of BODY (`?`, `return`, the tail) is recorded, a panic is recorded as a
/// failure by the guard's `Drop`, and a cancelled async call gives its half-open slot back.
///
/// Arguments:
///
/// | argument | meaning |
/// |---|---|
/// | `component = "name"` or `component = name` | required: a component declared in `breakers!` |
/// | `key = expr` | required for a keyed family (`name[]`), refused for a plain component: a string-like expression over the arguments (`&str`, `String`, `Cow<str>`, `Arc<str>`, ..., see [`IntoKey`](crate::IntoKey)) that picks the key's breaker, as in `key = url.host_str().unwrap_or_default()`. Evaluated once per call, before the breaker is asked and so before the body (for an async fn or a future tail, at the first poll, like the acquire); it is borrowed (`&(expr)`), so it may name an argument the body then uses or moves, and a fallback gets the arguments unchanged |
/// | `failure_if = path` | `fn(&E) -> bool`: which errors are failures; the others count as successes |
/// | `ignore_if = path` | `fn(&E) -> bool`: errors that count as neither (a 404); checked first |
/// | `fallback = path` | called with the same arguments (and `.await`ed for async fns) instead of returning the rejection; must return the same type |
/// | `registry = path` | a [`GlobalCircuitBreaker`](crate::GlobalCircuitBreaker) (or anything that derefs to one, such as a `Lazy`) instead of the process-wide registry |
/// | `crate = path` | where the `breaker` crate is, when it is re-exported |
/// | `timeout = "2s"` | async fns (and fns returning a future) only: a humantime duration above zero, checked at compile time; a call still running after it is cut off (see below) |
///
/// `timeout` is measured from admission on the breaker's [`Clock`](crate::Clock) (the
/// real clock's timer is tokio's, feature `tokio`; a [`FakeClock`](crate::FakeClock) fires it
/// when advanced past the deadline). A call past it has its future dropped (what it holds is
/// released, and a half-open probe's slot comes back), is recorded as a failure (and as slow
/// too when the timeout is at least `slow_call_threshold`; `failure_if` and `ignore_if` do not
/// see it) and returns `Err(CircuitError::Timeout { component, after }.into())`, also when a
/// `fallback` is given: the fallback answers refusals, and the arguments it would need were
/// moved into the call that was cut off. A `timeout` on a sync fn is a compile error.
///
/// Works on free functions and methods (`&self`, `&mut self`, `self: Arc<Self>`), generic
/// functions, `async fn` (also in traits), `fn .. -> impl Future` ending in `async move { .. }`
/// and `#[async_trait]` methods (only the tail `Box::pin(async move { .. })` is rewritten).
/// The function must return `Result<T, E>` with `E: From<CircuitError>` (or have a
/// `fallback`); [`CircuitError`](crate::CircuitError) converts into `std::io::Error`, and
/// [`CallError<E>`](crate::CallError) wraps an error type you did not write (a refusal is
/// `CallError::Rejected`, the body's error `CallError::Inner`, written
/// `.map_err(CallError::Inner)?`).
pub use breaker_macros::circuit_breaker;
