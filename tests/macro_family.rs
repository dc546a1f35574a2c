#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `breakers!`'s keyed families (`name[] { .. }`) and `#[circuit_breaker(key = ..)]`: each
//! call lands on its key's breaker, one key opening refuses only that key, the key
//! expression runs once per call and before the body, a refused call runs the fallback, and
//! `registry = ..` and `breakers::declare` reach the family.
//!
//! Each test has its own registry (on its own `FakeClock`); no function here uses the
//! process-wide registry.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::Duration;

use breaker::{
    circuit_breaker, CircuitConfig, CircuitError, CircuitState, FakeClock, FamilyConfig,
    GlobalCircuitBreaker,
};
use futures::executor::block_on;
use once_cell::sync::Lazy;

breaker::breakers! {
    /// Upstream hosts, a breaker each.
    upstream_host[] {
        max_keys: 50,
        idle_ttl: Duration::from_secs(120),
        min_calls: 2,
        error_rate_threshold: 0.5,
        open_cooldown: Duration::from_secs(60),
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
    },
    /// Every family field at once (checked against `FamilyConfig::FIELDS`).
    every_field[] {
        max_keys: 7,
        idle_ttl: Duration::from_secs(5),
        unhealthy_key_ratio: 0.25,
        min_keys: 2,
        max_open_ratio: 0.5,
        per_key_metrics: false,
    },
    bare[],
    plain_venue,
}

fn new_registry() -> GlobalCircuitBreaker {
    GlobalCircuitBreaker::builder()
        .config(CircuitConfig::DEFAULT)
        .clock(FakeClock::new())
        .build()
        .unwrap()
}

#[derive(Debug, PartialEq)]
enum HttpError {
    Status(u16),
    Refused(&'static str),
}

impl From<CircuitError> for HttpError {
    fn from(e: CircuitError) -> Self {
        HttpError::Refused(e.reason())
    }
}

fn status(code: u16) -> Result<u16, HttpError> {
    if code < 400 {
        Ok(code)
    } else {
        Err(HttpError::Status(code))
    }
}

#[test]
fn the_entry_splits_family_fields_from_breaker_fields() {
    assert_eq!(
        breakers::upstream_host.declared_family_fields(),
        ["max_keys", "idle_ttl"]
    );
    assert_eq!(breakers::upstream_host.declared_fields().len(), 5);
    let family = breakers::upstream_host.declared_family_config().unwrap();
    assert_eq!(family.max_keys, 50);
    assert_eq!(family.idle_ttl, Duration::from_secs(120));
    assert_eq!(
        breakers::upstream_host.declared_config().unwrap().min_calls,
        2
    );
    // The macro's list of family fields is the runtime's.
    assert_eq!(
        breakers::every_field.declared_family_fields(),
        FamilyConfig::FIELDS
    );
    assert_eq!(breakers::every_field.declared_config(), None);
    assert_eq!(
        breakers::every_field.declared_family_config(),
        Some(FamilyConfig {
            max_keys: 7,
            idle_ttl: Duration::from_secs(5),
            unhealthy_key_ratio: 0.25,
            min_keys: 2,
            max_open_ratio: 0.5,
            per_key_metrics: false,
        })
    );
    assert_eq!(breakers::bare.declared_family_config(), None);
    assert_eq!(breakers::bare.declared_config(), None);
    assert_eq!(breakers::FAMILIES.len(), 3);
    assert_eq!(breakers::ALL.len(), 1);
    assert_eq!(breakers::ALL[0].name(), "plain_venue");
}

#[test]
fn declare_registers_the_families_too() {
    let registry = new_registry();
    breakers::declare(&registry).unwrap();
    let mut families = registry.families();
    families.sort();
    assert_eq!(families, ["bare", "every_field", "upstream_host"]);
    assert_eq!(registry.family("every_field").unwrap().config().max_keys, 7);
    assert!(registry.component("plain_venue").is_some());
    // Idempotent.
    breakers::declare(&registry).unwrap();
    assert_eq!(registry.families().len(), 3);
}

mod per_key {
    use super::*;

    pub(super) static REG: Lazy<GlobalCircuitBreaker> = Lazy::new(new_registry);
    static RUNS: AtomicU32 = AtomicU32::new(0);

    #[circuit_breaker(component = "upstream_host", key = host, registry = REG)]
    pub(super) fn get(host: &str, code: u16) -> Result<u16, HttpError> {
        RUNS.fetch_add(1, SeqCst);
        status(code)
    }

