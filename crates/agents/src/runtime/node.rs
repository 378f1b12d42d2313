//! The node agent: `agent.js` loaded with `NODE_OPTIONS=--require` (a full GC per sample, the
//! sampling heap profiler for pictures).

use std::path::Path;
use std::process::Command;

use super::{HolderSearch, Injection, RuntimeAgent};
use crate::attach;
use crate::table::{runtime_heap, Attach};
use crate::{Descriptor, Pictures, Reach};

/// Floor of a node heap, in bytes per iteration (see docs/detection.md, "Runtime heaps").
const FLOOR: f64 = 256.0;

/// Floor of a node heap in a watch, in bytes per second: V8 keeps compiling a service for its
/// first minutes under a load, and what it compiles is not all counted as compiled code (feedback,
/// maps kept for optimized code), so a bounded service's heap read 0.5–0.9 KiB/s in its first
/// minute (see docs/detection.md, "Runtime heaps").
const WATCH_FLOOR: f64 = 2048.0;

/// What a sample measures: V8's heap and the memory its objects hold outside it, less the code
/// compiled from the program (machine code, bytecode and their metadata), after a full GC.
const LABEL: &str = "js heap + external, compiled code excluded (after full GC)";

/// The agent's files and environment.
pub(crate) const INJECTION: Injection = Injection {
    files: &[("agent.js", include_str!("agent.js"))],
    apply_env,
    holders: HolderSearch::HeapSnapshots,
};

/// The node row of [`crate::AGENTS`].
pub(crate) const NODE: Descriptor = Descriptor {
    name: "node",
    title: "node",
    heap: "js",
    label: LABEL,
    preset: || runtime_heap(FLOOR),
    watch_floor: Some(WATCH_FLOOR),
    pictures: Pictures::Now,
    pictured: "sites",
    pictured_by: LABEL,
    locate_iterations: 200,
    reach: Reach::Environment,
    programs,
    inject: Some(|row, cmd| RuntimeAgent::inject(row, &INJECTION, cmd)),
    // A running node (`watch --pid`): loaded through its inspector, opened with SIGUSR1.
    attach: Some(Attach {
        finds: |pid| attach::in_tree(pid, programs),
        attach: |row, root, timeout| {
            attach::attach(row, &INJECTION, attach::Runtime::Node, root, timeout)
        },
    }),
};

/// `node`, `nodejs`.
fn programs(name: &str) -> bool {
    matches!(name, "node" | "nodejs")
}

/// Appends `--require "<agent.js>"` to `NODE_OPTIONS`, keeping the target's options before it.
fn apply_env(cmd: &mut Command, _dir: &Path, source: &Path) {
    let mut options = super::env_of(cmd, "NODE_OPTIONS").unwrap_or_default();
    if !options.is_empty() {
        options.push(" ");
    }
    // node splits NODE_OPTIONS on spaces but honours double quotes.
    options.push("--require \"");
    options.push(source);
    options.push("\"");
    cmd.env("NODE_OPTIONS", options);
}
