#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `promtool check metrics` (the real one, Debian package `prometheus`) on the export, with
//! every family populated: a tripped breaker, a forced-open one, the fuse, rejections and
//! slow calls. It fails under `CI=true` when promtool is missing and skips otherwise.
//!
//! promtool lints with the text format 0.0.4 parser, whichever format it is fed: the text
//! format must pass clean. An OpenMetrics exposition describes a counter under its family's
//! name (`# TYPE breaker_calls counter`) with `breaker_calls_total` samples, as OpenMetrics
//! requires, which that parser reads as a series without help: promtool's only findings on it
//! must be exactly those, one per counter family, each with its HELP present under the family
//! name. (Prometheus itself parses the OpenMetrics scrape: `tests/prometheus_real.rs`.)

use std::time::Duration;

use breaker::metrics::{self, Format};
use breaker::{CircuitConfig, Outcome};
use breaker_suite::prometheus::{run, tool};
use breaker_suite::{call, registry, trip};

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    slow_call_threshold: Some(Duration::from_secs(1)),
    ..CircuitConfig::DEFAULT
};

const COUNTERS: [&str; 3] = ["breaker_calls", "breaker_rejections", "breaker_transitions"];

fn populated() -> breaker::GlobalCircuitBreaker {
    let (clock, registry, _log) = registry(CONFIG);
    let db = registry.register("db").unwrap();
    let api = registry.register("api").unwrap();
    registry.register("cache").unwrap().force_open();
    let slow = api.acquire().into_result().unwrap();
    clock.advance(Duration::from_secs(2));
    slow.record(Outcome::Success);
    call(&api, Outcome::Ignored);
    trip(&db);
    assert!(!db.acquire().is_allowed());
    registry
}

fn promtool_check(promtool: &std::path::Path, text: &str) -> (bool, String) {
    let out = run(promtool, &["check", "metrics"], text);
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), findings)
}

#[test]
fn promtool_passes_the_text_format() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let text = metrics::encode(&populated(), Format::Text);
    let (ok, findings) = promtool_check(&promtool, &text);
    assert!(
        ok && findings.trim().is_empty(),
        "promtool: {findings}\n{text}"
    );
}

/// The check itself can fail: the exposition the issue reported (metadata under the family
/// name in the text format) is refused, so the passing test above is not vacuous.
#[test]
fn promtool_refuses_counter_metadata_without_total() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let text = metrics::encode(&populated(), Format::Text)
        .replace("# HELP breaker_calls_total ", "# HELP breaker_calls ")
        .replace("# TYPE breaker_calls_total ", "# TYPE breaker_calls ");
    let (ok, findings) = promtool_check(&promtool, &text);
    assert!(!ok, "{findings}");
    assert!(
        findings.contains("breaker_calls_total no help text"),
        "{findings}"
    );
}

#[test]
fn promtool_finds_only_the_openmetrics_counter_naming_in_openmetrics() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let text = metrics::encode(&populated(), Format::OpenMetrics);
    let (_, findings) = promtool_check(&promtool, &text);
    let mut expected: Vec<String> = COUNTERS
        .iter()
        .map(|c| format!("{c}_total no help text"))
        .collect();
    let mut found: Vec<String> = findings
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(
        found, expected,
        "promtool on OpenMetrics:\n{findings}\n{text}"
    );
    for c in COUNTERS {
        assert!(text.contains(&format!("# HELP {c} ")), "{c}");
        assert!(text.contains(&format!("# TYPE {c} counter\n")), "{c}");
    }
}
