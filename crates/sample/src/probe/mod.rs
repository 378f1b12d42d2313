//! Probes: one number (with its unit) per call, for the heap, RSS, open fds and threads of this
//! process, any PID, or a process tree.
//!
//! Two [`Backend`]s take the process samples. On Linux and Android the default is `/proc`: each
//! probe keeps its `/proc` file open and re-reads it with `pread` (RSS, threads) or `getdents64`
//! (fds), so a sample costs one or two system calls. Elsewhere (macOS, Windows, the BSDs) it is the
//! `sysinfo` crate, which costs far more per sample and counts threads only on Linux. The heap probe
//! needs neither.

use std::io;

use serde::{Deserialize, Serialize};

mod cgroup;
mod command_line;
mod detail;
mod fds;
mod heap;
mod identity;
mod listening_tcp;
mod mount_namespace;
mod owner;
mod portable;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod procfs;
mod rss;
mod threads;
mod tree;

pub use cgroup::cgroup_memory_current;
pub use command_line::command_line;
pub use detail::{memory_detail, MemoryDetail};
pub use fds::{list_fds, FdInfo, FdKind, FdProbe};
pub use heap::HeapProbe;
pub use identity::{catches_signal, executable, working_dir};
pub use listening_tcp::listening_tcp;
pub use mount_namespace::mount_namespace;
pub use owner::owner;
pub use rss::RssProbe;
pub use threads::{thread_names, ThreadInfo, ThreadProbe};
pub use tree::{descendants, process_group_members, TreeProbe, TreeSample};

/// Something that can be sampled between iterations.
pub trait Probe {
    /// Takes one sample.
    fn sample(&mut self) -> Result<Sample, ProbeError>;
}

/// One measurement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The measured value.
    pub value: f64,
    /// What `value` counts.
    pub unit: Unit,
}

/// Unit of a [`Sample`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Bytes.
    Bytes,
    /// A count of things (descriptors, threads, processes).
    Count,
}

/// Why a probe could not sample.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The process no longer exists (or is a zombie).
    #[error("process {pid} is gone")]
    Gone {
        /// The process.
        pid: u32,
    },
    /// The process exists but may not be inspected by this user.
    #[error("permission denied inspecting process {pid}")]
    PermissionDenied {
        /// The process.
        pid: u32,
    },
    /// Not available on this platform or in this configuration.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Any other I/O failure.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Where the process probes ([`RssProbe`], [`FdProbe`], [`ThreadProbe`], [`TreeProbe`]) get their
/// numbers. [`Backend::default`] is `Proc` where `/proc` exists, else `Sysinfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Kept-open `/proc` files re-read with `pread` / `getdents64`: Linux and Android only; about
    /// a microsecond per RSS sample.
    Proc,
    /// The `sysinfo` crate: every platform it supports (Linux, macOS, Windows, FreeBSD). Each
    /// sample refreshes the process through sysinfo (which on Linux lists all of `/proc`); threads
    /// are counted only on Linux, open files where the OS reports them (handles on Windows).
    Sysinfo,
}

impl Default for Backend {
    fn default() -> Self {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            Backend::Proc
        } else {
            Backend::Sysinfo
        }
    }
}

fn this_pid() -> u32 {
    std::process::id()
}

/// The error of a `/proc`-only function on a platform without `/proc`.
#[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
fn no_proc(what: &str) -> ProbeError {
    ProbeError::Unsupported(format!(
        "{what} reads /proc, which this platform does not have"
    ))
}
