#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `breaker::watch`: with real files in a tempdir, every way a config file is replaced puts
//! the new file in force exactly once, and nothing half-written or empty is ever put in force.
//!
//! Each test counts the registry's `FileReloaded` / `FileRefused` events exactly, polls with
//! a bounded deadline (never a fixed sleep for the watcher), and after the expected event
//! watches a quiet window to prove that no second one follows. The config in force is checked
//! at every poll, so a transient wrong config (the defaults of an empty file, a prefix of a
//! file being written) fails the test even if it is repaired later. Registries run on a
//! `FakeClock`; the only real time is the file system's.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use breaker::{CircuitConfig, Event, FakeClock, GlobalCircuitBreaker};
use breaker_suite::EventLog;
use breaker_suite::Patience;

/// `watch`'s default debounce: the directory must be quiet this long before the file is read.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// How long a test waits for the watcher before it fails.
const DEADLINE: Duration = Duration::from_secs(20);
/// Long enough for a late duplicate reload to show: two debounce periods and some slack.
const QUIET: Duration = Duration::from_millis(1_300);
const POLL: Duration = Duration::from_millis(10);

const INITIAL: &str = "[defaults]\nmin_calls = 11\n";
const NEXT: &str = "[defaults]\nmin_calls = 12\n";

struct Fixture {
    dir: tempfile::TempDir,
    path: PathBuf,
    registry: Arc<GlobalCircuitBreaker>,
    log: EventLog,
}

impl Fixture {
    /// The path and error of the first `FileRefused` event.
    fn first_refusal(&self) -> (Option<PathBuf>, String) {
        self.log
            .events()
            .into_iter()
            .find_map(|e| match e {
                Event::FileRefused { path, error } => Some((path, error)),
                _ => None,
            })
            .expect("a file was refused")
    }

    /// A registry whose code defaults have `min_calls = 20` (`CircuitConfig::DEFAULT`), and a
    /// `breakers.toml` holding `initial` in a fresh directory.
    fn new(initial: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("breakers.toml");
        fs::write(&path, initial).unwrap();
        Self::in_dir(dir, path)
    }

    fn in_dir(dir: tempfile::TempDir, path: PathBuf) -> Self {
        let log = EventLog::default();
        let registry = Arc::new(
            GlobalCircuitBreaker::builder()
                .config(CircuitConfig::DEFAULT)
                .clock(FakeClock::new())
                .on_event(log.hook())
                .build()
                .unwrap(),
        );
        Self {
            dir,
            path,
            registry,
            log,
        }
    }

    /// `(FileReloaded, FileRefused)` so far, the watcher's first load included.
    fn counts(&self) -> (usize, usize) {
        let events = self.log.events();
        let reloaded = events
            .iter()
            .filter(|e| matches!(e, Event::FileReloaded { .. }))
            .count();
        let refused = events
            .iter()
            .filter(|e| matches!(e, Event::FileRefused { .. }))
            .count();
        (reloaded, refused)
    }

    fn min_calls(&self) -> u32 {
        self.registry.config().min_calls
    }

    /// Polls until `done`, running `invariant` at every poll; fails after [`DEADLINE`].
    fn wait_for(&self, what: &str, mut invariant: impl FnMut(&Self), done: impl Fn(&Self) -> bool) {
        let mut patience = Patience::new(DEADLINE, POLL);
        loop {
            invariant(self);
            if done(self) {
                return;
            }
            assert!(
                patience.again(),
                "timed out waiting for {what}; events: {:?}",
                self.log.events()
            );
        }
    }

    /// Polls for `window`, running `invariant` at every poll.
    fn hold(&self, window: Duration, mut invariant: impl FnMut(&Self)) {
        let mut patience = Patience::new(window, POLL);
        loop {
            invariant(self);
            if !patience.again() {
                break;
            }
        }
    }

    /// Waits for exactly `want` (reloaded, refused) events, checking at every poll that the
    /// config in force is one of `allowed` and the counts never pass `want`; then holds for
    /// [`QUIET`] to prove nothing more arrives.
    fn expect(&self, want: (usize, usize), allowed: &[u32]) {
        let invariant = |f: &Self| {
            let (reloaded, refused) = f.counts();
            assert!(
                reloaded <= want.0 && refused <= want.1,
                "more events than {want:?}: {:?}",
                f.log.events()
            );
            let m = f.min_calls();
            assert!(
                allowed.contains(&m),
                "min_calls = {m} was in force, allowed {allowed:?}"
            );
        };
        self.wait_for(&format!("{want:?} events"), invariant, |f| {
            f.counts() == want
        });
        self.hold(QUIET, invariant);
    }
}

/// Saves as editors and config-management tools do: a new file renamed over the old one.
fn save_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

