#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The error types a caller handles: each rejection's reason label, component, message and
//! `io::ErrorKind`; `CallError`'s accessors; a refused `Permit`.

use std::io;
use std::time::Duration;

use breaker::{CallError, CircuitError, Permit};

#[test]
fn every_rejection_has_a_reason_label_a_message_and_converts_to_io() {
    let errors = [
        (
            CircuitError::Open {
                component: "a".into(),
                retry_after: Duration::from_millis(1500),
            },
            "open",
            "circuit breaker `a` is open; calls resume in 1s 500ms",
        ),
        (
            CircuitError::HalfOpenExhausted {
                component: "a".into(),
            },
            "half_open_exhausted",
            "circuit breaker `a` is half-open and all its probe slots are in use",
        ),
        (
            CircuitError::GlobalOpen {
                component: "a".into(),
                retry_after: Duration::ZERO,
            },
            "global_open",
            "the global fuse is open; call to `a` refused, retry in 0s",
        ),
        (
            CircuitError::ForcedOpen {
                component: "a".into(),
            },
            "forced_open",
            "circuit breaker `a` is forced open",
        ),
        (
            CircuitError::ComponentMissing {
                component: "a".into(),
            },
            "component_missing",
            "no circuit breaker is registered for component `a`",
        ),
    ];
    for (error, label, text) in errors {
        assert_eq!(error.reason(), label);
        assert_eq!(error.component(), "a");
        assert_eq!(error.to_string(), text);
        let expected = if label == "component_missing" {
            io::ErrorKind::NotFound
        } else {
            io::ErrorKind::ConnectionRefused
        };
        let io = io::Error::from(error);
        assert_eq!(io.kind(), expected);
        assert_eq!(io.to_string(), text, "the io::Error keeps the message");
    }
}

#[test]
fn sub_millisecond_retry_hints_read_as_0s() {
    let soon = CircuitError::Open {
        component: "a".into(),
        retry_after: Duration::from_micros(10),
    };
    assert_eq!(
        soon.to_string(),
        "circuit breaker `a` is open; calls resume in 0s"
    );
}

#[test]
fn call_error_tells_a_rejection_from_the_call_s_own_error() {
    let inner: CallError<&str> = CallError::Inner("boom");
    assert_eq!(inner.rejection(), None);
    assert_eq!(inner.to_string(), "boom");
    assert_eq!(inner.into_inner(), Some("boom"));
    let rejection = CircuitError::HalfOpenExhausted {
        component: "a".into(),
    };
    let refused: CallError<&str> = CallError::Rejected(rejection.clone());
    assert_eq!(refused.rejection(), Some(&rejection));
    assert_eq!(refused.to_string(), rejection.to_string(), "transparent");
    assert_eq!(refused.into_inner(), None);
}

#[test]
fn a_refused_permit_is_not_allowed_and_yields_its_rejection() {
    let rejection = CircuitError::ComponentMissing {
        component: "x".into(),
    };
    let permit = Permit::Rejected(rejection.clone());
    assert!(!permit.is_allowed());
    assert_eq!(permit.into_result().unwrap_err(), rejection);
}
