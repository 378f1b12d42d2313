//! Attaching the runtime agents to processes that are already running (`leakproof watch --pid`):
//! the same agent files and socket protocol as an injected target's, loaded from outside, with
//! nothing restarted. CPython 3.8+ through gdb (`python.rs`), node through its inspector
//! (`node.rs`).
//!
//! [`attach`] finds the interpreters in the tree of the process given (a service under a shell
//! or a process manager has its interpreter among the descendants), writes the agent into a
//! private directory (0700, owned by the target's user so that it can create its socket there),
//! loads it into each and waits until each answers. The [`AttachedAgent`] returned detaches when
//! it drops: each process stops serving, removes its socket, and stops tracemalloc (Python) or
//! its heap profiler (node) if the agent started it. An agent whose leakproof died without
//! detaching does the same by itself once the directory is gone or leakproof's process ended.

mod agent;
mod error;
mod gdb;
mod node;
mod python;
mod symbols;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::{Duration, Instant};

use leakproof_sample::ProbeError;

use crate::runtime::{Injection, RuntimeAgent};
use crate::{Agent, AgentError, Descriptor};

pub(crate) use agent::AttachedAgent;
pub use error::AttachError;

/// How an agent gets into a running interpreter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Runtime {
    /// CPython, through gdb.
    Python,
    /// node, through its inspector.
    Node,
}

impl Runtime {
    /// How the agent got in, for the report.
    fn through(self) -> &'static str {
        match self {
            Runtime::Python => "gdb",
            Runtime::Node => "the inspector",
        }
    }
}

/// True when a process of `root`'s tree (the root first) runs a program that `programs` names.
pub(crate) fn in_tree(root: u32, programs: fn(&str) -> bool) -> bool {
    tree(root).into_iter().any(|p| runs(p, programs))
}

/// Loads the `row` agent (its files: `injection`) into every process of `root`'s tree that runs
/// its runtime, and waits up to `timeout` until each answers; see the [module docs](self).
pub(crate) fn attach(
    row: &'static Descriptor,
    injection: &Injection,
    runtime: Runtime,
    root: u32,
    timeout: Duration,
) -> Result<Box<dyn Agent>, AgentError> {
    let started = Instant::now();
    let pids: Vec<u32> = tree(root)
        .into_iter()
        .filter(|&p| runs(p, row.programs))
        .collect();
    if pids.is_empty() {
        return Err(AttachError::NoInterpreter {
            root,
            runtime: row.name,
        }
        .into());
    }
    let me = std::process::id();
    // Unreadable (another user's, without CAP_SYS_PTRACE): tracing it will fail and say why.
    let ours = leakproof_sample::mount_namespace(me).ok();
    let foreign = |p: u32| leakproof_sample::mount_namespace(p).is_ok_and(|ns| Some(ns) != ours);
    if let Some(&pid) = pids.iter().find(|&&p| foreign(p)) {
        return Err(AttachError::OtherNamespace { pid }.into());
    }
    let (agent, source) = RuntimeAgent::prepare(row, injection)?;
    let dir = agent.dir().to_owned();
    let prepare = |source| prepare_error(row, &dir, source);
    share_with(&dir, pids[0]).map_err(prepare)?;
    // From here on, dropping the agent detaches whatever did load.
    let agent = AttachedAgent::new(agent);
    for &pid in &pids {
        match runtime {
            Runtime::Python => {
                write_bootstrap(&dir, pid).map_err(prepare)?;
                python::inject(pid, &dir, me)?;
                check_status(&dir, pid, python::BOOTSTRAP_WAIT.min(timeout))?;
            }
            Runtime::Node => node::inject(pid, &source, &dir, me)?,
        }
    }
    wait_for_all(agent.runtime(), &pids, timeout)?;
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let said = format!(
        "the {} agent was loaded into process {} (through {}) in {:.2} s",
        row.title,
        list.join(", "),
        runtime.through(),
        started.elapsed().as_secs_f64()
    );
    Ok(Box::new(agent.saying(said)))
}

