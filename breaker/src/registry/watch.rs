//! Watching a config file for a registry (feature `watch`): the config layer's watcher, with
//! the registry's file reload as what it runs.

use std::ops::Deref;
use std::path::Path;

use crate::config::watch::{self, ConfigWatcher, WatchOptions};
use crate::config::{FileError, FileReport};

use super::GlobalCircuitBreaker;

/// [`watch_with`] with the default [`WatchOptions`].
#[cfg_attr(docsrs, doc(cfg(feature = "watch")))]
#[must_use = "dropping the returned ConfigWatcher stops watching the file at once"]
pub fn watch<R>(
    registry: R,
    path: impl AsRef<Path>,
) -> Result<(ConfigWatcher, FileReport), FileError>
where
    R: Deref<Target = GlobalCircuitBreaker> + Send + 'static,
{
    watch_with(registry, path, WatchOptions::new())
}

/// Loads `path` into `registry` now, then again whenever its contents change. The first load
/// must succeed (a service should not start on a config it cannot read, nor, unless `options`
/// allow it, on an empty file); a later change that is refused leaves the running config in
/// force and emits [`Event::FileRefused`](crate::Event).
///
/// What holds, however the file is replaced (a new file renamed over it, a Kubernetes
/// ConfigMap's `..data` symlink swap, an in-place write such as `cat >` or `std::fs::write`):
/// - the file is read once its directory has been quiet for the debounce period
///   ([`WatchOptions::debounce`]), and not while the file itself is still being written to;
/// - it is put in force only when its bytes differ from the ones the watcher last put in
///   force, so one change is one reload and one `FileReloaded` (or `FileRefused`) event;
/// - bytes that were refused are not read into the registry again until they change;
/// - an empty (or whitespace-only) file is never put in force unless
///   [`WatchOptions::allow_empty`] says so (it is what an in-place write leaves between the
///   truncation and the first write), nor is a missing file: the config in force stays, with
///   a `warn` log and no event.
///
/// The file's directory is watched, and every event in it counts: an editor's rename and a
/// ConfigMap's swap of `..data` never name the watched file, and comparing the bytes makes an
/// unrelated event cost one read of a small file. For a symlink, the directory of the file it
/// points to when the watch starts is watched too. The watch runs on notify's threads (its OS
/// event loop and its debouncer's), none of this crate's.
#[cfg_attr(docsrs, doc(cfg(feature = "watch")))]
#[must_use = "dropping the returned ConfigWatcher stops watching the file at once"]
pub fn watch_with<R>(
    registry: R,
    path: impl AsRef<Path>,
    options: WatchOptions,
) -> Result<(ConfigWatcher, FileReport), FileError>
where
    R: Deref<Target = GlobalCircuitBreaker> + Send + 'static,
{
    watch::start(
        move |path: &Path, text: Result<&str, FileError>| registry.reload_file_contents(path, text),
        path.as_ref(),
        options,
    )
}
