//! The runtime agents: a small Python or JavaScript module injected into a driven target through
//! its environment only (`PYTHONPATH` sitecustomize, `NODE_OPTIONS=--require`), which measures
//! the runtime's own heap after a full collection and lists its live allocation sites.
//!
//! Each process of the target serves one-line JSON requests on its own Unix socket, `<pid>.sock`
//! in the agent's private directory (mode 0700, never a TCP port):
//! `{"cmd":"sample"}` -> `{"ok":true,"bytes":N,"detail":N}`,
//! `{"cmd":"snapshot"}` -> `{"ok":true,"sites":[[[[file,line,function],...],bytes,count],...]}`
//! (frames innermost first, lines 1-based), `{"cmd":"frames","n":8}` -> `{"ok":true,...}`
//! (Python: trace that many frames from now on), `{"cmd":"hello"}` -> `{"ok":true,...}`,
//! `{"cmd":"heap_snapshot","name":"before"}` (node: see `node_heap`).
//! A failed request is `{"ok":false,"error":"..."}`. Python's holders and open sites: `holders.rs`.

mod client;
mod holders;
pub(crate) mod node;
mod node_heap;
pub(crate) mod python;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use leakproof_diff::{Holder, Snapshot, StatDiff};

use crate::pending::Prepared;
use crate::{registry, Agent, AgentError, Descriptor, OpenSites};

pub use holders::{holder_sites_json, holders_from_json};
pub(crate) use node::NODE;
pub(crate) use python::PYTHON;

/// Timeout of one `sample` request to one process.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of one `snapshot` request to one process.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);
/// Frames per traceback while pictures are taken (tracemalloc runs at one frame while it only
/// samples: tracing eight costs about 2 ms per request, docs/performance.md).
const PICTURE_FRAMES: u16 = 8;

/// What a runtime's module adds to a target's command: its files, written into the agent's
/// directory, and its environment.
pub(crate) struct Injection {
    /// File names and texts, the first being the one the runtime loads.
    pub(crate) files: &'static [(&'static str, &'static str)],
    /// Adds the agent (whose directory is `dir` and loaded file `source`) to `cmd`'s
    /// environment, keeping what the target had.
    pub(crate) apply_env: fn(cmd: &mut Command, dir: &Path, source: &Path),
    /// How the holders of what grew are found.
    pub(crate) holders: HolderSearch,
}

/// How a runtime agent's holders are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HolderSearch {
    /// The agent searches its own heap, within the budget (Python: `holders.rs`).
    InTarget,
    /// The agent writes a heap snapshot with the first picture and another when holders are
    /// asked for, and they are compared here (node: `node_heap.rs`).
    HeapSnapshots,
}

/// A runtime agent: its private directory holding the agent source and the processes' sockets.
#[derive(Debug)]
pub(crate) struct RuntimeAgent {
    descriptor: &'static Descriptor,
    dir: tempfile::TempDir,
    sample_timeout: Duration,
    snapshot_timeout: Duration,
    holders: HolderSearch,
    /// [`HolderSearch::HeapSnapshots`]: the one taken with the first picture, once taken (or
    /// why it failed).
    heap_before: Option<Result<node_heap::Before, String>>,
}

impl RuntimeAgent {
    /// Writes the agent's files into a new private temporary directory (mode 0700).
    pub(crate) fn prepare(
        descriptor: &'static Descriptor,
        injection: &Injection,
    ) -> Result<(RuntimeAgent, PathBuf), AgentError> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = std::env::temp_dir();
        let fail = |source| AgentError::Prepare {
            agent: descriptor.name,
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
        for (name, text) in injection.files {
            std::fs::write(dir.path().join(name), text).map_err(fail)?;
        }
        let source = dir.path().join(injection.files[0].0);
        registry::track(dir.path());
        let agent = RuntimeAgent {
            descriptor,
            dir,
            sample_timeout: SAMPLE_TIMEOUT,
            snapshot_timeout: SNAPSHOT_TIMEOUT,
            holders: injection.holders,
            heap_before: None,
        };
        Ok((agent, source))
    }

    /// Prepares the agent of `descriptor` and adds it to `cmd`.
    pub(crate) fn inject(
        descriptor: &'static Descriptor,
        injection: &Injection,
        cmd: &mut Command,
    ) -> Result<Box<dyn Prepared>, AgentError> {
        let (agent, source) = RuntimeAgent::prepare(descriptor, injection)?;
        cmd.env(client::DIR_VAR, agent.dir());
        (injection.apply_env)(cmd, agent.dir(), &source);
        Ok(Box::new(agent))
    }

    /// Sets how long one process may take to answer a sample and a snapshot. Tests only.
    #[cfg(test)]
    pub(crate) fn set_timeouts(&mut self, sample: Duration, snapshot: Duration) {
        self.sample_timeout = sample;
        self.snapshot_timeout = snapshot;
    }

