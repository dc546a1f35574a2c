//! What the macros' generated code calls. Not a public API: names and signatures may change
//! in any release. Generated code names nothing of `breaker` outside this module, so the
//! items it needs here (a handle's constructor, the `const` config check and its message)
//! need not be public anywhere else.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use crate::config::{describe_violation, Violation};

pub use crate::config::Message;
pub use crate::{
    CallGuard, CircuitConfig, CircuitError, ComponentHandle, FamilyConfig, FamilyHandle,
    GlobalCircuitBreaker, IntoKey, Outcome, RegistryError,
};

/// The base of every manifest entry's config: its fields are assigned on top.
pub const DEFAULT_CONFIG: CircuitConfig = CircuitConfig::DEFAULT;

/// The base of every manifest family entry's family config: its family fields are assigned
/// on top.
pub const DEFAULT_FAMILY_CONFIG: FamilyConfig = FamilyConfig::DEFAULT;

/// A manifest's handle; `breakers!` checked `config` at compile time.
pub const fn handle(
    name: &'static str,
    config: Option<CircuitConfig>,
    fields: &'static [&'static str],
    manifest: &'static [&'static ComponentHandle],
) -> ComponentHandle {
    ComponentHandle::new(name, config, fields, manifest)
}

/// `breakers::declare`: registers every component of `manifest` in `registry` at once (all
/// or nothing), then every family of `families` (a family entry cannot be refused).
#[inline]
pub fn declare(
    registry: &GlobalCircuitBreaker,
    manifest: &'static [&'static ComponentHandle],
    families: &'static [&'static FamilyHandle],
) -> Result<(), RegistryError> {
    ComponentHandle::declare_all(manifest, registry)?;
    for family in families {
        drop(family.family_in(registry));
    }
    Ok(())
}

/// The compile error for a manifest entry's config, if it breaks a rule, worded as the
/// runtime's [`ConfigError`](crate::ConfigError) (see `describe` in `config/validate.rs`).
///
/// Each field the entry sets gets its own check (`at: Some(field)`, located at the user's
/// field, with `literal` the value as written when it is a literal), which reports only a
/// rule broken by that field; the entry's own check (`at: None`) reports a rule broken by a
/// field the entry does not set (`written` lists those it does), so exactly one check fires.
pub const fn manifest_error(
    config: &CircuitConfig,
    at: Option<&str>,
    written: &[&str],
    literal: Option<&str>,
) -> Option<Message> {
    let Err(violation) = config.check() else {
        return None;
    };
    reported_here(&violation, at, written, literal)
}

/// [`manifest_error`] for a family entry's family config (`FamilyConfig`'s rules, each about
/// one field, worded as the runtime's `ConfigError`).
pub const fn family_manifest_error(
    family: &FamilyConfig,
    at: Option<&str>,
    written: &[&str],
    literal: Option<&str>,
) -> Option<Message> {
    let Err(violation) = family.check() else {
        return None;
    };
    reported_here(&violation, at, written, literal)
}

/// The message of `violation` if the check `at` owns it (see [`manifest_error`]).
const fn reported_here(
    violation: &Violation,
    at: Option<&str>,
    written: &[&str],
    literal: Option<&str>,
) -> Option<Message> {
    let mine = match at {
        Some(field) => same(violation.field, field),
        None => !written_by_entry(violation, written),
    };
    if mine {
        Some(describe_violation(violation, literal))
    } else {
        None
    }
}

const fn written_by_entry(violation: &Violation, written: &[&str]) -> bool {
    let mut i = 0;
    while i < written.len() {
        if same(violation.field, written[i]) {
            return true;
        }
        i += 1;
    }
    false
}

/// `a == b`, in `const` context.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// What `component = "name"` without `key` may name: a plain component's handle. A keyed
/// family's handle does not implement it, so using a family without a key fails to compile
/// with this message.
#[diagnostic::on_unimplemented(
    message = "this component is a keyed family: add `key = ...` to `#[circuit_breaker]`",
    label = "a keyed family needs a key to pick its breaker",
    note = "e.g. `#[circuit_breaker(component = \"upstream_host\", key = url.host_str().unwrap_or_default())]`"
)]
pub trait PlainComponent: Sync + 'static {
    /// The component's handle.
    fn handle(&self) -> &ComponentHandle;
}

impl PlainComponent for ComponentHandle {
    #[inline(always)]
    fn handle(&self) -> &ComponentHandle {
        self
    }
}

/// What `component = "name", key = expr` may name: a keyed family's handle. A plain
/// component's handle does not implement it, so `key` on a plain component fails to compile
/// with this message.
#[diagnostic::on_unimplemented(
    message = "this component is not a keyed family: `key = ...` applies to families only",
    label = "a plain component has one breaker; remove `key = ...`",
    note = "declare a family with `name[]` in `breakers!` (e.g. `upstream_host[] {{ max_keys: 1_000 }}`) to get a breaker per key"
)]
pub trait KeyedFamily: Sync + 'static {
    /// The family's handle.
    fn handle(&self) -> &FamilyHandle;
}

