#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `watch` with a bare file name (watched in the current directory), and the watcher's
//! accessors. Alone in its binary: it changes the process's current directory.

use std::sync::Arc;

use breaker::{CircuitConfig, FakeClock, GlobalCircuitBreaker};

#[test]
fn a_bare_file_name_is_watched_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("breakers.toml"),
        "[defaults]\nmin_calls = 7\n",
    )
    .unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let registry = Arc::new(
        GlobalCircuitBreaker::builder()
            .config(CircuitConfig::DEFAULT)
            .clock(FakeClock::new())
            .build()
            .unwrap(),
    );
    let (watcher, report) = breaker::watch(Arc::clone(&registry), "breakers.toml").unwrap();
    assert!(report.unknown_components.is_empty());
    assert_eq!(registry.config().min_calls, 7);
    assert_eq!(watcher.path(), std::path::Path::new("breakers.toml"));
    assert!(format!("{watcher:?}").contains("breakers.toml"));
    drop(watcher);
}
