//! The Python agent: `sitecustomize.py` found through `PYTHONPATH` (tracemalloc, CPython 3.8+).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// File name and text of the agent, written into the agent's directory.
pub(super) const SOURCE: (&str, &str) = ("sitecustomize.py", include_str!("sitecustomize.py"));

/// The sampling and snapshot module it imports, shared with the Python package's pytest plugin:
/// one file, `python/leakproof/_sampling.py`, written beside the agent under this name.
pub(super) const SAMPLING: (&str, &str) = (
    "_leakproof_sampling.py",
    include_str!("../../../python/leakproof/_sampling.py"),
);

/// What a sample measures.
pub(super) const LABEL: &str = "python heap (tracemalloc, after gc)";

/// Puts the agent's directory first on `PYTHONPATH`, keeping the target's entries after it.
pub(super) fn apply_env(cmd: &mut Command, dir: &Path) {
    let mut path = OsString::from(dir);
    if let Some(old) = super::env_of(cmd, "PYTHONPATH").filter(|v| !v.is_empty()) {
        path.push(":");
        path.push(old);
    }
    cmd.env("PYTHONPATH", path);
}
