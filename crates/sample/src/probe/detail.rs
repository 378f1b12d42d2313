//! PSS and USS of a process from `/proc/PID/smaps_rollup`: for reports, not every iteration.

use serde::{Deserialize, Serialize};

use super::{this_pid, ProbeError};

/// Memory of a process from `smaps_rollup`, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryDetail {
    /// Resident set size.
    pub rss: u64,
    /// Proportional set size (shared pages divided among their sharers).
    pub pss: u64,
    /// Unique set size (private clean + private dirty).
    pub uss: u64,
    /// Swapped-out bytes.
    pub swap: u64,
}

/// RSS, PSS, USS and swap of a process (`None` = this process) from `/proc/PID/smaps_rollup`
/// (about 20 µs). Linux only: elsewhere `Unsupported`.
pub fn memory_detail(pid: Option<u32>) -> Result<MemoryDetail, ProbeError> {
    let pid = pid.unwrap_or_else(this_pid);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        read_smaps_rollup(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("memory_detail"))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_smaps_rollup(pid: u32) -> Result<MemoryDetail, ProbeError> {
    use super::procfs::{exists, parse_u64, proc_error};
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && exists(pid) {
            ProbeError::Unsupported("smaps_rollup needs Linux 4.14 or later".into())
        } else {
            proc_error(e, pid)
        }
    })?;
    if text.is_empty() {
        return Err(ProbeError::Gone { pid });
    }
    let mut d = MemoryDetail::default();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(val)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(kb) = parse_u64(val.as_bytes()) else {
            continue;
        };
        let bytes = kb * 1024;
        match key {
            "Rss:" => d.rss = bytes,
            "Pss:" => d.pss = bytes,
            "Private_Clean:" | "Private_Dirty:" => d.uss += bytes,
            "Swap:" => d.swap = bytes,
            _ => {}
        }
    }
    Ok(d)
}