/// The root and its descendants.
fn tree(root: u32) -> Vec<u32> {
    let mut pids = vec![root];
    pids.extend(leakproof_sample::descendants(root).unwrap_or_default());
    pids
}

/// True when `pid`'s executable (or its `argv[0]`, when the executable may not be read: another
/// user's process, whose attach then says why it failed) is a program `programs` names.
fn runs(pid: u32, programs: fn(&str) -> bool) -> bool {
    let exe = leakproof_sample::executable(pid).ok().or_else(|| {
        let args = leakproof_sample::command_line(pid).ok()?;
        args.into_iter().next().map(std::path::PathBuf::from)
    });
    exe.as_deref()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .is_some_and(programs)
}

fn prepare_error(row: &'static Descriptor, dir: &Path, source: std::io::Error) -> AgentError {
    AgentError::Prepare {
        agent: row.name,
        dir: dir.to_owned(),
        source,
    }
}

/// Gives the agent's directory and files to the user `pid` runs as, when that is not us (a root
/// leakproof attaching to a service's user): the target must read the agent and create its
/// socket there. The directory stays 0700.
fn share_with(dir: &Path, pid: u32) -> std::io::Result<()> {
    let probe = |e: ProbeError| std::io::Error::other(e.to_string());
    let theirs = leakproof_sample::owner(pid).map_err(probe)?;
    if theirs == leakproof_sample::owner(std::process::id()).map_err(probe)? {
        return Ok(());
    }
    std::os::unix::fs::chown(dir, Some(theirs), None)?;
    for entry in std::fs::read_dir(dir)? {
        std::os::unix::fs::chown(entry?.path(), Some(theirs), None)?;
    }
    Ok(())
}

/// Writes the bootstrap (again, for each process: its status file is removed first).
fn write_bootstrap(dir: &Path, pid: u32) -> std::io::Result<()> {
    let bad = dir
        .to_string_lossy()
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || "/._-".contains(c)));
    if bad {
        return Err(std::io::Error::other(
            "the agent's directory has characters the bootstrap line cannot quote (set TMPDIR)",
        ));
    }
    let _ = std::fs::remove_file(dir.join(python::STATUS));
    std::fs::write(dir.join(python::BOOTSTRAP.0), python::BOOTSTRAP.1)?;
    share_with(dir, pid)
}

/// Waits up to `timeout` for what the bootstrap's thread says in its status file: `ok`, or why
/// it did not start the agent. A bootstrap still running after that is given up on: the
/// directory it loads the agent from goes when the attach fails, so it cannot start it (and an
/// agent started meanwhile detaches by itself when it sees the directory gone).
fn check_status(dir: &Path, pid: u32, timeout: Duration) -> Result<(), AttachError> {
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(dir.join(python::STATUS)) {
            break status;
        }
        if gone(pid) {
            return Err(AttachError::Gone { pid });
        }
        if Instant::now() >= deadline {
            return Err(AttachError::BootstrapTimeout {
                pid,
                waited: timeout,
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    match status.trim() {
        "ok" => Ok(()),
        busy if busy.starts_with("busy") => Err(AttachError::Refused {
            pid,
            detail: busy.trim_start_matches("busy: ").to_owned(),
        }),
        other => Err(AttachError::Gdb {
            pid,
            detail: format!("the bootstrap said: {other}"),
        }),
    }
}

/// True when no process `pid` exists any more (`kill(pid, 0)` says so).
fn gone(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return true;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) == Err(nix::errno::Errno::ESRCH)
}

/// Waits until a socket of every process in `pids` exists, then until they answer.
fn wait_for_all(agent: &RuntimeAgent, pids: &[u32], timeout: Duration) -> Result<(), AgentError> {
    let deadline = Instant::now() + timeout;
    let missing = || {
        pids.iter()
            .find(|&&p| !agent.dir().join(format!("{p}.sock")).exists())
    };
    while let Some(&pid) = missing() {
        if Instant::now() >= deadline {
            return Err(AttachError::NoSocket { pid, timeout }.into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    agent.wait_ready(deadline.saturating_duration_since(Instant::now()))
}
