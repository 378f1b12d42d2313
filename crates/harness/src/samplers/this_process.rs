//! Samplers of this process, for in-process runs: live heap bytes (with allocation-site capture to
//! locate growth), RSS, open descriptors and live threads.

use std::time::Instant;

use leakproof_diff::Snapshot;
use leakproof_sample::{capture, list_fds, FdInfo, FdProbe, ProbeError, RssProbe, ThreadProbe};

use crate::engine::{Column, Sampler, LEAD_IN};
use crate::findings::{
    describe_new_fds, describe_new_threads, grew, growing_sites, set_detail, thread_names,
};
use leakproof_report::{Report, Resource};

/// Live heap bytes from `TrackingAlloc`; locates growth by capturing allocation sites.
pub(crate) struct HeapSampler {
    locate: bool,
    guard: Option<capture::CaptureGuard>,
    first: Option<capture::RawSnapshot>,
    started: Option<Instant>,
}

impl HeapSampler {
    /// `locate`: capture sites when the run did not pass.
    pub fn new(locate: bool) -> HeapSampler {
        HeapSampler {
            locate,
            guard: None,
            first: None,
            started: None,
        }
    }
}

fn to_snapshot(raw: capture::RawSnapshot) -> Snapshot {
    Snapshot::from_ips(raw.sites.into_iter().map(|s| (s.ips, s.bytes, s.blocks)))
}

impl Sampler for HeapSampler {
    fn columns(&self) -> Vec<Column> {
        vec![Column::new(
            Resource::Heap,
            "live heap bytes (TrackingAlloc)",
        )]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        out[0] = leakproof_sample::heap_stats().live_bytes as f64;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        // Any resource that grew: its allocations (a socket's buffers, a thread's stack
        // bookkeeping) show where it was made.
        if !self.locate || report.passed() || !leakproof_sample::is_tracking() {
            return false;
        }
        capture::clear();
        self.started = Some(Instant::now());
        self.guard = Some(capture::start());
        true
    }

    fn locate_first(&mut self) {
        if self.guard.is_some() {
            self.first = Some(capture::snapshot());
        }
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        let last = capture::snapshot();
        drop(guard);
        capture::clear();
        let Some(first) = self.first.take() else {
            return;
        };
        let k = iterations.saturating_sub(LEAD_IN);
        let capture_ms = self
            .started
            .map_or(0.0, |s| s.elapsed().as_secs_f64() * 1e3);
        let symbolize_started = Instant::now();
        let sites = growing_sites(to_snapshot(first), to_snapshot(last));
        let symbolize_ms = symbolize_started.elapsed().as_secs_f64() * 1e3;
        report.notes.push(if sites.is_empty() {
            format!("no allocation site grew during {k} more iterations with capture on")
        } else {
            format!(
                "allocation sites: growth over {k} more iterations with capture on \
                 ({capture_ms:.0} ms, symbolization {symbolize_ms:.0} ms)"
            )
        });
        if !sites.is_empty() && grew(report, Resource::Heap) {
            report.notes.push(leakproof_agents::NO_HOLDER.to_owned());
        }
        report.sites = sites;
    }
}

/// RSS of this process (when `TrackingAlloc` is not installed, or asked for).
pub(crate) struct OwnRss {
    probe: RssProbe,
    source: &'static str,
}

impl OwnRss {
    /// `source` says why RSS is judged.
    pub fn new(source: &'static str) -> Result<OwnRss, ProbeError> {
        Ok(OwnRss {
            probe: RssProbe::this_process()?,
            source,
        })
    }
}

impl Sampler for OwnRss {
    fn columns(&self) -> Vec<Column> {
        vec![Column::new(Resource::Rss, self.source)]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        out[0] = self.probe.rss_bytes()? as f64;
        Ok(())
    }

    fn locate_finish(&mut self, report: &mut Report, _iterations: usize) {
        if grew(report, Resource::Rss) && !leakproof_sample::is_tracking() {
            report.notes.push(
                "allocation sites unknown: TrackingAlloc is not the global allocator".to_owned(),
            );
        }
    }
}

/// Open descriptors of this process; locates growth by listing the new ones.
pub(crate) struct OwnFds {
    probe: FdProbe,
    locate: bool,
    before: Option<Vec<(u32, FdInfo)>>,
}

/// The descriptors of this process, keyed by its pid.
fn own_fds() -> Option<Vec<(u32, FdInfo)>> {
    let pid = std::process::id();
    Some(list_fds(None).ok()?.into_iter().map(|f| (pid, f)).collect())
}

impl OwnFds {
    /// `locate`: list new descriptors when they grew.
    pub fn new(locate: bool) -> Result<OwnFds, ProbeError> {
        Ok(OwnFds {
            probe: FdProbe::this_process()?,
            locate,
            before: None,
        })
    }
}

impl Sampler for OwnFds {
    fn columns(&self) -> Vec<Column> {
        vec![Column::new(Resource::Fds, "open file descriptors")]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        out[0] = self.probe.fds()? as f64;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        if !self.locate || !grew(report, Resource::Fds) {
            return false;
        }
        self.before = own_fds();
        self.before.is_some()
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        if let (Some(before), Some(after)) = (self.before.take(), own_fds()) {
            let span = format!("over {iterations} more iterations");
            let detail = describe_new_fds(&before, &after, &span);
            set_detail(report, Resource::Fds, detail);
        }
    }
}

/// Live threads of this process; locates growth by naming the new ones.
pub(crate) struct OwnThreads {
    probe: ThreadProbe,
    locate: bool,
    before: Option<Vec<(u64, String)>>,
}

impl OwnThreads {
    /// `locate`: name new threads when they grew.
    pub fn new(locate: bool) -> Result<OwnThreads, ProbeError> {
        Ok(OwnThreads {
            probe: ThreadProbe::this_process()?,
            locate,
            before: None,
        })
    }
}

impl Sampler for OwnThreads {
    fn columns(&self) -> Vec<Column> {
        vec![Column::new(Resource::Threads, "live threads")]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        out[0] = self.probe.threads()? as f64;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        if !self.locate || !grew(report, Resource::Threads) {
            return false;
        }
        self.before = thread_names();
        self.before.is_some()
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        if let (Some(before), Some(after)) = (self.before.take(), thread_names()) {
            let detail = describe_new_threads(&before, &after, iterations);
            set_detail(report, Resource::Threads, detail);
        }
    }
}
