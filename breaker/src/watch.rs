//! Live reload: watch a config file and put it in force whenever it changes (feature `watch`).

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::{FileError, FileReport, GlobalCircuitBreaker};

/// Keeps watching while it lives; drop it to stop.
pub struct ConfigWatcher {
    path: PathBuf,
    _watcher: RecommendedWatcher,
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

/// Loads `path` into `registry` now, then again on every change. The first load must succeed
/// (a service should not start on a config it cannot read); a later change that is refused
/// leaves the running config in force and emits [`Event::FileRefused`](crate::Event).
///
/// The directory is watched rather than the file, so editors that save by writing a new file
/// and renaming it over the old one are seen too.
pub fn watch<R>(
    registry: R,
    path: impl AsRef<Path>,
) -> Result<(ConfigWatcher, FileReport), FileError>
where
    R: Deref<Target = GlobalCircuitBreaker> + Send + 'static,
{
    let path = path.as_ref().to_owned();
    let report = registry.reload_from_path(&path)?;
    let watched = path.clone();
    let file_name = path.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let relevant = event.kind.is_modify() || event.kind.is_create();
        let ours = event
            .paths
            .iter()
            .any(|p| p.file_name().map(ToOwned::to_owned) == file_name);
        if relevant && ours {
            // Errors are reported through the registry's events and logs.
            let _ = registry.reload_from_path(&watched);
        }
    })
    .map_err(|e| watch_error(&path, &e))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| watch_error(&path, &e))?;
    Ok((
        ConfigWatcher {
            path,
            _watcher: watcher,
        },
        report,
    ))
}

fn watch_error(path: &Path, e: &notify::Error) -> FileError {
    FileError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(format!("cannot watch the config file: {e}")),
    }
}
