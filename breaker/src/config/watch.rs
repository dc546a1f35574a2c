//! Live reload: watch a config file and hand its contents over whenever they change (feature
//! `watch`). This layer knows no registry: [`start`] takes the reload to run, and the
//! registry's [`watch_with`](crate::watch_with) passes its own. What holds is documented
//! there.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{
    new_debouncer_opt, Config, DebounceEventResult, DebouncedEventKind, Debouncer,
};
use parking_lot::Mutex;

use super::{FileError, FileReport};

/// How [`watch_with`](crate::watch_with) watches a config file. [`watch`](crate::watch) uses
/// the defaults.
#[cfg_attr(docsrs, doc(cfg(feature = "watch")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    debounce: Duration,
    allow_empty: bool,
}

impl WatchOptions {
    /// The defaults: a 500 ms debounce (notify's debouncer's own default), empty files
    /// refused.
    pub const fn new() -> Self {
        Self {
            debounce: Duration::from_millis(500),
            allow_empty: false,
        }
    }

    /// How long the file's directory must be quiet before the file is read. Longer keeps
    /// out more of a slow writer's partial file; shorter reloads sooner. A file written to
    /// without a pause for longer than this is not read until the writes stop.
    #[must_use]
    pub const fn debounce(mut self, quiet: Duration) -> Self {
        self.debounce = quiet;
        self
    }