    /// The private directory (agent source and sockets).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
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
                    agent: self.descriptor.name,
                    timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Makes the agents trace `frames` frames per allocation from now on (Python; the node agent
    /// always has whole stacks). A new depth restarts tracemalloc: allocations made before are
    /// forgotten, so samples before and after do not compare.
    fn trace_frames(&self, frames: u16) -> Result<(), AgentError> {
        let request = serde_json::json!({ "cmd": "frames", "n": frames.max(1) }).to_string();
        client::ask_all::<serde_json::Value>(self.dir(), &request, self.sample_timeout)?;
        Ok(())
    }

    fn no_process(&self) -> AgentError {
        AgentError::NoProcess {
            agent: self.descriptor.name,
        }
    }
}

impl Prepared for RuntimeAgent {
    fn ready(self: Box<Self>, _root: u32, timeout: Duration) -> Result<Box<dyn Agent>, AgentError> {
        self.wait_ready(timeout)?;
        Ok(self)
    }
}

impl Agent for RuntimeAgent {
    fn descriptor(&self) -> &'static Descriptor {
        self.descriptor
    }

    fn sample(&mut self) -> Result<f64, AgentError> {
        self.read().map(|(bytes, _)| bytes)
    }

    fn start_pictures(&mut self) -> Result<(), AgentError> {
        self.trace_frames(PICTURE_FRAMES)?;
        self.trace_opens(true)
    }

    fn picture(&mut self, _wait: Duration) -> Result<Snapshot, AgentError> {
        if self.holders == HolderSearch::HeapSnapshots && self.heap_before.is_none() {
            let before = node_heap::Before::take(self.dir()).map_err(|e| e.to_string());
            self.heap_before = Some(before);
        }
        self.snapshot()
    }

    /// Python searches its own heap for them (`holders.rs`); node compares the heap snapshot
    /// taken with the first picture with one taken now (`node_heap.rs`).
    fn holders(&mut self, sites: &[StatDiff], budget: Duration) -> Result<Vec<Holder>, AgentError> {
        if self.holders == HolderSearch::InTarget {
            return self.ask_holders(sites, budget);
        }
        match self.heap_before.take() {
            Some(Ok(before)) => before.holders(self.dir(), budget),
            Some(Err(e)) => Err(AgentError::Read(format!("no heap snapshot before: {e}"))),
            None => Err(AgentError::Read("no heap snapshot was taken before".into())),
        }
    }

    fn open_sites(&mut self, _wait: Duration) -> Result<OpenSites, AgentError> {
        self.ask_open_sites()
    }

    fn stop_pictures(&mut self) {
        let _ = self.trace_opens(false);
        self.heap_before = None;
    }
}

impl RuntimeAgent {
    /// The heap of every process summed, and the longest any took to answer (its pause, in
    /// seconds: what an attached agent paces its samples by).
    pub(crate) fn read(&self) -> Result<(f64, f64), AgentError> {
        let replies: Vec<client::SampleReply> = self.ask_every("sample", self.sample_timeout)?;
        let spent = replies.iter().map(|r| r.spent).fold(0.0, f64::max);
        Ok((replies.iter().map(|r| r.bytes).sum(), spent))
    }

    /// Asks every process to stop serving (an attached agent: it removes its socket and stops
    /// what it started); one that does not answer detaches by itself once the directory is gone.
    pub(crate) fn detach(&self) {
        let detach = client::command("detach");
        let _ = client::ask_all::<serde_json::Value>(self.dir(), &detach, self.sample_timeout);
    }

    /// The live allocation sites of every process, merged (identical stacks add up).
    fn snapshot(&self) -> Result<Snapshot, AgentError> {
        let replies = self.ask_every("snapshot", self.snapshot_timeout)?;
        Ok(client::merge_snapshots(replies).taken_now())
    }

    /// The replies of every process to the request `cmd`, each within `timeout`; `NoProcess`
    /// when none serves.
    fn ask_every<T: serde::de::DeserializeOwned>(
        &self,
        cmd: &str,
        timeout: Duration,
    ) -> Result<Vec<T>, AgentError> {
        let replies = client::ask_all::<T>(self.dir(), &client::command(cmd), timeout)?;
        if replies.is_empty() {
            return Err(self.no_process());
        }
        Ok(replies)
    }
}

impl Drop for RuntimeAgent {
    fn drop(&mut self) {
        registry::forget(self.dir.path());
        // TempDir removes the directory itself.
    }
}

/// The sites of one `snapshot` reply of the runtime agents' protocol
/// (`{"sites":[[[[file,line,function],...],bytes,count],...]}`), as a snapshot: for a heap whose
/// caller takes its pictures with the same Python module (the Python package).
pub fn sites_from_json(json: &str) -> Result<Snapshot, AgentError> {
    let reply: client::SnapshotReply =
        serde_json::from_str(json).map_err(|e| AgentError::Read(format!("bad sites: {e}")))?;
    Ok(client::merge_snapshots(vec![reply]).taken_now())
}

/// The value `key` will have in `cmd`'s environment: set or removed on the command, else inherited.
pub(crate) fn env_of(cmd: &Command, key: &str) -> Option<std::ffi::OsString> {
    match cmd.get_envs().find(|(k, _)| *k == key) {
        Some((_, value)) => value.map(ToOwned::to_owned),
        None => std::env::var_os(key),
    }
}
