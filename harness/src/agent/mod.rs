//! Runtime agents: a small Python or JavaScript module injected into a driven target through its
//! environment only (`PYTHONPATH` sitecustomize, `NODE_OPTIONS=--require`), which measures the
//! runtime's own heap after a full collection and lists its live allocation sites.
//!
//! Each process of the target serves one-line JSON requests on its own Unix socket, `<pid>.sock`
//! in the agent's private directory (mode 0700, never a TCP port):
//! `{"cmd":"sample"}` -> `{"ok":true,"bytes":N,"detail":N}`,
//! `{"cmd":"snapshot"}` -> `{"ok":true,"sites":[[[[file,line,function],...],bytes,count],...]}`
//! (frames innermost first, lines 1-based), `{"cmd":"frames","n":8}` -> `{"ok":true,...}`
//! (Python: trace that many frames from now on), `{"cmd":"hello"}` -> `{"ok":true,...}`.
//! A failed request is `{"ok":false,"error":"..."}`.
//!
//! Use: [`Agent::prepare`] before spawning, [`Agent::apply_env`] on the command,
//! [`Agent::wait_ready`] once the target runs, then [`Agent::sample`] after each iteration and
//! [`Agent::snapshot`] around a few iterations to locate growth. Dropping the [`Agent`] removes its
//! directory; [`cleanup_all`] does it for every live agent from a signal handler.

pub(crate) mod client;
mod detect;
pub(crate) mod jvm;
mod node;
mod python;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use leakproof_diff::Snapshot;

pub(crate) use detect::detect;

/// What the native agent's heap column measures, for reports.
pub(crate) const NATIVE_LABEL: &str = "native heap (malloc, exact)";

/// Timeout of one `sample` request to one process.
pub(crate) const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of one `snapshot` request to one process.
pub(crate) const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);

/// Which runtime agent to inject into a driven target (`--agent auto|python|node|native|none`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AgentChoice {
    /// Recognise a Python or node target by its executable or its script's shebang, and any other
    /// dynamically linked executable as native (the default).
    #[default]
    Auto,
    /// Inject the Python agent (tracemalloc, via `PYTHONPATH` sitecustomize).
    Python,
    /// Inject the node agent (sampling heap profiler, via `NODE_OPTIONS=--require`).
    Node,
    /// Preload the native agent (`libleakproof_preload.so`: exact malloc heap; Linux, glibc).
    Native,
    /// Attach to a HotSpot JVM (Dynamic Attach: a full GC, then the heap in use; Linux). Nothing
    /// is injected.
    Jvm,
    /// Inject nothing: sample the process tree's RSS only.
    None,
}

impl AgentChoice {
    /// The agent to inject into `cmd` (a `sh -c LINE` command or a program with arguments).
    pub(crate) fn resolve(self, cmd: &Command) -> Option<AgentKind> {
        match self {
            AgentChoice::Auto => detect(cmd),
            AgentChoice::Python => Some(AgentKind::Python),
            AgentChoice::Node => Some(AgentKind::Node),
            AgentChoice::Native => Some(AgentKind::Native),
            AgentChoice::Jvm => Some(AgentKind::Jvm),
            AgentChoice::None => None,
        }
    }
}

impl fmt::Display for AgentChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgentChoice::Auto => "auto",
            AgentChoice::Python => "python",
            AgentChoice::Node => "node",
            AgentChoice::Native => "native",
            AgentChoice::Jvm => "jvm",
            AgentChoice::None => "none",
        })
    }
}

impl FromStr for AgentChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(AgentChoice::Auto),
            "python" => Ok(AgentChoice::Python),
            "node" => Ok(AgentChoice::Node),
            "native" => Ok(AgentChoice::Native),
            "jvm" => Ok(AgentChoice::Jvm),
            "none" => Ok(AgentChoice::None),
            other => Err(format!(
                "unknown agent `{other}` (expected auto, python, node, native, jvm or none)"
            )),
        }
    }
}

/// A runtime with an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AgentKind {
    /// CPython 3.8+.
    Python,
    /// node.js.
    Node,
    /// A dynamically linked native executable (the preloaded malloc agent, not an [`Agent`]).
    Native,
    /// A HotSpot JVM (attached to from outside, not an [`Agent`]: see [`jvm`]).
    Jvm,
}

impl fmt::Display for AgentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgentKind::Python => "python",
            AgentKind::Node => "node",
            AgentKind::Native => "native",
            AgentKind::Jvm => "jvm",
        })
    }
}

