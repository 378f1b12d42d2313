//! Threads of a process: how many ([`ThreadProbe`]) and which ([`thread_names`]).

use serde::{Deserialize, Serialize};

use super::portable::{refresh_threads, SysProcess};
use super::{this_pid, Backend, Probe, ProbeError, Sample, Unit};

/// Number of threads of a process: a kept-open `/proc/PID/stat` re-read with `pread`, or sysinfo
/// (see [`Backend`]; it counts threads only on Linux).
#[derive(Debug)]
pub struct ThreadProbe {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Proc(Stat),
    Sysinfo(SysProcess),
}

impl ThreadProbe {
    /// This process.
    pub fn this_process() -> Result<Self, ProbeError> {
        Self::pid(this_pid())
    }

    /// Any process, through the platform's default [`Backend`].
    pub fn pid(pid: u32) -> Result<Self, ProbeError> {
        Self::with_backend(pid, Backend::default())
    }

    /// Any process, through `backend` (`Unsupported` where it cannot count threads).
    pub fn with_backend(pid: u32, backend: Backend) -> Result<Self, ProbeError> {
        let inner = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Proc => Inner::Proc(Stat::open(pid)?),
            Backend::Sysinfo => {
                Inner::Sysinfo(SysProcess::open(pid, refresh_threads())?.check_threads()?)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(super::no_proc("the /proc backend")),
        };
        Ok(ThreadProbe { inner })
    }

    /// Threads now.
    pub fn threads(&mut self) -> Result<u64, ProbeError> {
        match &mut self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Proc(stat) => stat.threads(),
            Inner::Sysinfo(p) => p.threads(),
        }
    }
}

impl Probe for ThreadProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        Ok(Sample {
            value: self.threads()? as f64,
            unit: Unit::Count,
        })
    }
}

/// A kept-open `/proc/PID/stat`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
pub(super) struct Stat {
    pid: u32,
    stat: std::fs::File,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Stat {
    pub(super) fn open(pid: u32) -> Result<Stat, ProbeError> {
        let mut s = Stat {
            pid,
            stat: super::procfs::open_proc(pid, "stat")?,
        };
        s.threads()?;
        Ok(s)
    }

    pub(super) fn threads(&mut self) -> Result<u64, ProbeError> {
        let mut buf = [0u8; 1024];
        let text = super::procfs::pread_all(&self.stat, self.pid, &mut buf)?;
        read_threads(text, self.pid)
    }
}

/// `num_threads` from the text of `/proc/PID/stat`; `Gone` for a zombie.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_threads(stat: &[u8], pid: u32) -> Result<u64, ProbeError> {
    use super::procfs::{bad_format, parse_u64, stat_fields};
    let mut f = stat_fields(stat).ok_or_else(|| bad_format("stat", pid))?;
    let state = f.next().ok_or_else(|| bad_format("stat", pid))?;
    if state == b"Z" || state == b"X" {
        return Err(ProbeError::Gone { pid });
    }
    // num_threads is field 20 of stat; state is field 3.
    f.nth(16)
        .and_then(parse_u64)
        .ok_or_else(|| bad_format("stat", pid))
}

/// One thread of a process.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ThreadInfo {
    /// The kernel's thread id.
    pub tid: u32,
    /// Its name (`comm`, at most 15 bytes; empty if it could not be read).
    pub name: String,
}

/// The threads of a process (`None` = this process) with their names, sorted by id, from
/// `/proc/PID/task`. Linux only: elsewhere `Unsupported`.
pub fn thread_names(pid: Option<u32>) -> Result<Vec<ThreadInfo>, ProbeError> {
    let pid = pid.unwrap_or_else(this_pid);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        read_thread_names(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("thread_names"))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_thread_names(pid: u32) -> Result<Vec<ThreadInfo>, ProbeError> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map_err(|e| super::procfs::proc_error(e, pid))?;
    let mut out = Vec::new();
    for entry in tasks.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let name = std::fs::read_to_string(entry.path().join("comm"))
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_default();
        out.push(ThreadInfo { tid, name });
    }
    out.sort();
    Ok(out)
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let stat = b"42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 100 1000 55 18446744073709551615";
        assert_eq!(read_threads(stat, 42).expect("threads"), 7);
        let zombie = b"43 (x) Z 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0";
        assert!(matches!(
            read_threads(zombie, 43),
            Err(ProbeError::Gone { pid: 43 })
        ));
        assert!(read_threads(b"garbage", 1).is_err());
    }

    #[test]
    fn this_threads_name_is_listed() {
        let named = std::thread::Builder::new()
            .name("lp-names-test".into())
            .spawn(|| thread_names(None).expect("thread names"))
            .expect("spawn")
            .join()
            .expect("join");
        assert!(named.iter().any(|t| t.name == "lp-names-test"), "{named:?}");
        assert!(named.iter().any(|t| t.tid == this_pid()), "{named:?}");
    }
}