    /// Whether an empty (or whitespace-only) file is a config: none of the file's settings,
    /// only the code's. Off by default, because an in-place write empties the file before it
    /// writes it, and a truncated file must not silently put the defaults in force.
    #[must_use]
    pub const fn allow_empty(mut self, allow: bool) -> Self {
        self.allow_empty = allow;
        self
    }
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps watching while it lives; dropping it stops the watch (a reload that the watcher's
/// thread has already begun still finishes).
#[cfg_attr(docsrs, doc(cfg(feature = "watch")))]
#[must_use = "dropping the ConfigWatcher stops watching the file"]
pub struct ConfigWatcher {
    path: PathBuf,
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ConfigWatcher {
    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Starts watching `path`: loads it through `reload` now, then again whenever its contents
/// change (the rules are on the registry's [`watch_with`](crate::watch_with), which calls this
/// with its own reload). `reload` gets the path and its contents as read, or why they could
/// not be; it never reads the file itself.
pub(crate) fn start<F>(
    reload: F,
    path: &Path,
    options: WatchOptions,
) -> Result<(ConfigWatcher, FileReport), FileError>
where
    F: FnMut(&Path, Result<&str, FileError>) -> Result<FileReport, FileError> + Send + 'static,
{
    let path = path.to_owned();
    let reloader = Arc::new(Mutex::new(Reloader {
        reload,
        path: path.clone(),
        names: Vec::new(),
        allow_empty: options.allow_empty,
        in_force: None,
        last_seen: None,
    }));
    // Held until the first load is done, so an event that arrives in between waits for it
    // and is then compared with what that load put in force: no change is missed.
    let mut first = reloader.lock();

    let handler = {
        let reloader = Arc::clone(&reloader);
        move |events: DebounceEventResult| reloader.lock().on_events(events)
    };
    let config = Config::default()
        .with_timeout(options.debounce)
        .with_batch_mode(true);
    let mut debouncer = new_debouncer_opt::<_, RecommendedWatcher>(config, handler)
        .map_err(|e| watch_error(&path, &e))?;
    let dir = directory_of(&path);
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| watch_error(&path, &e))?;
    first.names.extend(path.file_name().map(ToOwned::to_owned));
    // A symlink to a file elsewhere: that file's directory too, so an in-place edit of the
    // target is seen. Best effort: a ConfigMap's target directory is replaced on each update,
    // and the swap itself is seen in `dir`.
    if let Ok(target) = std::fs::canonicalize(&path) {
        let target_dir = directory_of(&target);
        let same = std::fs::canonicalize(&dir).is_ok_and(|d| d == target_dir);
        if !same {
            let _ = debouncer
                .watcher()
                .watch(&target_dir, RecursiveMode::NonRecursive);
        }
        first
            .names
            .extend(target.file_name().map(ToOwned::to_owned));
    }

    let report = first.first_load()?;
    drop(first);
    Ok((
        ConfigWatcher {
            path,
            _debouncer: debouncer,
        },
        report,
    ))
}

/// What the watcher last read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Bytes(Vec<u8>),
    Missing,
    Unreadable(io::ErrorKind, String),
}

fn read(path: &Path) -> Seen {
    match std::fs::read(path) {
        Ok(bytes) => Seen::Bytes(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Seen::Missing,
        Err(e) => Seen::Unreadable(e.kind(), e.to_string()),
    }
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

struct Reloader<F> {
    /// Puts the file's contents in force (the registry's file reload).
    reload: F,
    path: PathBuf,
    /// The file names whose continuous writes defer a read: the path's and its target's.
    names: Vec<std::ffi::OsString>,
    allow_empty: bool,
    /// The bytes this watcher last put in force (`None` before the first load).
    in_force: Option<Vec<u8>>,
    last_seen: Option<Seen>,
}

impl<F> Reloader<F>
where
    F: FnMut(&Path, Result<&str, FileError>) -> Result<FileReport, FileError>,
{
    fn first_load(&mut self) -> Result<FileReport, FileError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(source) => {
                let error = FileError::Io {
                    path: self.path.clone(),
                    source,
                };
                return (self.reload)(&self.path, Err(error));
            }
        };
        if is_blank(&bytes) && !self.allow_empty {
            return (self.reload)(&self.path, Err(empty_error(&self.path)));
        }
        let report = (self.reload)(&self.path, decode(&self.path, &bytes))?;
        self.last_seen = Some(Seen::Bytes(bytes.clone()));
        self.in_force = Some(bytes);
        Ok(report)
    }

    fn on_events(&mut self, events: DebounceEventResult) {
        let events = match events {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(target: "breaker", file = %self.path.display(), %error, "config file watch error");
                return;
            }
        };
        // Not started: the first load failed (and the watch is being dropped).
        if self.in_force.is_none() {
            return;
        }
        let still_written = events.iter().any(|e| {
            e.kind == DebouncedEventKind::AnyContinuous
                && e.path
                    .file_name()
                    .is_some_and(|name| self.names.iter().any(|n| n == name))
        });
        if still_written {
            // The last of its events will come as a plain `Any` once the writer pauses.
            return;
        }
        let seen = read(&self.path);
        if self.last_seen.as_ref() == Some(&seen) {
            return;
        }
        self.last_seen = Some(seen.clone());
        match seen {
            Seen::Bytes(bytes) if self.in_force.as_deref() == Some(bytes.as_slice()) => {}
            Seen::Bytes(bytes) if is_blank(&bytes) && !self.allow_empty => {
                tracing::warn!(
                    target: "breaker",
                    file = %self.path.display(),
                    "the config file is empty (a write in progress?); the config in force stays \
                     (WatchOptions::allow_empty accepts empty files)"
                );
            }
            Seen::Bytes(bytes) => {
                // Refusals are reported by the registry: an event and the error's log.
                let loaded = (self.reload)(&self.path, decode(&self.path, &bytes));
                if loaded.is_ok() {
                    self.in_force = Some(bytes);
                }
            }
            Seen::Missing => {
                tracing::warn!(
                    target: "breaker",
                    file = %self.path.display(),
                    "the config file is gone; the config in force stays until it is back"
                );
            }
            Seen::Unreadable(kind, message) => {
                // Refused, so it is reported as a file that cannot be read, once per error.
                let error = FileError::Io {
                    path: self.path.clone(),
                    source: io::Error::new(kind, message),
                };
                let _ = (self.reload)(&self.path, Err(error));
            }
        }
    }
}

fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, FileError> {
    std::str::from_utf8(bytes).map_err(|e| FileError::Io {
        path: path.to_owned(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the file is not valid UTF-8: {e}"),
        ),
    })
}

fn empty_error(path: &Path) -> FileError {
    FileError::Io {
        path: path.to_owned(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            "the file is empty (WatchOptions::allow_empty accepts an empty file as no settings)",
        ),
    }
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn watch_error(path: &Path, e: &notify::Error) -> FileError {
    FileError::Io {
        path: path.to_owned(),
        source: io::Error::other(format!("cannot watch the config file: {e}")),
    }
}