/// Why an agent could not be prepared or did not answer. The caller prints it in one line and
/// falls back to sampling RSS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent's files could not be written.
    #[error("cannot write the {kind} agent to {dir}: {source}")]
    Prepare {
        /// `python` or `node`.
        kind: String,
        /// Where.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No process of the target answered within the timeout (the agent did not load).
    #[error("the {kind} agent did not load within {timeout:?} (is the target a {kind} program?)")]
    NotReady {
        /// `python` or `node`.
        kind: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// Every process that served the agent has exited.
    #[error("no process of the target runs the {kind} agent any more")]
    NoProcess {
        /// `python` or `node`.
        kind: String,
    },
    /// A process accepted the request but did not answer in time.
    #[error("the agent in process {pid} did not answer within {timeout:?}")]
    Timeout {
        /// The process.
        pid: u32,
        /// The request's timeout.
        timeout: Duration,
    },
    /// A process answered something that is not a valid reply, or reported a failure.
    #[error("the agent in process {pid} sent a bad reply: {detail}")]
    BadReply {
        /// The process.
        pid: u32,
        /// What was wrong.
        detail: String,
    },
    /// The socket failed in another way.
    #[error("cannot talk to the agent in process {pid}: {source}")]
    Io {
        /// The process.
        pid: u32,
        /// Why.
        source: std::io::Error,
    },
}

/// One sample of the runtime heap, summed over every live process of the target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct AgentSample {
    /// Python: traced bytes after `gc.collect()`. node: `heapUsed + external` after a full GC.
    pub(crate) bytes: f64,
    /// Python: objects tracked by the collector. node: `external` bytes (buffers included).
    pub(crate) detail: f64,
    /// How many processes answered.
    pub(crate) processes: usize,
}

/// Agent directories alive now, for [`cleanup_all`].
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live_dirs() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE_DIRS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes the directory of every live agent (its files and sockets). For a Ctrl-C / SIGTERM
/// handler, after the targets are stopped: a normal run removes it when the [`Agent`] drops.
pub(crate) fn cleanup_all() {
    cleanup_where(|_| true);
}

/// Registers the directory of an agent kept elsewhere (the native agent's) for [`cleanup_all`];
/// [`forget_dir`] when that agent drops.
pub(crate) fn track_dir(dir: &Path) {
    live_dirs().push(dir.to_owned());
}

/// Forgets a directory registered by [`track_dir`].
pub(crate) fn forget_dir(dir: &Path) {
    live_dirs().retain(|d| d != dir);
}

