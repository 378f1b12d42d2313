//! A process and all of its descendants ([`TreeProbe`]), and the process listings behind it
//! ([`descendants`], [`process_group_members`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::portable::SysTree;
use super::{Backend, ProbeError};

/// A process tree's totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TreeSample {
    /// Sum of resident bytes.
    pub rss_bytes: u64,
    /// Sum of open descriptors.
    pub fds: u64,
    /// Sum of threads.
    pub threads: u64,
    /// Number of processes (the root and its live descendants).
    pub processes: u64,
}

/// RSS, open descriptors and threads of a process and its descendants, summed (servers that fork
/// workers, `sh -c` wrappers).
///
/// With the `/proc` backend each process's `statm`, `stat` and `fd` directory stay open (`pread`
/// and `getdents64` per sample), and new or exited descendants are looked for at most every
/// `rescan` (on every call with [`Duration::ZERO`]). A kept-open handle always refers to the process
/// it was opened for, so a recycled PID is never mistaken for it. A descendant that exits or may not
/// be read is left out. With the sysinfo backend a count it cannot take here reads 0 (threads off
/// Linux): [`ThreadProbe::pid`](super::ThreadProbe::pid) and [`FdProbe::pid`](super::FdProbe::pid)
/// say why.
#[derive(Debug)]
pub struct TreeProbe {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Proc(proc_tree::ProcTree),
    Sysinfo(SysTree),
}

impl TreeProbe {
    /// The tree rooted at `root`, through the platform's default [`Backend`], looking for new
    /// descendants at most every `rescan`.
    pub fn new(root: u32, rescan: Duration) -> Result<Self, ProbeError> {
        Self::with_backend(root, rescan, Backend::default())
    }

    /// The tree rooted at `root`, through `backend`.
    pub fn with_backend(root: u32, rescan: Duration, backend: Backend) -> Result<Self, ProbeError> {
        let inner = match backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Proc => Inner::Proc(proc_tree::ProcTree::open(root, rescan)?),
            Backend::Sysinfo => Inner::Sysinfo(SysTree::open(root, rescan)?),
            #[allow(unreachable_patterns)]
            _ => return Err(super::no_proc("the /proc backend")),
        };
        Ok(TreeProbe { inner })
    }

    /// Totals of the tree now; [`ProbeError::Gone`] when the root has exited (or is a zombie).
    pub fn sample(&mut self) -> Result<TreeSample, ProbeError> {
        match &mut self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Proc(tree) => tree.sample(),
            Inner::Sysinfo(tree) => tree.sample(),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod proc_tree {
    use std::collections::btree_map::Entry;
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use super::super::fds::FdDir;
    use super::super::rss::Statm;
    use super::super::threads::Stat;
    use super::{ProbeError, TreeSample};

    /// The kept-open files of one process.
    #[derive(Debug)]
    struct Process {
        statm: Statm,
        fds: FdDir,
        stat: Stat,
    }

    impl Process {
        fn open(pid: u32) -> Result<Process, ProbeError> {
            Ok(Process {
                statm: Statm::open(pid)?,
                fds: FdDir::open(pid)?,
                stat: Stat::open(pid)?,
            })
        }

        fn add_to(&mut self, total: &mut TreeSample) -> Result<(), ProbeError> {
            total.rss_bytes += self.statm.rss_bytes()?;
            total.fds += self.fds.count()?;
            total.threads += self.stat.threads()?;
            total.processes += 1;
            Ok(())
        }
    }

    /// The `/proc` backend of [`TreeProbe`](super::TreeProbe).
    #[derive(Debug)]
    pub(super) struct ProcTree {
        root: u32,
        processes: BTreeMap<u32, Process>,
        rescan: Duration,
        last_scan: Option<Instant>,
    }

    impl ProcTree {
        pub(super) fn open(root: u32, rescan: Duration) -> Result<ProcTree, ProbeError> {
            let mut processes = BTreeMap::new();
            processes.insert(root, Process::open(root)?);
            Ok(ProcTree {
                root,
                processes,
                rescan,
                last_scan: None,
            })
        }

        fn rescan(&mut self) -> Result<(), ProbeError> {
            let now = super::descendants(self.root)?;
            self.processes
                .retain(|pid, _| *pid == self.root || now.binary_search(pid).is_ok());
            for pid in now {
                if let Entry::Vacant(slot) = self.processes.entry(pid) {
                    // A child that exits or is not ours to read is simply left out.
                    if let Ok(p) = Process::open(pid) {
                        slot.insert(p);
                    }
                }
            }
            self.last_scan = Some(Instant::now());
            Ok(())
        }

        pub(super) fn sample(&mut self) -> Result<TreeSample, ProbeError> {
            if self.last_scan.is_none_or(|t| t.elapsed() >= self.rescan) {
                self.rescan()?;
            }
            let mut total = TreeSample::default();
            let mut gone = Vec::new();
            for (&pid, process) in &mut self.processes {
                match process.add_to(&mut total) {
                    Ok(()) => {}
                    Err(e) if pid == self.root => return Err(e),
                    Err(_) => gone.push(pid),
                }
            }
            for pid in gone {
                self.processes.remove(&pid);
            }
            Ok(total)
        }
    }
}

/// All descendants of `pid` (children, grandchildren, ...), not including `pid` itself, sorted.
/// On Linux from `/proc/PID/task/TID/children` where the kernel has it, else a scan of
/// `/proc/*/stat`; elsewhere one sysinfo scan of every process's parent.
pub fn descendants(pid: u32) -> Result<Vec<u32>, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        listing::descendants(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        super::portable::descendants(pid)
    }
}

