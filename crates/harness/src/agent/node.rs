//! The node agent: `agent.js` loaded with `NODE_OPTIONS=--require` (sampling heap profiler).

use std::path::Path;
use std::process::Command;

/// File name and text of the agent, written into the agent's directory.
pub(super) const SOURCE: (&str, &str) = ("agent.js", include_str!("agent.js"));

/// What a sample measures.
pub(super) const LABEL: &str = "js heap + external (after full GC)";

/// Appends `--require "<agent.js>"` to `NODE_OPTIONS`, keeping the target's options before it.
pub(super) fn apply_env(cmd: &mut Command, source: &Path) {
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
