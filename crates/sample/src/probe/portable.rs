//! The portable backend ([`Backend::Sysinfo`](super::Backend::Sysinfo)): processes through the
//! `sysinfo` crate, for platforms without `/proc` and, when asked for, on Linux too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

use super::{this_pid, ProbeError, TreeSample};

/// What a probe needs refreshed: memory for RSS, tasks for threads (open files are read on demand).
/// `nothing()` still lists every thread of every process on Linux: only the thread count asks
/// for that.
pub(super) fn refresh_rss() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().with_memory().without_tasks()
}

pub(super) fn refresh_threads() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().with_tasks()
}

pub(super) fn refresh_nothing() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().without_tasks()
}

fn supported() -> Result<(), ProbeError> {
    if sysinfo::IS_SUPPORTED_SYSTEM {
        Ok(())
    } else {
        Err(ProbeError::Unsupported(
            "sysinfo does not support this platform".into(),
        ))
    }
}

fn is_live(p: &sysinfo::Process) -> bool {
    !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead)
}

/// Threads of a process: sysinfo lists those of a Linux process other than the main one as its
/// tasks, and knows no thread count elsewhere.
fn threads_of(p: &sysinfo::Process) -> Result<u64, ProbeError> {
    p.tasks()
        .map(|t| t.len() as u64 + 1)
        .ok_or_else(|| ProbeError::Unsupported("sysinfo counts threads only on Linux".into()))
}

/// Open files of a process (handles on Windows). On Linux sysinfo lists `/proc/PID/fd`, which for
/// this process includes the listing's own descriptor: left out, as the `/proc` backend does.
fn fds_of(p: &sysinfo::Process, pid: u32) -> Result<u64, ProbeError> {
    let n = p.open_files().ok_or_else(|| {
        ProbeError::Unsupported(format!(
            "sysinfo gives no open-file count for process {pid} (platform or permission)"
        ))
    })? as u64;
    let own_listing = cfg!(any(target_os = "linux", target_os = "android")) && pid == this_pid();
    Ok(n.saturating_sub(u64::from(own_listing)))
}

/// One process, refreshed through its own [`System`] on every read.
pub(super) struct SysProcess {
    pid: u32,
    system: Box<System>, // about 400 bytes: boxed to keep the probes' `/proc` variants small

    refresh: ProcessRefreshKind,
}

impl std::fmt::Debug for SysProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysProcess")
            .field("pid", &self.pid)
            .finish()
    }
}

impl SysProcess {
    /// Opens `pid`, refreshing `refresh` on every read; `Gone` if it does not exist.
    pub(super) fn open(pid: u32, refresh: ProcessRefreshKind) -> Result<SysProcess, ProbeError> {
        supported()?;
        let mut p = SysProcess {
            pid,
            system: Box::new(System::new()),
            refresh,
        };
        p.refreshed()?;
        Ok(p)
    }

    fn refreshed(&mut self) -> Result<&sysinfo::Process, ProbeError> {
        let pid = Pid::from_u32(self.pid);
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            self.refresh,
        );
        match self.system.process(pid) {
            Some(p) if is_live(p) => Ok(p),
            _ => Err(ProbeError::Gone { pid: self.pid }),
        }
    }

    pub(super) fn rss(&mut self) -> Result<u64, ProbeError> {
        Ok(self.refreshed()?.memory())
    }

    pub(super) fn threads(&mut self) -> Result<u64, ProbeError> {
        threads_of(self.refreshed()?)
    }

    pub(super) fn fds(&mut self) -> Result<u64, ProbeError> {
        let pid = self.pid;
        fds_of(self.refreshed()?, pid)
    }

    /// Fails unless sysinfo can count this process's threads here.
    pub(super) fn check_threads(mut self) -> Result<Self, ProbeError> {
        self.threads()?;
        Ok(self)
    }

    /// Fails unless sysinfo can count this process's open files here.
    pub(super) fn check_fds(mut self) -> Result<Self, ProbeError> {
        self.fds()?;
        Ok(self)
    }
}

/// All live descendants of `root` (sorted), from one scan of every process's parent.
pub(super) fn descendants(root: u32) -> Result<Vec<u32>, ProbeError> {
    supported()?;
    let mut system = System::new();
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh_nothing());
    let root_pid = Pid::from_u32(root);
    if !system.process(root_pid).is_some_and(is_live) {
        return Err(ProbeError::Gone { pid: root });
    }
    let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
    for (pid, p) in system.processes() {
        // On Linux sysinfo can list threads as processes; they are not children.
        if let Some(parent) = p
            .parent()
            .filter(|_| p.thread_kind().is_none() && is_live(p))
        {
            children.entry(parent).or_default().push(*pid);
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root_pid];
    while let Some(parent) = queue.pop() {
        for &child in children.get(&parent).into_iter().flatten() {
            if child != root_pid && !out.contains(&child.as_u32()) {
                out.push(child.as_u32());
                queue.push(child);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// A process tree through sysinfo: the tree's processes are refreshed on every sample, and
/// `descendants` re-scanned at most every `rescan`.
pub(super) struct SysTree {
    root: u32,
    system: Box<System>,
    members: Vec<Pid>,
    rescan: Duration,
    last_scan: Option<Instant>,
}

impl std::fmt::Debug for SysTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysTree")
            .field("root", &self.root)
            .field("members", &self.members)
            .finish()
    }
}

impl SysTree {
    pub(super) fn open(root: u32, rescan: Duration) -> Result<SysTree, ProbeError> {
        supported()?;
        let mut tree = SysTree {
            root,
            system: Box::new(System::new()),
            members: vec![Pid::from_u32(root)],
            rescan,
            last_scan: None,
        };
        tree.sample()?;
        Ok(tree)
    }

    /// Totals of the tree now. A count sysinfo cannot take here (threads off Linux) reads 0.
    pub(super) fn sample(&mut self) -> Result<TreeSample, ProbeError> {
        if self.last_scan.is_none_or(|t| t.elapsed() >= self.rescan) {
            let mut members = descendants(self.root)?;
            members.push(self.root);
            self.members = members.into_iter().map(Pid::from_u32).collect();
            self.last_scan = Some(Instant::now());
        }
        let refresh = refresh_rss().with_tasks();
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&self.members),
            true,
            refresh,
        );
        let root = Pid::from_u32(self.root);
        if !self.system.process(root).is_some_and(is_live) {
            return Err(ProbeError::Gone { pid: self.root });
        }
        let mut total = TreeSample::default();
        for pid in &self.members {
            let Some(p) = self.system.process(*pid).filter(|p| is_live(p)) else {
                continue; // exited since the scan
            };
            total.rss_bytes += p.memory();
            total.threads += threads_of(p).unwrap_or(0);
            total.fds += fds_of(p, pid.as_u32()).unwrap_or(0);
            total.processes += 1;
        }
        Ok(total)
    }
}