impl KeyedFamily for FamilyHandle {
    #[inline(always)]
    fn handle(&self) -> &FamilyHandle {
        self
    }
}

/// The `static` for a `breakers!` family entry. `config` is `CircuitConfig::DEFAULT` with the
/// entry's breaker `fields`, `family` is `FamilyConfig::DEFAULT` with its `family_fields`
/// (`None` when it sets none); check both in `const` items ([`manifest_error`],
/// [`family_manifest_error`]) before calling this.
pub const fn family_handle(
    name: &'static str,
    config: Option<CircuitConfig>,
    fields: &'static [&'static str],
    family: Option<FamilyConfig>,
    family_fields: &'static [&'static str],
) -> FamilyHandle {
    FamilyHandle::new(name, config, fields, family, family_fields)
}

/// Acquires `key`'s breaker of a family handle in the process-wide registry (the key
/// expression is evaluated before the call; a key longer than `MAX_KEY_LEN` is refused with
/// `CircuitError::InvalidKey`).
#[inline]
pub fn acquire_keyed<H: KeyedFamily + ?Sized, K: IntoKey>(
    handle: &'static H,
    key: K,
) -> Result<CallGuard<'static>, CircuitError> {
    handle.handle().family().acquire(key.as_key()).into_result()
}

/// Acquires `key`'s breaker of a family handle's family in another registry.
#[inline]
pub fn acquire_keyed_in<H: KeyedFamily + ?Sized, K: IntoKey>(
    registry: &GlobalCircuitBreaker,
    handle: &H,
    key: K,
) -> Result<CallGuard<'static>, CircuitError> {
    handle
        .handle()
        .family_in(registry)
        .acquire(key.as_key())
        .into_result()
}

/// The value a protected function returns, seen as success or failure.
#[diagnostic::on_unimplemented(
    message = "#[circuit_breaker] cannot classify a return value of type `{Self}`",
    label = "this function must return `Result<T, E>`",
    note = "the breaker records `Ok` as a success and `Err` as a failure, and returns `Err(CircuitError.into())` when it refuses the call"
)]
pub trait Classify {
    /// The error type.
    type Error;
    /// The error, if the call failed.
    fn error(&self) -> Option<&Self::Error>;
}

impl<T, E> Classify for Result<T, E> {
    type Error = E;

    #[inline]
    fn error(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

/// Builds the value a refused call returns.
#[diagnostic::on_unimplemented(
    message = "#[circuit_breaker] cannot protect a function returning `{Self}`",
    label = "this function must return `Result<T, E>` with `E: From<breaker::CircuitError>`",
    note = "the breaker records `Ok` as a success and `Err` as a failure, and a refused call returns `Err(CircuitError.into())` (or calls `fallback = path`)",
    note = "for an error type you did not write, return `Result<T, breaker::CallError<E>>`"
)]
pub trait Reject: Classify {
    /// `Err(error.into())`.
    fn rejected(error: CircuitError) -> Self;
}

impl<T, E: From<CircuitError>> Reject for Result<T, E> {
    #[inline]
    fn rejected(error: CircuitError) -> Self {
        Err(E::from(error))
    }
}

/// Runs the sync body as an `FnOnce`, so it may return borrows of `&mut` arguments and move
/// out of its captures.
#[inline(always)]
pub fn call_once<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

/// Pins the async body's output type before its `?` and `return`s are checked.
#[inline(always)]
pub fn typed_future<R, F: Future<Output = R>>(f: F) -> F {
    f
}

/// Awaits `call` for at most `after` on the guard's breaker's clock: `Some(output)`, or
/// `None` once the time is up, with `call` already dropped (so whatever it held, a
/// connection, a lock, is released before the caller records the failure). `call` is polled
/// before the timer, so a call that finishes in the poll its deadline passes still counts.
pub async fn timed<F: Future>(
    guard: &CallGuard<'_>,
    after: Duration,
    call: F,
) -> Option<F::Output> {
    let mut timer = guard.breaker().sleep(after);
    let mut call = std::pin::pin!(call);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = call.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// The error a call cut off by `timeout = ".."` returns (through `From<CircuitError>`, or
/// the fallback gets it as a refusal).
#[inline]
pub fn timed_out(guard: &CallGuard<'_>, after: Duration) -> CircuitError {
    CircuitError::Timeout {
        component: guard.breaker().name().clone(),
        after,
    }
}

/// Acquires from a manifest handle in the process-wide registry.
#[inline]
pub fn acquire<H: PlainComponent + ?Sized>(
    handle: &'static H,
) -> Result<CallGuard<'static>, CircuitError> {
    handle.handle().breaker().acquire().into_result()
}

