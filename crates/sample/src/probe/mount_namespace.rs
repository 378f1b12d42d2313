//! The mount namespace of a process (Linux `/proc`; elsewhere `Unsupported`): a process in
//! another one (a container) sees other files under the same paths, so an agent written into
//! leakproof's temporary directory cannot be loaded from there.

use std::path::PathBuf;

use super::ProbeError;

/// The mount namespace of `pid` (`/proc/PID/ns/mnt`, e.g. `mnt:[4026531841]`).
pub fn mount_namespace(pid: u32) -> Result<PathBuf, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
            .map_err(|e| super::procfs::proc_error(e, pid))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(super::no_proc("mount_namespace"))
    }
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    #[test]
    fn a_child_shares_our_mount_namespace() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let ns = mount_namespace(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let mine = mount_namespace(std::process::id()).unwrap();
        assert!(mine.to_string_lossy().starts_with("mnt:["), "{mine:?}");
        assert_eq!(ns.unwrap(), mine);
    }
}
