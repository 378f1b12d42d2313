//! The sampler of an external process tree (drive, watch): RSS, open descriptors and threads,
//! summed over the root and its descendants. Locates growth with pictures of the tree taken after
//! the warm-up and at the end: the memory mappings that grew and the descriptors that appeared.

use std::time::Duration;

use leakproof_diff::smaps::Mapping;
use leakproof_sample::{FdInfo, FdProbe, ProbeError, ThreadProbe, TreeProbe};
use leakproof_trend::Verdict;

use crate::engine::{Column, Sampler, FUTILE_ALLOWANCE, SETTLE_ALLOWANCE};
use crate::findings::{describe_new_fds, set_detail};
use leakproof_report::{Report, Resource};

/// RSS, fds and threads of a process tree (fds and threads only when `resources`).
pub(crate) struct ProcessTree {
    root: u32,
    probe: TreeProbe,
    /// Fds and threads are tracked (asked for, and countable on this platform).
    fds: bool,
    threads: bool,
    before: Option<Picture>,
}

impl ProcessTree {
    /// Samples the tree of `root`, looking for new descendants at most every `rescan`. Fds and
    /// threads (with `resources`) only where this platform can count them: a count it cannot
    /// make would read 0 and be judged Stable.
    pub fn new(root: u32, rescan: Duration, resources: bool) -> Result<ProcessTree, ProbeError> {
        let countable = |e: Result<(), ProbeError>| !matches!(e, Err(ProbeError::Unsupported(_)));
        Ok(ProcessTree {
            root,
            probe: TreeProbe::new(root, rescan)?,
            fds: resources && countable(FdProbe::pid(root).map(drop)),
            threads: resources && countable(ThreadProbe::pid(root).map(drop)),
            before: None,
        })
    }
}

impl Sampler for ProcessTree {
    fn columns(&self) -> Vec<Column> {
        let tree = format!("target process tree (pid {})", self.root);
        let mut rss = Column::new(Resource::Rss, format!("RSS of the {tree}"));
        // An external process is a runtime of unknown kind, maybe still warming up (rule 10).
        rss.config = rss.config.with_warming(true);
        let mut columns = vec![rss];
        if self.fds {
            columns.push(Column::new(
                Resource::Fds,
                format!("open file descriptors of the {tree}"),
            ));
        }
        if self.threads {
            columns.push(Column::new(
                Resource::Threads,
                format!("threads of the {tree}"),
            ));
        }
        columns
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        let s = self.probe.sample()?;
        // A zombie has no memory and no descriptors: it is not a process at work.
        if s.rss_bytes == 0 && s.fds == 0 {
            return Err(ProbeError::Gone { pid: self.root });
        }
        let counts = [(self.fds, s.fds), (self.threads, s.threads)];
        let tracked = counts.iter().filter(|(on, _)| *on).map(|(_, n)| *n as f64);
        out[0] = s.rss_bytes as f64;
        for (slot, value) in out[1..].iter_mut().zip(tracked) {
            *slot = value;
        }
        Ok(())
    }

    fn settle_allowance(&self) -> (Duration, Duration) {
        (SETTLE_ALLOWANCE, FUTILE_ALLOWANCE)
    }

    fn mark(&mut self) {
        self.before = Some(Picture::take(self.root, self.fds, None));
    }

    fn locate_finish(&mut self, report: &mut Report, _iterations: usize) {
        let leaking = |r: Resource| {
            report
                .resource(r)
                .is_some_and(|rr| rr.analysis.verdict == Verdict::Leaking)
        };
        let (rss, fds) = (leaking(Resource::Rss), leaking(Resource::Fds));
        let Some(before) = self.before.take().filter(|_| rss || fds) else {
            return;
        };
        let after = Picture::take(self.root, self.fds, Some(before.main));
        if let Some(detail) = rss.then(|| smaps_detail(&before, &after)).flatten() {
            set_detail(report, Resource::Rss, detail);
        }
        if let Some(detail) = fds.then(|| fd_detail(&before, &after)).flatten() {
            set_detail(report, Resource::Fds, detail);
        }
    }
}

/// Memory maps and open descriptors of the target tree at one moment, for the report's detail.
struct Picture {
    main: u32,
    smaps: Option<Vec<Mapping>>,
    fds: Vec<(u32, FdInfo)>,
}

impl Picture {
    /// `main`: the process whose memory maps are read (default: the biggest of the tree).
    fn take(root: u32, with_fds: bool, main: Option<u32>) -> Picture {
        let mut pids = leakproof_sample::descendants(root).unwrap_or_default();
        if !pids.contains(&root) {
            pids.insert(0, root);
        }
        // The process whose memory maps are compared: the biggest one (a `sh -c` wrapper is not it).
        let main = main.unwrap_or_else(|| {
            pids.iter()
                .copied()
                .max_by_key(|&p| {
                    leakproof_sample::RssProbe::pid(p)
                        .and_then(|mut r| r.rss_bytes())
                        .unwrap_or(0)
                })
                .unwrap_or(root)
        });
        let fds = if with_fds {
            pids.iter()
                .flat_map(|&p| {
                    leakproof_sample::list_fds(Some(p))
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |f| (p, f))
                })
                .collect()
        } else {
            Vec::new()
        };
        Picture {
            main,
            smaps: leakproof_diff::smaps::read(main).ok(),
            fds,
        }
    }
}

fn smaps_detail(before: &Picture, after: &Picture) -> Option<String> {
    let diff = leakproof_diff::smaps::diff(before.smaps.as_ref()?, after.smaps.as_ref()?);
    Some(format!(
        "memory mappings of pid {} that grew (after warm-up -> end):\n{}",
        before.main,
        diff.render()
    ))
}

fn fd_detail(before: &Picture, after: &Picture) -> Option<String> {
    let grew = after.fds.len() > before.fds.len();
    grew.then(|| describe_new_fds(&before.fds, &after.fds, "since the warm-up"))
}