/// Acquires from a manifest handle's component in another registry.
#[inline]
pub fn acquire_in<H: PlainComponent + ?Sized>(
    registry: &GlobalCircuitBreaker,
    handle: &H,
) -> Result<CallGuard<'static>, CircuitError> {
    handle
        .handle()
        .in_registry(registry)
        .acquire_owned()
        .into_result()
}

/// The error of a protected call's value (functions with a `fallback`).
#[inline]
pub fn error_of<R: Classify>(out: &R) -> Option<&R::Error> {
    out.error()
}

/// The error of a protected call's value, which must also be rejectable (functions without
/// a `fallback`): one trait bound, so a wrong return type gets one error.
#[inline]
pub fn error_of_rejectable<R: Reject>(out: &R) -> Option<&R::Error> {
    out.error()
}

#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use super::*;

    /// `max_keys` breaks its own rule.
    const NO_KEYS: FamilyConfig = FamilyConfig {
        max_keys: 0,
        ..FamilyConfig::DEFAULT
    };

    fn family_error(at: Option<&str>, written: &[&str]) -> Option<String> {
        family_manifest_error(&NO_KEYS, at, written, None).map(|m| m.as_str().to_owned())
    }

    #[test]
    fn exactly_one_check_reports_a_family_entrys_broken_field() {
        let message = "max_keys = 0: must be between 1 and 1000000";
        // The field's own check owns it.
        assert_eq!(
            family_error(Some("max_keys"), &["max_keys"]).as_deref(),
            Some(message)
        );
        // Another field's check does not, nor one whose name differs in a byte only.
        assert_eq!(
            family_error(Some("idle_ttl"), &["idle_ttl", "max_keys"]),
            None
        );
        assert_eq!(family_error(Some("max_keyz"), &["max_keyz"]), None);
        // The entry's own check leaves a field the entry sets to that field's check...
        assert_eq!(family_error(None, &["idle_ttl", "max_keys"]), None);
        // ...and reports one it does not set (the defaults cannot break it, but a
        // combination can).
        assert_eq!(family_error(None, &["idle_ttl"]).as_deref(), Some(message));
        // A valid family entry: no check reports anything.
        for at in [None, Some("max_keys")] {
            assert!(family_manifest_error(&FamilyConfig::DEFAULT, at, &[], None).is_none());
        }
    }

    #[test]
    fn a_broken_ratio_is_worded_with_the_literal_as_written() {
        let config = CircuitConfig {
            error_rate_threshold: 1.5,
            ..CircuitConfig::DEFAULT
        };
        let error = manifest_error(
            &config,
            Some("error_rate_threshold"),
            &["error_rate_threshold"],
            Some("1.50"),
        );
        assert_eq!(
            error.map(|m| m.as_str().to_owned()).as_deref(),
            Some("error_rate_threshold = 1.50: must be in (0, 1]")
        );
        assert!(manifest_error(&config, None, &["error_rate_threshold"], None).is_none());
    }

    #[test]
    fn a_message_longer_than_its_capacity_is_cut_never_refused() {
        let config = CircuitConfig {
            error_rate_threshold: 1.5,
            ..CircuitConfig::DEFAULT
        };
        let at = Some("error_rate_threshold");
        let written = ["error_rate_threshold"];
        let prefix = "error_rate_threshold = ";
        let long = "9".repeat(600);
        let cut = manifest_error(&config, at, &written, Some(&long)).unwrap();
        assert_eq!(cut.as_str().len(), 512);
        assert!(cut.as_str().starts_with(prefix));
        assert!(cut.as_str().ends_with('9'));
        // A cut through a character leaves no text rather than half of one.
        let split = format!("{}\u{e9}", "9".repeat(512 - prefix.len() - 1));
        let cut = manifest_error(&config, at, &written, Some(&split)).unwrap();
        assert_eq!(cut.as_str(), "");
        // One byte shorter, the character fits and the rule is cut instead.
        let fits = format!("{}\u{e9}", "9".repeat(512 - prefix.len() - 2));
        let cut = manifest_error(&config, at, &written, Some(&fits)).unwrap();
        assert_eq!(cut.as_str().len(), 512);
        assert!(cut.as_str().ends_with('\u{e9}'));
    }

    #[test]
    fn handles_built_at_run_time_declare_their_entry() {
        let registry = GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).unwrap();
        let component = handle("rt_component", None, &[], &[]);
        assert_eq!(component.name(), "rt_component");
        let family = family_handle(
            "rt_family",
            None,
            &[],
            Some(FamilyConfig {
                max_keys: 4,
                ..FamilyConfig::DEFAULT
            }),
            &["max_keys"],
        );
        assert_eq!(family.declared_family_fields(), ["max_keys"]);
        assert_eq!(family.family_in(&registry).config().max_keys, 4);
        assert_eq!(registry.family("rt_family").unwrap().config().max_keys, 4);
    }
}
