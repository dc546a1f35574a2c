#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Keyed families (issue 11), side by side in one run:
//!
//! - `family_closed_success`: `acquire` + `record(Success)` on a `Closed` breaker through a
//!   manifest handle, next to the same through a family key by `&str` (1,000 live keys, the
//!   key's SipHash, a shard read lock and a reference count on top) and through a manifest
//!   family handle (`__private::acquire_keyed`, what `key = expr` generates).
//! - `family_churn`: 1,000,000 distinct keys over time into a family of `max_keys = 1,000`,
//!   printing resident memory (`/proc/self/statm`) before and after: it stays flat.
//!
//! `cargo bench --bench family` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::time::Duration;

use breaker::{FakeClock, FamilyConfig, FamilyHandle, GlobalCircuitBreaker, Outcome, Permit};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

breaker::breakers! {
    bench_handle,
}

static HOSTS: FamilyHandle = breaker::__private::family_handle("bench_hosts", None, &[], None, &[]);

fn record(permit: Permit<'_>) -> bool {
    match permit {
        Permit::Allowed(guard) => {
            black_box(guard.record(Outcome::Success));
            true
        }
        Permit::Rejected(e) => {
            black_box(e);
            false
        }
    }
}

fn closed(c: &mut Criterion) {
    let registry = breaker::registry();
    let family = registry
        .register_family("bench_family", FamilyConfig::DEFAULT)
        .unwrap();
    let keys: Vec<String> = (0..1_000)
        .map(|i| format!("host-{i:04}.example.com"))
        .collect();
    for key in &keys {
        drop(family.key(key).unwrap());
        drop(HOSTS.key(key).unwrap());
    }
    let mut g = c.benchmark_group("family_closed_success");
    g.throughput(Throughput::Elements(1));
    g.bench_function("manifest handle", |b| {
        b.iter(|| record(black_box(&breakers::bench_handle).acquire()))
    });
    let mut i = 0usize;
    g.bench_function("family key by &str", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            record(family.acquire(black_box(keys[i].as_str())))
        })
    });
    let mut j = 0usize;
    g.bench_function("manifest family handle, key = expr", |b| {
        b.iter(|| {
            j = (j + 1) % keys.len();
            match breaker::__private::acquire_keyed(&HOSTS, black_box(keys[j].as_str())) {
                Ok(guard) => black_box(guard.record(Outcome::Success)),
                Err(e) => panic!("{e}"),
            };
        })
    });
    g.finish();
}

/// Resident memory in KiB, from `/proc/self/statm` (0 where there is none).
fn rss_kib() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    pages * 4
}

fn churn(c: &mut Criterion) {
    let clock = FakeClock::new();
    let registry = GlobalCircuitBreaker::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    let family = registry
        .register_family(
            "churn",
            FamilyConfig {
                max_keys: 1_000,
                idle_ttl: Duration::from_secs(1),
                ..FamilyConfig::DEFAULT
            },
        )
        .unwrap();
    let mut key = String::new();
    let mut n = 0u64;
    let mut next = |family: &breaker::Family| {
        use std::fmt::Write;
        key.clear();
        let _ = write!(key, "host-{n}.example");
        n += 1;
        if n.is_multiple_of(100) {
            clock.advance(Duration::from_millis(200));
        }
        record(family.acquire(&key))
    };
    for _ in 0..1_000 {
        next(&family);
    }
    let before = rss_kib();
    for _ in 0..1_000_000 {
        next(&family);
    }
    let after = rss_kib();
    println!(
        "family_churn: 1,000,000 distinct keys, max_keys 1,000: RSS {before} KiB after the first \
         1,000 keys, {after} KiB after the million ({} live, {} evicted, {} overflow calls)",
        family.live(),
        family.evictions(),
        family.overflow_calls()
    );
    let mut g = c.benchmark_group("family_churn");
    g.throughput(Throughput::Elements(1));
    g.bench_function("a new key per call, max_keys 1,000", |b| {
        b.iter(|| next(&family))
    });
    g.finish();
}

criterion_group!(benches, closed, churn);
criterion_main!(benches);