/// The live (not zombie) processes of process group `pgid`, from `/proc/*/stat`. Linux only:
/// elsewhere `Unsupported`.
pub fn process_group_members(pgid: i32) -> Result<Vec<u32>, ProbeError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        listing::group_members(pgid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pgid;
        Err(super::no_proc("process_group_members"))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod listing {
    use super::super::procfs::{exists, parse_u64, proc_error, stat_fields};
    use super::ProbeError;

    pub(super) fn descendants(pid: u32) -> Result<Vec<u32>, ProbeError> {
        if !exists(pid) {
            return Err(ProbeError::Gone { pid });
        }
        let mut out = Vec::new();
        if std::path::Path::new(&format!("/proc/{pid}/task/{pid}/children")).exists() {
            let mut queue = vec![pid];
            while let Some(p) = queue.pop() {
                for c in children_of(p)? {
                    if !out.contains(&c) && c != pid {
                        out.push(c);
                        queue.push(c);
                    }
                }
            }
        } else {
            let parents: Vec<(u32, u32)> = all_stats()?
                .into_iter()
                .filter_map(|(child, f)| Some((child, f.ppid?)))
                .collect();
            let mut queue = vec![pid];
            while let Some(p) = queue.pop() {
                for &(child, parent) in &parents {
                    if parent == p && child != pid && !out.contains(&child) {
                        out.push(child);
                        queue.push(child);
                    }
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Children of every thread of `pid` (a child belongs to the thread that forked it).
    fn children_of(pid: u32) -> Result<Vec<u32>, ProbeError> {
        let tasks = match std::fs::read_dir(format!("/proc/{pid}/task")) {
            Ok(t) => t,
            Err(e) => {
                return match proc_error(e, pid) {
                    ProbeError::Gone { .. } => Ok(Vec::new()), // exited meanwhile: no children
                    other => Err(other),
                };
            }
        };
        let mut out = Vec::new();
        for t in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            out.extend(
                text.split_whitespace()
                    .filter_map(|s| s.parse::<u32>().ok()),
            );
        }
        Ok(out)
    }

    pub(super) fn group_members(pgid: i32) -> Result<Vec<u32>, ProbeError> {
        Ok(all_stats()?
            .into_iter()
            .filter(|(_, f)| f.live && f.pgrp == Some(pgid as u64))
            .map(|(pid, _)| pid)
            .collect())
    }

    /// The fields of `/proc/PID/stat` the listings need.
    struct StatFields {
        live: bool,
        ppid: Option<u32>,
        pgrp: Option<u64>,
    }

    /// Every process's PID and stat fields (processes that exit meanwhile are left out).
    fn all_stats() -> Result<Vec<(u32, StatFields)>, ProbeError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc")?.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read(e.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
            let Some(mut f) = stat_fields(&stat) else {
                continue;
            };
            let live = !matches!(f.next(), Some(b"Z" | b"X"));
            let ppid = f.next().and_then(parse_u64).map(|p| p as u32);
            let pgrp = f.next().and_then(parse_u64);
            out.push((pid, StatFields { live, ppid, pgrp }));
        }
        Ok(out)
    }
}
