#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Keys are untrusted input: any valid UTF-8 up to `MAX_KEY_LEN` bytes is a key, longer keys
//! are refused with a clear error (never a panic, never truncated), and control characters
//! cannot forge log lines.

use breaker::{CircuitConfig, CircuitError, FamilyConfig, KeyError, Permit, MAX_KEY_LEN};
use breaker_suite::registry;

fn family() -> (
    breaker::GlobalCircuitBreaker,
    std::sync::Arc<breaker::Family>,
) {
    let (_clock, registry, _log) = registry(CircuitConfig::DEFAULT);
    let family = registry
        .register_family("hosts", FamilyConfig::DEFAULT)
        .unwrap();
    (registry, family)
}

#[test]
fn odd_but_valid_keys_are_keys_of_their_own() {
    let (_r, family) = family();
    let keys = [
        "",
        " ",
        "\u{FFFD}",
        "../../etc/passwd",
        "%00%ff",
        "a\"b\\c",
        "日本語.example",
        "emoji-🦀",
        "__overflow__",
        "hosts[x]",
        "\0",
    ];
    for key in keys {
        let k = family.key(key).unwrap();
        assert!(!k.is_overflow());
        assert_eq!(k.name().key(), Some(key), "the key comes back exactly");
        assert_eq!(k.name().family(), Some("hosts"));
    }
    assert_eq!(family.live() as usize, keys.len(), "each is its own key");
    assert!(family.acquire("__overflow__").is_allowed());
    assert!(!std::sync::Arc::ptr_eq(
        family.key("__overflow__").unwrap().breaker(),
        family.overflow()
    ));
}

#[test]
fn control_characters_are_escaped_in_the_name() {
    let (_r, family) = family();
    let k = family
        .key("evil\n2026-01-01 INFO forged\r\u{1b}[31m")
        .unwrap();
    let shown = k.name().to_string();
    assert_eq!(shown.lines().count(), 1);
    assert!(!shown.contains('\u{1b}'));
    assert_eq!(shown, "hosts[evil\\n2026-01-01 INFO forged\\r\\u{1b}[31m]");
}

#[test]
fn a_key_at_the_limit_is_accepted_and_one_byte_more_is_refused() {
    let (_r, family) = family();
    let at_limit = "a".repeat(MAX_KEY_LEN);
    assert!(family.key(&at_limit).is_ok());
    let over = "a".repeat(MAX_KEY_LEN + 1);
    assert_eq!(
        family.key(&over).unwrap_err(),
        KeyError::TooLong {
            len: MAX_KEY_LEN + 1
        }
    );
    let huge = "x".repeat(10 * 1024);
    let err = family.key(&huge).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a family key is at most 256 bytes; this one has 10240"
    );
    match family.acquire(&huge) {
        Permit::Rejected(e @ CircuitError::InvalidKey { .. }) => {
            assert_eq!(e.component(), "hosts");
            assert_eq!(e.reason(), "invalid_key");
            assert_eq!(
                e.to_string(),
                "keyed family `hosts` refused a key: a family key is at most 256 bytes"
            );
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    // Multi-byte characters count in bytes.
    let wide = "é".repeat(MAX_KEY_LEN / 2 + 1);
    assert!(family.key(&wide).is_err());
    assert_eq!(family.live(), 1, "refused keys made no breaker");
}
