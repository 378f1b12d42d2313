//! Sampling a process tree with kept-open per-process probes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use leakproof_sample::{descendants, FdProbe, ProbeError, RssProbe, ThreadProbe, TreeSample};

/// The series of a process tree, one value per sample: RSS in bytes, open descriptors, threads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TreeSeries {
    /// RSS of the tree in bytes.
    pub rss: Vec<f64>,
    /// Open file descriptors of the tree.
    pub fds: Vec<f64>,
    /// Threads of the tree.
    pub threads: Vec<f64>,
}

impl TreeSeries {
    /// Appends one sample to each series.
    pub fn push(&mut self, s: &TreeSample) {
        self.rss.push(s.rss_bytes as f64);
        self.fds.push(s.fds as f64);
        self.threads.push(s.threads as f64);
    }

    /// Removes the last sample of each series.
    pub fn pop(&mut self) {
        self.rss.pop();
        self.fds.pop();
        self.threads.pop();
    }

    /// Samples taken.
    pub fn len(&self) -> usize {
        self.rss.len()
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.rss.is_empty()
    }

    /// The last (fds, threads) counts.
    pub fn last_counts(&self) -> Option<(u64, u64)> {
        Some((*self.fds.last()? as u64, *self.threads.last()? as u64))
    }
}

/// The kept-open probes of one process.
#[derive(Debug)]
struct Process {
    rss: RssProbe,
    fds: FdProbe,
    threads: ThreadProbe,
}

impl Process {
    fn open(pid: u32) -> Result<Process, ProbeError> {
        Ok(Process {
            rss: RssProbe::pid(pid)?,
            fds: FdProbe::pid(pid)?,
            threads: ThreadProbe::pid(pid)?,
        })
    }

    fn add_to(&mut self, total: &mut TreeSample) -> Result<(), ProbeError> {
        total.rss_bytes += self.rss.rss_bytes()?;
        total.fds += self.fds.fds()?;
        total.threads += self.threads.threads()?;
        total.processes += 1;
        Ok(())
    }
}

/// RSS, open descriptors and threads of a process and its descendants, summed.
///
/// Unlike [`leakproof_sample::TreeProbe`], which opens and parses `/proc` files for every
/// process on every call, this keeps each process's `statm`, `stat` and `fd` directory open
/// (`pread` and `getdents` per sample) and looks for new or exited descendants at most every
/// `rescan` (every call with [`Duration::ZERO`]). A kept-open handle always refers to the process it
/// was opened for, so a recycled PID is never mistaken for it.
#[derive(Debug)]
pub struct TreeSampler {
    root: u32,
    processes: BTreeMap<u32, Process>,
    rescan: Duration,
    last_scan: Option<Instant>,
}

impl TreeSampler {
    /// Samples the tree rooted at `root`, looking for new descendants at most every `rescan`.
    pub fn new(root: u32, rescan: Duration) -> Result<TreeSampler, ProbeError> {
        let mut processes = BTreeMap::new();
        processes.insert(root, Process::open(root)?);
        Ok(TreeSampler {
            root,
            processes,
            rescan,
            last_scan: None,
        })
    }

    /// The root process.
    pub fn root(&self) -> u32 {
        self.root
    }

    fn rescan(&mut self) -> Result<(), ProbeError> {
        let now = descendants(self.root)?;
        self.processes
            .retain(|pid, _| *pid == self.root || now.binary_search(pid).is_ok());
        for pid in now {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.processes.entry(pid) {
                // A child that exits or is not ours to read is simply left out.
                if let Ok(p) = Process::open(pid) {
                    slot.insert(p);
                }
            }
        }
        self.last_scan = Some(Instant::now());
        Ok(())
    }

    /// Totals of the tree now; [`ProbeError::Gone`] when the root has exited (or is a zombie).
    pub fn sample(&mut self) -> Result<TreeSample, ProbeError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::Target;

    #[test]
    fn a_tree_with_a_child_is_summed_and_the_root_exiting_is_gone() {
        let mut target = Target::spawn(Target::shell("sleep 30 & sleep 30; wait")).expect("spawn");
        target.set_grace(Duration::from_millis(100));
        // Wait for the shell to start both children.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut sampler = TreeSampler::new(target.pid(), Duration::ZERO).expect("sampler");
        let mut sample = sampler.sample().expect("sample");
        while sample.processes < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            sample = sampler.sample().expect("sample");
        }
        assert_eq!(sample.processes, 3, "{sample:?}");
        assert!(
            sample.rss_bytes > 0 && sample.fds >= 3 && sample.threads >= 3,
            "{sample:?}"
        );
        target.stop();
        assert!(matches!(sampler.sample(), Err(ProbeError::Gone { .. })));
    }
}