/// Removes the live agent directories that `pick` selects.
fn cleanup_where(pick: impl Fn(&PathBuf) -> bool) {
    let mut live = live_dirs();
    let (gone, kept): (Vec<PathBuf>, Vec<PathBuf>) = live.drain(..).partition(|d| pick(d));
    *live = kept;
    drop(live);
    for dir in gone {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A prepared agent: its private directory holding the agent source and the processes' sockets.
#[derive(Debug)]
pub(crate) struct Agent {
    kind: AgentKind,
    dir: tempfile::TempDir,
    source: PathBuf,
    sample_timeout: Duration,
    snapshot_timeout: Duration,
}

impl Agent {
    /// Writes the agent for `kind` into a new private temporary directory (mode 0700).
    pub(crate) fn prepare(kind: AgentKind) -> Result<Agent, AgentError> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = std::env::temp_dir();
        let fail = |source| AgentError::Prepare {
            kind: kind.to_string(),
            dir: tmp.clone(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("leakproof-agent-")
            .tempdir()
            .map_err(fail)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(fail)?;
        // sun_path holds 107 bytes and a NUL; the longest Linux pid has 7 digits.
        if dir.path().as_os_str().len() + "/4194304.sock".len() > 107 {
            return Err(fail(std::io::Error::other(
                "too long a path for a Unix socket (set TMPDIR to a shorter directory)",
            )));
        }
        let (name, text) = match kind {
            AgentKind::Python => python::SOURCE,
            AgentKind::Node => node::SOURCE,
            AgentKind::Native | AgentKind::Jvm => {
                return Err(fail(std::io::Error::other(
                    "the native agent is preloaded and the JVM attached to, not written",
                )))
            }
        };
        let source = dir.path().join(name);
        std::fs::write(&source, text).map_err(fail)?;
        if kind == AgentKind::Python {
            let (name, text) = python::SAMPLING;
            std::fs::write(dir.path().join(name), text).map_err(fail)?;
        }
        live_dirs().push(dir.path().to_owned());
        Ok(Agent {
            kind,
            dir,
            source,
            sample_timeout: SAMPLE_TIMEOUT,
            snapshot_timeout: SNAPSHOT_TIMEOUT,
        })
    }

    /// Sets how long one process may take to answer a sample (default 5 s) and a snapshot
    /// (default 30 s) before the request fails with [`AgentError::Timeout`]. Tests only: the
    /// engine uses the defaults.
    #[cfg(test)]
    pub(crate) fn set_timeouts(&mut self, sample: Duration, snapshot: Duration) {
        self.sample_timeout = sample;
        self.snapshot_timeout = snapshot;
    }

    /// The runtime this agent is for.
    pub(crate) fn kind(&self) -> AgentKind {
        self.kind
    }

    /// The private directory (agent source and sockets).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Adds the agent to `cmd`'s environment, keeping what the target already had
    /// (`PYTHONPATH` is prepended to, `NODE_OPTIONS` appended to).
    pub(crate) fn apply_env(&self, cmd: &mut Command) {
        cmd.env(client::DIR_VAR, self.dir());
        match self.kind {
            AgentKind::Python => python::apply_env(cmd, self.dir()),
            AgentKind::Node => node::apply_env(cmd, &self.source),
            AgentKind::Native | AgentKind::Jvm => {}
        }
    }

    /// What [`Agent::sample`] measures, for reports.
    pub(crate) fn resource_label(&self) -> &'static str {
        match self.kind {
            AgentKind::Python => python::LABEL,
            AgentKind::Node => node::LABEL,
            AgentKind::Native => NATIVE_LABEL,
            AgentKind::Jvm => jvm::LABEL,
        }
    }

    /// Waits until at least one process of the target answers, polling every 20 ms.
    pub(crate) fn wait_ready(&self, timeout: Duration) -> Result<(), AgentError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if client::any_answers(self.dir(), left.min(self.sample_timeout)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(AgentError::NotReady {
                    kind: self.kind.to_string(),
                    timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The runtime heap after a full collection, summed over the target's live processes.
    pub(crate) fn sample(&self) -> Result<AgentSample, AgentError> {
        let replies = client::ask_all::<client::SampleReply>(
            self.dir(),
            &client::command("sample"),
            self.sample_timeout,
        )?;
        if replies.is_empty() {
            return Err(self.no_process());
        }
        Ok(AgentSample {
            bytes: replies.iter().map(|r| r.bytes).sum(),
            detail: replies.iter().map(|r| r.detail).sum(),
            processes: replies.len(),
        })
    }

    /// Makes the Python agent record `frames` frames per allocation from now on (it starts with
    /// `LEAKPROOF_PY_FRAMES`, default 1: the cheapest, enough for [`Agent::sample`]). Call it once
    /// before the locate phase's first [`Agent::snapshot`]: a new depth restarts tracemalloc, so
    /// allocations made before are forgotten and samples before and after do not compare. The
    /// node agent always has whole stacks: a no-op there.
    pub(crate) fn trace_frames(&self, frames: u16) -> Result<(), AgentError> {
        let request = serde_json::json!({ "cmd": "frames", "n": frames.max(1) }).to_string();
        client::ask_all::<serde_json::Value>(self.dir(), &request, self.sample_timeout)?;
        Ok(())
    }

    /// The live allocation sites of every process, merged (identical stacks add up), without the
    /// agent's own allocations. Frames are innermost first, as leakproof-diff expects.
    pub(crate) fn snapshot(&self) -> Result<Snapshot, AgentError> {
        let replies = client::ask_all::<client::SnapshotReply>(
            self.dir(),
            &client::command("snapshot"),
            self.snapshot_timeout,
        )?;
        if replies.is_empty() {
            return Err(self.no_process());
        }
        Ok(client::merge_snapshots(replies).taken_now())
    }

    fn no_process(&self) -> AgentError {
        AgentError::NoProcess {
            kind: self.kind.to_string(),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let dir = self.dir.path().to_owned();
        live_dirs().retain(|d| *d != dir);
        // TempDir removes the directory itself.
    }
}

/// The value `key` will have in `cmd`'s environment: set or removed on the command, else inherited.
fn env_of(cmd: &Command, key: &str) -> Option<std::ffi::OsString> {
    match cmd.get_envs().find(|(k, _)| *k == key) {
        Some((_, value)) => value.map(ToOwned::to_owned),
        None => std::env::var_os(key),
    }
}
