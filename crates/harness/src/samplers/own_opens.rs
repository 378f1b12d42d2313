//! Where this process's leaked descriptors and threads were opened, when it runs with the
//! preload agent (`libleakproof_preload.so`): a leak test's re-executed child does
//! (`testing/reexec.rs`). When descriptors or threads grew, the locate phase switches the
//! agent's open-site tracing on, takes a picture of what is open after the lead-in and another
//! at the end, and puts the difference, one block per descriptor or thread by the stack that
//! opened it, in the report's `sites` of `fds` and `threads`.
//!
//! A sampler without columns: it measures nothing, it only locates.

use leakproof_diff::Snapshot;
use leakproof_sample::native::{
    serve_own_request, NativeRegions, OpenDump, NATIVE_DIR_VAR, NATIVE_OWN_DIR_VAR,
};
use leakproof_sample::ProbeError;

use crate::engine::{Column, Sampler};
use crate::findings::{grew, growing_sites, open_sites_known};
use leakproof_report::{Report, Resource};

/// This process's own preload agent, asked for open sites in the locate phase.
pub(crate) struct OwnOpenSites {
    regions: NativeRegions,
    pid: u32,
    /// The resources (fds, threads) that grew, whose open sites are wanted.
    wanted: Vec<Resource>,
    first: Option<OpenDump>,
}

impl OwnOpenSites {
    /// The agent of this process, when it runs with one and `locate` is on.
    pub(crate) fn from_env(locate: bool) -> Option<OwnOpenSites> {
        let dir = std::env::var_os(NATIVE_OWN_DIR_VAR)
            .or_else(|| std::env::var_os(NATIVE_DIR_VAR))
            .filter(|_| locate)?;
        let mut regions = NativeRegions::new(dir);
        let pid = std::process::id();
        regions.refresh().ok()?;
        regions.has(pid).then_some(OwnOpenSites {
            regions,
            pid,
            wanted: Vec::new(),
            first: None,
        })
    }

    /// What is open now among the descriptors and threads opened since tracing started.
    fn picture(&mut self) -> Option<OpenDump> {
        let request = self.regions.request_sites().ok()?;
        let (_, asked) = request.into_iter().find(|(p, _)| *p == self.pid)?;
        serve_own_request();
        if !self.regions.sites_ready(self.pid, asked) {
            return None;
        }
        self.regions.read_open(self.pid).ok()?
    }
}

/// One kind of handle of a dump, as a snapshot of one block per handle.
fn snapshot(dump: &OpenDump, resource: Resource) -> Snapshot {
    let sites = match resource {
        Resource::Threads => &dump.threads,
        _ => &dump.fds,
    };
    Snapshot::from_ips(sites.iter().map(|s| (s.ips.clone(), s.bytes, s.blocks)))
}

impl Sampler for OwnOpenSites {
    fn columns(&self) -> Vec<Column> {
        Vec::new()
    }

    fn read(&mut self, _out: &mut [f64]) -> Result<(), ProbeError> {
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        self.wanted = [Resource::Fds, Resource::Threads]
            .into_iter()
            .filter(|r| grew(report, *r))
            .collect();
        !self.wanted.is_empty() && self.regions.trace_opens(true).is_ok()
    }

    fn locate_first(&mut self) {
        if !self.wanted.is_empty() {
            self.first = self.picture();
        }
    }

    fn locate_finish(&mut self, report: &mut Report, _iterations: usize) {
        if self.wanted.is_empty() {
            return;
        }
        let last = self.picture();
        let _ = self.regions.trace_opens(false);
        let (Some(first), Some(last)) = (self.first.take(), last) else {
            return report
                .notes
                .push("open sites unknown: this process's preload agent did not answer".into());
        };
        for resource in std::mem::take(&mut self.wanted) {
            let sites = growing_sites(snapshot(&first, resource), snapshot(&last, resource));
            if let Some(r) = report.resources.iter_mut().find(|r| r.resource == resource) {
                r.sites = sites;
                open_sites_known(r);
            }
        }
    }
}
