//! The user a process runs as (Linux `/proc`; elsewhere `Unsupported`): an attached agent's
//! private directory is given to the target's user so that it can create its socket there.

use super::ProbeError;

/// The real user id `pid` runs as (the first `Uid:` of `/proc/PID/status`).
pub fn owner(pid: u32) -> Result<u32, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| super::procfs::proc_error(e, pid))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| super::procfs::bad_format("status", pid))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("owner"))
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    #[test]
    fn a_child_runs_as_we_do_and_init_as_root() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let uid = owner(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let me = owner(std::process::id()).unwrap();
        assert_eq!(uid.unwrap(), me);
        assert_eq!(owner(1).unwrap(), 0);
    }
}