    #[test]
    fn each_outcome_lands_on_its_keys_breaker_and_one_key_opening_spares_the_others() {
        assert_eq!(get("b.example", 200), Ok(200));
        assert_eq!(get("b.example", 200), Ok(200));
        assert_eq!(get("a.example", 500), Err(HttpError::Status(500)));
        let family = breakers::upstream_host.family_in(&REG);
        let a = family.get("a.example").unwrap().snapshot();
        let b = family.get("b.example").unwrap().snapshot();
        assert_eq!((a.successes, a.failures), (0, 1));
        assert_eq!((b.successes, b.failures), (2, 0));

        // Two failures of two calls (min_calls 2, threshold 0.5): `a` opens, `b` does not.
        assert_eq!(get("a.example", 503), Err(HttpError::Status(503)));
        assert_eq!(family.get("a.example").unwrap().state(), CircuitState::Open);
        assert_eq!(
            family.get("b.example").unwrap().state(),
            CircuitState::Closed
        );

        let runs = RUNS.load(SeqCst);
        assert_eq!(get("a.example", 200), Err(HttpError::Refused("open")));
        assert_eq!(
            RUNS.load(SeqCst),
            runs,
            "a refused call does not run the body"
        );
        assert_eq!(get("b.example", 200), Ok(200), "another key is not refused");
        assert_eq!(get("c.example", 200), Ok(200), "nor a new one");
        assert_eq!(family.get("c.example").unwrap().snapshot().successes, 1);
    }
}

mod evaluation_order {
    use super::*;

    static REG: Lazy<GlobalCircuitBreaker> = Lazy::new(new_registry);
    /// What happened, in order.
    static TRACE: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn key_of(tenant: &str) -> String {
        TRACE.lock().unwrap().push(format!("key {tenant}"));
        format!("tenant-{tenant}")
    }

    #[circuit_breaker(component = "upstream_host", key = key_of(&tenant), registry = REG)]
    fn call(tenant: String, code: u16) -> Result<u16, HttpError> {
        // The body takes the argument the key expression borrowed.
        TRACE.lock().unwrap().push(format!("body {tenant}"));
        status(code)
    }

    #[circuit_breaker(component = "upstream_host", key = key_of(&tenant), registry = REG)]
    async fn call_async(tenant: String, code: u16) -> Result<u16, HttpError> {
        TRACE.lock().unwrap().push(format!("body {tenant}"));
        status(code)
    }

    #[test]
    fn the_key_expression_runs_once_per_call_before_the_body() {
        assert_eq!(call("x".to_owned(), 200), Ok(200));
        assert_eq!(call("y".to_owned(), 500), Err(HttpError::Status(500)));
        let future = call_async("z".to_owned(), 200);
        assert!(
            TRACE.lock().unwrap().len() == 4,
            "nothing runs before the first poll"
        );
        assert_eq!(block_on(future), Ok(200));
        assert_eq!(
            *TRACE.lock().unwrap(),
            ["key x", "body x", "key y", "body y", "key z", "body z"]
        );
        let family = breakers::upstream_host.family_in(&REG);
        assert_eq!(family.get("tenant-x").unwrap().snapshot().successes, 1);
        assert_eq!(family.get("tenant-y").unwrap().snapshot().failures, 1);
        assert_eq!(family.get("tenant-z").unwrap().snapshot().successes, 1);
    }
}

mod fallback {
    use super::*;

    static REG: Lazy<GlobalCircuitBreaker> = Lazy::new(new_registry);

    struct Client {
        host: String,
    }

    impl Client {
        #[circuit_breaker(component = "upstream_host", key = self.host, registry = REG, fallback = Self::cached)]
        fn get(&self, code: u16) -> Result<u16, HttpError> {
            status(code)
        }

        fn cached(&self, code: u16) -> Result<u16, HttpError> {
            Ok(code + 1000 + u16::try_from(self.host.len()).unwrap())
        }
    }

    #[test]
    fn a_refused_key_runs_the_fallback_with_the_arguments() {
        let down = Client {
            host: "down".to_owned(),
        };
        let up = Client {
            host: "up".to_owned(),
        };
        assert_eq!(down.get(500), Err(HttpError::Status(500)));
        assert_eq!(down.get(500), Err(HttpError::Status(500)));
        let family = breakers::upstream_host.family_in(&REG);
        assert_eq!(family.get("down").unwrap().state(), CircuitState::Open);
        assert_eq!(
            down.get(200),
            Ok(1204),
            "the fallback got `self` and `code`"
        );
        assert_eq!(up.get(200), Ok(200));
        assert_eq!(family.get("down").unwrap().snapshot().rejections.open, 1);
    }
}

#[test]
fn registry_keeps_the_calls_out_of_other_registries() {
    let other = new_registry();
    assert_eq!(per_key::get("only-here", 200), Ok(200));
    assert!(breakers::upstream_host
        .family_in(&per_key::REG)
        .get("only-here")
        .is_some());
    assert!(breakers::upstream_host
        .family_in(&other)
        .get("only-here")
        .is_none());
    assert!(
        breaker::registry().family("upstream_host").is_none(),
        "the process-wide registry is untouched"
    );
}
