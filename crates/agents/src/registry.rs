//! The one registry of the agents' private directories, so that a Ctrl-C / SIGTERM handler can
//! remove them all after stopping the targets. A normal run removes each when its agent drops.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Agent directories alive now.
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live_dirs() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_DIRS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers a live agent's directory.
pub(crate) fn track(dir: &Path) {
    live_dirs().push(dir.to_owned());
}

/// Forgets a directory registered by [`track`] (its agent removes it itself).
pub(crate) fn forget(dir: &Path) {
    live_dirs().retain(|d| d != dir);
}

/// Removes the directory of every live agent (its files and sockets). For a Ctrl-C / SIGTERM
/// handler, after the targets are stopped.
pub fn cleanup_all() {
    cleanup_where(|_| true);
}

/// Removes the live agent directories that `pick` selects.
pub(crate) fn cleanup_where(pick: impl Fn(&PathBuf) -> bool) {
    let mut live = live_dirs();
    let (gone, kept): (Vec<PathBuf>, Vec<PathBuf>) = live.drain(..).partition(|d| pick(d));
    *live = kept;
    drop(live);
    for dir in gone {
        let _ = std::fs::remove_dir_all(dir);
    }
}
