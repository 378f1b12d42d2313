//! Open file descriptors of a process: how many ([`FdProbe`]) and which ([`list_fds`]).

use serde::{Deserialize, Serialize};

use super::portable::{refresh_nothing, SysProcess};
use super::{this_pid, Backend, Probe, ProbeError, Sample, Unit};

/// Number of open file descriptors of a process: the entries of `/proc/PID/fd` read through a
/// kept-open directory handle (which, for this process, is not counted), or sysinfo's open-file
/// count (handles on Windows; see [`Backend`]).
#[derive(Debug)]
pub struct FdProbe {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Proc(FdDir),
    Sysinfo(SysProcess),
}

impl FdProbe {
    /// This process.
    pub fn this_process() -> Result<Self, ProbeError> {
        Self::pid(this_pid())
    }

    /// Any process, through the platform's default [`Backend`].
    pub fn pid(pid: u32) -> Result<Self, ProbeError> {
        Self::with_backend(pid, Backend::default())
    }

    /// Any process, through `backend` (`Unsupported` where it cannot count open files).
    pub fn with_backend(pid: u32, backend: Backend) -> Result<Self, ProbeError> {
        let inner = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Proc => Inner::Proc(FdDir::open(pid)?),
            Backend::Sysinfo => {
                Inner::Sysinfo(SysProcess::open(pid, refresh_nothing())?.check_fds()?)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(super::no_proc("the /proc backend")),
        };
        Ok(FdProbe { inner })
    }

    /// Open descriptors now.
    pub fn fds(&mut self) -> Result<u64, ProbeError> {
        match &mut self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Proc(dir) => dir.count(),
            Inner::Sysinfo(p) => p.fds(),
        }
    }
}

impl Probe for FdProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        Ok(Sample {
            value: self.fds()? as f64,
            unit: Unit::Count,
        })
    }
}

/// A kept-open `/proc/PID/fd` directory, counted with `getdents64`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
pub(super) struct FdDir {
    pid: u32,
    dir: std::fs::File,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl FdDir {
    pub(super) fn open(pid: u32) -> Result<FdDir, ProbeError> {
        use super::procfs::{open_dir, proc_error};
        let dir = open_dir(&format!("/proc/{pid}/fd")).map_err(|e| proc_error(e, pid))?;
        let mut d = FdDir { pid, dir };
        d.count()?;
        Ok(d)
    }

    pub(super) fn count(&mut self) -> Result<u64, ProbeError> {
        use super::procfs::{count_dir_entries, is_zombie, own_fd, proc_error};
        let own = own_fd(&self.dir, self.pid);
        let n = count_dir_entries(&self.dir, own).map_err(|e| proc_error(e, self.pid))?;
        if n == 0 && self.pid != this_pid() && is_zombie(self.pid) {
            return Err(ProbeError::Gone { pid: self.pid });
        }
        Ok(n)
    }
}

/// What an open file descriptor refers to, from its `/proc/PID/fd` link target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FdKind {
    /// A path in the file system (regular file, directory, device).
    File,
    /// `socket:[inode]`.
    Socket,
    /// `pipe:[inode]`.
    Pipe,
    /// `anon_inode:...` (eventfd, epoll, timerfd, signalfd, ...).
    AnonInode,
    /// Anything else.
    Other,
}

impl FdKind {
    /// Classifies a link target.
    pub fn from_target(target: &str) -> FdKind {
        if target.starts_with("socket:") {
            FdKind::Socket
        } else if target.starts_with("pipe:") {
            FdKind::Pipe
        } else if target.starts_with("anon_inode:") {
            FdKind::AnonInode
        } else if target.starts_with('/') {
            FdKind::File
        } else {
            FdKind::Other
        }
    }
}

/// One open file descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FdInfo {
    /// The descriptor number.
    pub fd: i32,
    /// What it refers to.
    pub kind: FdKind,
    /// The link target, e.g. `/tmp/x`, `socket:[1234]`, `anon_inode:[eventfd]`.
    pub target: String,
}

/// The open file descriptors of a process (`None` = this process), sorted by number, from
/// `/proc/PID/fd`. For this process, the descriptor used to list the directory is left out. Linux
/// only: elsewhere `Unsupported`.
pub fn list_fds(pid: Option<u32>) -> Result<Vec<FdInfo>, ProbeError> {
    let pid = pid.unwrap_or_else(this_pid);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        read_fd_links(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("list_fds"))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_fd_links(pid: u32) -> Result<Vec<FdInfo>, ProbeError> {
    use super::procfs::{is_zombie, proc_error};
    let dir_path = format!("/proc/{pid}/fd");
    let rd = std::fs::read_dir(&dir_path).map_err(|e| proc_error(e, pid))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| proc_error(e, pid))?;
        let name = entry.file_name();
        let Some(fd) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let target = match std::fs::read_link(entry.path()) {
            Ok(t) => t.to_string_lossy().into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // closed meanwhile
            Err(e) => return Err(proc_error(e, pid)),
        };
        if pid == this_pid() && target == dir_path {
            continue; // read_dir's own handle
        }
        out.push(FdInfo {
            fd,
            kind: FdKind::from_target(&target),
            target,
        });
    }
    if out.is_empty() && pid != this_pid() && is_zombie(pid) {
        return Err(ProbeError::Gone { pid });
    }
    out.sort_by_key(|f| f.fd);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_kinds_from_targets() {
        assert_eq!(FdKind::from_target("socket:[123]"), FdKind::Socket);
        assert_eq!(FdKind::from_target("pipe:[9]"), FdKind::Pipe);
        assert_eq!(
            FdKind::from_target("anon_inode:[eventfd]"),
            FdKind::AnonInode
        );
        assert_eq!(FdKind::from_target("/tmp/x (deleted)"), FdKind::File);
        assert_eq!(FdKind::from_target("net:[4026531840]"), FdKind::Other);
    }
}
