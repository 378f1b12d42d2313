//! What a process is and where it runs: its executable, its working directory, and whether it
//! catches a signal (Linux `/proc`; elsewhere `Unsupported`). For attaching to a runtime from
//! outside (the JVM's Dynamic Attach): which descendant is `java`, where its attach file goes,
//! and whether a `SIGQUIT` would be handled rather than kill it.

use std::path::PathBuf;

use super::ProbeError;

/// The executable `pid` runs (`/proc/PID/exe`, symlinks resolved by the kernel).
pub fn executable(pid: u32) -> Result<PathBuf, ProbeError> {
    link(pid, "exe")
}

/// The working directory of `pid` (`/proc/PID/cwd`), as a path in our mount namespace.
pub fn working_dir(pid: u32) -> Result<PathBuf, ProbeError> {
    link(pid, "cwd")
}

/// True when `pid` has installed a handler for `signal` (`SigCgt` of `/proc/PID/status`): the
/// signal would run that handler instead of its default action.
pub fn catches_signal(pid: u32, signal: i32) -> Result<bool, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| super::procfs::proc_error(e, pid))?;
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .ok_or_else(|| super::procfs::bad_format("status", pid))?;
        Ok((1..=64).contains(&signal) && mask & (1u64 << (signal - 1)) != 0)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (pid, signal);
        Err(super::no_proc("catches_signal"))
    }
}

fn link(pid: u32, what: &str) -> Result<PathBuf, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        std::fs::read_link(format!("/proc/{pid}/{what}"))
            .map_err(|e| super::procfs::proc_error(e, pid))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc(what))
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_its_test_binary_in_its_directory() {
        let me = std::process::id();
        assert_eq!(executable(me).unwrap(), std::env::current_exe().unwrap());
        assert_eq!(working_dir(me).unwrap(), std::env::current_dir().unwrap());
        assert!(matches!(
            executable(u32::MAX >> 1),
            Err(ProbeError::Gone { .. })
        ));
    }

    #[test]
    fn a_fresh_sleep_catches_no_signal() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let caught = catches_signal(child.id(), libc::SIGQUIT);
        let _ = child.kill();
        let _ = child.wait();
        assert!(!caught.unwrap());
        assert!(!catches_signal(std::process::id(), 0).unwrap());
    }
}
