//! The arguments a process was started with (Linux `/proc`; elsewhere `Unsupported`): which
//! runtime another user's process runs when its executable may not be read, and the inspector
//! port a node process was told to use.

use super::ProbeError;

/// The arguments `pid` was started with, its program first (`/proc/PID/cmdline`).
pub fn command_line(pid: u32) -> Result<Vec<String>, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map_err(|e| super::procfs::proc_error(e, pid))?;
        Ok(raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("command_line"))
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    #[test]
    fn a_child_shows_its_arguments() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        // Right after the fork the child may not have run `exec` yet.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut args = command_line(child.id());
        while args
            .as_ref()
            .is_ok_and(|a| a.first().is_none_or(|p| p != "sleep"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
            args = command_line(child.id());
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(args.unwrap(), ["sleep", "5"]);
        assert!(matches!(
            command_line(u32::MAX >> 1),
            Err(ProbeError::Gone { .. })
        ));
    }
}
