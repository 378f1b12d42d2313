//! The Python agent: `sitecustomize.py` found through `PYTHONPATH` (tracemalloc, CPython 3.8+).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use super::{HolderSearch, Injection, RuntimeAgent};
use crate::attach;
use crate::table::{runtime_heap, Attach};
use crate::{Descriptor, Pictures, Reach};

/// Floor of a Python heap, in bytes per iteration (see docs/detection.md, "Runtime heaps").
const FLOOR: f64 = 64.0;

/// The agent's files and environment: `sitecustomize.py`, and the modules it imports, shared with
/// the Python package's pytest plugin (`python/leakproof/_sampling.py`, `_holders.py` and
/// `_opened.py`, written beside the agent under other names).
pub(crate) const INJECTION: Injection = Injection {
    files: &[
        ("sitecustomize.py", include_str!("sitecustomize.py")),
        (
            "_leakproof_sampling.py",
            include_str!("../../../../python/leakproof/_sampling.py"),
        ),
        (
            "_leakproof_holders.py",
            include_str!("../../../../python/leakproof/_holders.py"),
        ),
        (
            "_leakproof_opened.py",
            include_str!("../../../../python/leakproof/_opened.py"),
        ),
    ],
    apply_env,
    holders: HolderSearch::InTarget,
};

/// The Python row of [`crate::AGENTS`].
pub(crate) const PYTHON: Descriptor = Descriptor {
    name: "python",
    title: "Python",
    heap: "python",
    label: "python heap (tracemalloc, after gc)",
    preset: || runtime_heap(FLOOR),
    watch_floor: None,
    pictures: Pictures::Now,
    pictured: "sites",
    pictured_by: "python heap (tracemalloc, after gc)",
    locate_iterations: 200,
    reach: Reach::Environment,
    programs,
    inject: Some(|row, cmd| RuntimeAgent::inject(row, &INJECTION, cmd)),
    // A running interpreter (`watch --pid`): loaded through gdb.
    attach: Some(Attach {
        finds: |pid| attach::in_tree(pid, programs),
        attach: |row, root, timeout| {
            attach::attach(row, &INJECTION, attach::Runtime::Python, root, timeout)
        },
    }),
};

/// `python`, `python3`, `python3.12`.
fn programs(name: &str) -> bool {
    name.strip_prefix("python")
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Puts the agent's directory first on `PYTHONPATH`, keeping the target's entries after it.
fn apply_env(cmd: &mut Command, dir: &Path, _source: &Path) {
    let mut path = OsString::from(dir);
    if let Some(old) = super::env_of(cmd, "PYTHONPATH").filter(|v| !v.is_empty()) {
        path.push(":");
        path.push(old);
    }
    cmd.env("PYTHONPATH", path);
}