#[test]
fn an_atomic_rename_reloads_exactly_once() {
    let f = Fixture::new(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();
    assert_eq!((f.counts(), f.min_calls()), ((1, 0), 11), "the first load");

    save_by_rename(&f.path, NEXT);
    f.expect((2, 0), &[11, 12]);
    assert_eq!(f.min_calls(), 12);

    save_by_rename(&f.path, "[defaults]\nmin_calls = 13\n");
    f.expect((3, 0), &[12, 13]);
    assert_eq!(f.min_calls(), 13);
}

#[test]
fn an_in_place_write_reloads_exactly_once_and_never_puts_the_defaults_in_force() {
    let f = Fixture::new(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();

    // `std::fs::write`: truncate, write, close.
    fs::write(&f.path, NEXT).unwrap();
    f.expect((2, 0), &[11, 12]);
    assert_eq!(f.min_calls(), 12);
}

#[test]
fn a_truncated_file_is_not_taken_for_all_defaults() {
    let f = Fixture::new(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();

    // `cat > breakers.toml` with a writer that has not written yet: the file is empty for
    // longer than the debounce. The defaults (min_calls = 20) must never be in force.
    let mut file = fs::File::create(&f.path).unwrap();
    f.hold(DEBOUNCE * 3, |f| {
        assert_eq!(f.counts(), (1, 0), "{:?}", f.log.events());
        assert_eq!(f.min_calls(), 11);
    });
    file.write_all(NEXT.as_bytes()).unwrap();
    drop(file);
    f.expect((2, 0), &[11, 12]);
    assert_eq!(f.min_calls(), 12);
}

#[test]
fn a_file_written_in_pieces_is_read_once_it_is_complete() {
    let f = Fixture::new(INITIAL);
    f.registry.register("db").unwrap();
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();

    // Every prefix that ends a line is a valid file, so only the debounce keeps a prefix out.
    // The writer takes longer than the debounce in all, pausing well under it between pieces.
    let pieces = [
        "[defaults]\n",
        "min_calls = 12\n",
        "[components.db]\n",
        "min_calls = 13\n",
        "open_cooldown = \"7s\"\n",
    ];
    let mut file = fs::File::create(&f.path).unwrap();
    for piece in pieces {
        for byte in piece.as_bytes().chunks(4) {
            file.write_all(byte).unwrap();
            // The writer's pace (like a slow `cat > file`), not a wait for the watcher.
            std::thread::sleep(Duration::from_millis(25));
            assert_eq!(f.counts(), (1, 0), "read while being written");
            assert_eq!(f.min_calls(), 11);
        }
    }
    drop(file);
    f.expect((2, 0), &[11, 12]);
    let db = f.registry.component("db").unwrap().config();
    assert_eq!((f.min_calls(), db.min_calls), (12, 13));
    assert_eq!(db.open_cooldown, Duration::from_secs(7));
}

/// Kubernetes' layout for a mounted ConfigMap: `breakers.toml -> ..data/breakers.toml`,
/// `..data -> ..<timestamp>`, and an update writes a new timestamped directory, points a new
/// `..data_tmp` link at it, renames that over `..data` and removes the old directory.
#[cfg(unix)]
mod configmap {
    use std::os::unix::fs::symlink;

    use super::*;

    pub(super) fn publish(dir: &Path, generation: u32, text: &str) {
        let stamp = format!("..2026_05_01_12_00_{generation:02}.123456789");
        fs::create_dir(dir.join(&stamp)).unwrap();
        fs::write(dir.join(&stamp).join("breakers.toml"), text).unwrap();
        symlink(&stamp, dir.join("..data_tmp")).unwrap();
        fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        if generation > 1 {
            let old = format!("..2026_05_01_12_00_{:02}.123456789", generation - 1);
            fs::remove_dir_all(dir.join(old)).unwrap();
        }
    }

    pub(super) fn mounted(text: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        publish(dir.path(), 1, text);
        let path = dir.path().join("breakers.toml");
        symlink("..data/breakers.toml", &path).unwrap();
        Fixture::in_dir(dir, path)
    }
}

#[cfg(unix)]
#[test]
fn a_configmap_update_by_symlink_swap_reloads_exactly_once() {
    let f = configmap::mounted(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();
    assert_eq!((f.counts(), f.min_calls()), ((1, 0), 11));

    configmap::publish(f.dir.path(), 2, NEXT);
    f.expect((2, 0), &[11, 12]);
    assert_eq!(f.min_calls(), 12);

    configmap::publish(f.dir.path(), 3, "[defaults]\nmin_calls = 0\n");
    f.expect((2, 1), &[12]);

    configmap::publish(f.dir.path(), 4, "[defaults]\nmin_calls = 14\n");
    f.expect((3, 1), &[12, 14]);
    assert_eq!(f.min_calls(), 14);
}

#[test]
fn a_refused_edit_is_refused_once_and_the_same_bytes_again_change_nothing() {
    let f = Fixture::new(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();

    save_by_rename(&f.path, "[defaults]\nmin_calls = 0\n");
    f.expect((1, 1), &[11]);
    let (path, error) = f.first_refusal();
    assert_eq!(path.as_deref(), Some(f.path.as_path()));
    assert!(error.contains("min_calls = 0"), "{error}");

    // The same bad bytes saved again, and another file in the directory: nothing to read.
    save_by_rename(&f.path, "[defaults]\nmin_calls = 0\n");
    fs::write(f.dir.path().join("notes.txt"), "unrelated").unwrap();
    f.expect((1, 1), &[11]);

    // Back to the bytes in force: nothing changes either.
    save_by_rename(&f.path, INITIAL);
    f.expect((1, 1), &[11]);

    save_by_rename(&f.path, NEXT);
    f.expect((2, 1), &[11, 12]);
    assert_eq!(f.min_calls(), 12);
}

#[test]
fn a_removed_file_keeps_the_config_until_a_new_one_appears() {
    let f = Fixture::new(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();

    fs::remove_file(&f.path).unwrap();
    f.expect((1, 0), &[11]);
    fs::write(&f.path, NEXT).unwrap();
    f.expect((2, 0), &[11, 12]);
    assert_eq!(f.min_calls(), 12);
}

/// A path that exists but cannot be read as a file (here: a directory in its place) is
/// refused once, as an I/O error naming the file; the config in force stays, and a readable
/// file at the path again is put in force.
#[test]
fn an_unreadable_path_is_refused_once_and_a_file_back_is_loaded() {
    let f = Fixture::new(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();

    fs::remove_file(&f.path).unwrap();
    fs::create_dir(&f.path).unwrap();
    f.expect((1, 1), &[11]);
    let (path, error) = f.first_refusal();
    assert_eq!(path.as_deref(), Some(f.path.as_path()));
    assert!(error.contains("breakers.toml"), "{error}");

    fs::remove_dir(&f.path).unwrap();
    fs::write(&f.path, NEXT).unwrap();
    f.expect((2, 1), &[11, 12]);
    assert_eq!(f.min_calls(), 12);
}

#[test]
fn dropping_the_watcher_stops_watching() {
    let f = Fixture::new(INITIAL);
    let (watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();
    drop(watcher);
    save_by_rename(&f.path, NEXT);
    f.expect((1, 0), &[11]);
}

/// Alone among these tests in using a relative path, so no other test depends on the current
/// directory this one sets.
#[test]
fn a_bare_file_name_is_watched_in_the_current_directory() {
    let f = Fixture::new("[defaults]\nmin_calls = 7\n");
    std::env::set_current_dir(f.dir.path()).unwrap();
    let (watcher, report) = breaker::watch(Arc::clone(&f.registry), "breakers.toml").unwrap();
    assert!(report.unknown_components.is_empty());
    assert_eq!(f.min_calls(), 7);
    assert_eq!(watcher.path(), Path::new("breakers.toml"));
    assert!(format!("{watcher:?}").contains("breakers.toml"));

    save_by_rename(&f.path, NEXT);
    f.expect((2, 0), &[7, 12]);
    assert_eq!(f.min_calls(), 12);
}

#[test]
fn an_empty_file_is_refused_at_start_unless_empty_files_are_allowed() {
    let f = Fixture::new("");
    let err = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap_err();
    assert!(err.to_string().contains("the file is empty"), "{err}");
    assert_eq!(f.counts(), (0, 1));
    assert_eq!(f.min_calls(), 20, "the code's config, untouched");

    let options = breaker::WatchOptions::new().allow_empty(true);
    let (_watcher, _report) =
        breaker::watch_with(Arc::clone(&f.registry), &f.path, options).unwrap();
    assert_eq!(f.counts(), (1, 1));
    assert_eq!(f.registry.config_file().as_deref(), Some(f.path.as_path()));
}

#[test]
fn with_empty_files_allowed_a_truncation_puts_the_code_config_in_force_once() {
    let f = Fixture::new(INITIAL);
    let options = breaker::WatchOptions::default()
        .allow_empty(true)
        .debounce(Duration::from_millis(200));
    let (_watcher, _report) =
        breaker::watch_with(Arc::clone(&f.registry), &f.path, options).unwrap();
    assert_eq!(f.min_calls(), 11);

    fs::File::create(&f.path).unwrap();
    f.expect((2, 0), &[11, 20]);
    assert_eq!(f.min_calls(), 20);
}

#[test]
fn a_file_that_is_not_utf8_is_refused_once() {
    let f = Fixture::new(INITIAL);
    let (_watcher, _report) = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap();
    let tmp = f.path.with_extension("toml.tmp");
    fs::write(&tmp, b"[defaults]\nmin_calls = 12 # \xff\n").unwrap();
    fs::rename(&tmp, &f.path).unwrap();
    f.expect((1, 1), &[11]);
    let error = f.log.events().into_iter().find_map(|e| match e {
        Event::FileRefused { error, .. } => Some(error),
        _ => None,
    });
    assert!(error.unwrap().contains("UTF-8"));
}

#[test]
fn a_missing_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let f = Fixture::in_dir(dir, path);
    let err = breaker::watch(Arc::clone(&f.registry), &f.path).unwrap_err();
    assert!(matches!(err, breaker::FileError::Io { .. }), "{err}");
    assert_eq!(f.counts(), (0, 1));
}

#[test]
fn options_are_plain_values() {
    let options = breaker::WatchOptions::new();
    assert_eq!(options, breaker::WatchOptions::default());
    assert_ne!(options, options.allow_empty(true));
    assert_ne!(options, options.debounce(Duration::from_secs(2)));
    assert!(format!("{options:?}").contains("debounce: 500ms"));
}
