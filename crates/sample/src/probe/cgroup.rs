//! Bytes charged to the memory cgroup of a process (Linux).

use super::{this_pid, ProbeError};

/// Bytes charged to the memory cgroup of a process (`None` = this process): cgroup v2
/// `memory.current` (also under a hybrid `unified` mount), or cgroup v1 `memory.usage_in_bytes`.
/// `Ok(None)` when the process is in no memory cgroup this process can see. Linux only: elsewhere
/// `Unsupported`.
pub fn cgroup_memory_current(pid: Option<u32>) -> Result<Option<u64>, ProbeError> {
    let pid = pid.unwrap_or_else(this_pid);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        read_cgroup_memory(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("cgroup_memory_current"))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_cgroup_memory(pid: u32) -> Result<Option<u64>, ProbeError> {
    let Some(file) = cgroup_memory_file(pid)? else {
        return Ok(None);
    };
    match std::fs::read_to_string(&file) {
        Ok(s) => Ok(super::procfs::parse_u64(s.trim().as_bytes())),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(None),
        Err(e) => Err(ProbeError::Io(e)),
    }
}

/// The memory-usage file of the cgroup of `pid`, from `/proc/PID/cgroup`. `None` when neither a
/// v2 nor a v1 memory file exists.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn cgroup_memory_file(pid: u32) -> Result<Option<std::path::PathBuf>, ProbeError> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|e| super::procfs::proc_error(e, pid))?;
    let mut candidates = Vec::new();
    for line in cg.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_end();
        if id == "0" && controllers.is_empty() {
            candidates.insert(0, format!("/sys/fs/cgroup{path}/memory.current"));
            candidates.insert(1, format!("/sys/fs/cgroup/unified{path}/memory.current"));
        } else if controllers.split(',').any(|c| c == "memory") {
            candidates.push(format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"));
        }
    }
    Ok(candidates
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file()))
}
