//! The Python agent: `sitecustomize.py` found through `PYTHONPATH` (tracemalloc, CPython 3.8+).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// File name and text of the agent, written into the agent's directory.
pub(super) const SOURCE: (&str, &str) = ("sitecustomize.py", include_str!("sitecustomize.py"));

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
