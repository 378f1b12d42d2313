//! A heap that the caller reads: the hook through which a runtime embedding the harness (the
//! Python package's pytest plugin, `leakproof.check`) has the one run engine judge its own heap
//! instead of this process's `TrackingAlloc` heap or RSS.
//!
//! The caller implements [`ExternalHeap`] (read the value, get ready to locate, take a picture of
//! the live allocation sites) and calls [`Harness::run_with_heap`]. The engine samples it after
//! every iteration beside this process's open descriptors and threads, and when the heap did not
//! prove Stable it takes two pictures around the locate phase and names the sites that grew, as it
//! does for a runtime agent in a driven target ([`HeapSites`] is that logic, shared by both).
//!
//! ```
//! use leakproof_harness::{ExternalHeap, Harness, HeapError, Resource};
//! use leakproof_diff::Snapshot;
//!
//! /// A heap that only grows: 100 bytes per read.
//! struct Growing(f64);
//!
//! impl ExternalHeap for Growing {
//!     fn resource(&self) -> Resource { Resource::PythonHeap }
//!     fn label(&self) -> String { "a growing counter".into() }
//!     fn read(&mut self) -> Result<f64, HeapError> { self.0 += 100.0; Ok(self.0) }
//!     fn prepare_locate(&mut self) -> Result<(), HeapError> { Ok(()) }
//!     fn snapshot(&mut self) -> Result<Snapshot, HeapError> { Ok(Snapshot::from_sites(vec![])) }
//! }
//!
//! let report = Harness::new().iterations(60).run_with_heap(&mut Growing(0.0), || {})?;
//! assert_eq!(report.resources[0].resource, Resource::PythonHeap);
//! assert!(!report.passed());
//! # Ok::<(), leakproof_harness::HarnessError>(())
//! ```

use leakproof_diff::Snapshot;
use leakproof_sample::ProbeError;
use leakproof_trend::Config;

use crate::agent::client::{merge_snapshots, SnapshotReply};
use crate::capture::{grew, growing_sites};
use crate::engine::{Column, Sampler, LEAD_IN};
use crate::report::{Probe, Report, Resource};
use crate::runner::{Harness, HarnessError};

/// Why reading an [`ExternalHeap`] failed: any error, said in one line.
pub type HeapError = Box<dyn std::error::Error + Send + Sync>;

/// A heap the caller measures, judged by the engine in place of this process's own.
pub trait ExternalHeap {
    /// What the value is (e.g. [`Resource::PythonHeap`]); its preset judges the series.
    fn resource(&self) -> Resource;
    /// Where the numbers come from, for the report (e.g. `python heap (tracemalloc, after gc)`).
    fn label(&self) -> String;
    /// The trend preset that judges the series: the resource's own by default
    /// ([`Resource::preset`]).
    fn preset(&self) -> Config {
        self.resource().preset()
    }
    /// The heap now, in bytes. An error stops the run (the report's `failure`).
    fn read(&mut self) -> Result<f64, HeapError>;
    /// The run did not pass and this heap grew: get ready for [`ExternalHeap::snapshot`] (deeper
    /// tracebacks, say). Values read after this need not compare with those before.
    fn prepare_locate(&mut self) -> Result<(), HeapError>;
    /// A picture of the live allocation sites, frames innermost first.
    fn snapshot(&mut self) -> Result<Snapshot, HeapError>;
}

impl<H: ExternalHeap + ?Sized> ExternalHeap for &mut H {
    fn resource(&self) -> Resource {
        (**self).resource()
    }
    fn label(&self) -> String {
        (**self).label()
    }
    fn preset(&self) -> Config {
        (**self).preset()
    }
    fn read(&mut self) -> Result<f64, HeapError> {
        (**self).read()
    }
    fn prepare_locate(&mut self) -> Result<(), HeapError> {
        (**self).prepare_locate()
    }
    fn snapshot(&mut self) -> Result<Snapshot, HeapError> {
        (**self).snapshot()
    }
}

impl Harness {
    /// [`Harness::run`] judging `heap` instead of this process's heap or RSS, beside this
    /// process's open descriptors and threads (unless [`Harness::track_resources`] is off).
    pub fn run_with_heap<F: FnMut()>(
        &self,
        heap: &mut dyn ExternalHeap,
        f: F,
    ) -> Result<Report, HarnessError> {
        let memory: Box<dyn Sampler + '_> = Box::new(HeapSites::new(heap));
        self.run_with_memory(Some((memory, Probe::External)), f)
    }
}

/// Live allocation sites in the runtime agents' JSON (`{"sites":[[[[file,line,function],...],
/// bytes,count],...]}`, frames innermost first, see the `agent` module) as a snapshot.
pub fn sites_from_json(json: &str) -> Result<Snapshot, HeapError> {
    let reply: SnapshotReply = serde_json::from_str(json)?;
    Ok(merge_snapshots(vec![reply]).taken_now())
}

/// A heap read from outside the engine as a sampler: its value after every iteration, and when it
/// grew, the sites that grew between a picture after the locate phase's lead-in and one at its
/// end. A runtime agent's heap (`samplers::agent::RuntimeSampler`) is one of these too.
pub(crate) struct HeapSites<H> {
    heap: H,
    first: Option<Snapshot>,
    locating: bool,
}

impl<H: ExternalHeap> HeapSites<H> {
    /// Samples `heap`.
    pub(crate) fn new(heap: H) -> HeapSites<H> {
        HeapSites {
            heap,
            first: None,
            locating: false,
        }
    }

    /// The resource measured.
    pub(crate) fn resource(&self) -> Resource {
        self.heap.resource()
    }

    fn snapshot(&mut self, report: &mut Report) -> Option<Snapshot> {
        match self.heap.snapshot() {
            Ok(snapshot) => Some(snapshot),
            Err(e) => {
                let resource = self.resource();
                report.notes.push(format!("{resource} sites unknown: {e}"));
                None
            }
        }
    }
}

impl<H: ExternalHeap> Sampler for HeapSites<H> {
    fn columns(&self) -> Vec<Column> {
        let mut column = Column::new(self.resource(), self.heap.label());
        column.config = self.heap.preset();
        vec![column]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        out[0] = self
            .heap
            .read()
            .map_err(|e| ProbeError::Io(std::io::Error::other(e.to_string())))?;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        self.locating = grew(report, self.resource());
        if self.locating {
            // A heap that cannot go deeper still has its pictures: the failure is not fatal.
            let _ = self.heap.prepare_locate();
        }
        self.locating
    }

    fn locate_first(&mut self) {
        if self.locating {
            self.first = self.heap.snapshot().ok();
        }
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        if !std::mem::take(&mut self.locating) {
            return;
        }
        let resource = self.resource();
        let Some(first) = self.first.take() else {
            report.notes.push(format!(
                "{resource} sites unknown: the first snapshot failed"
            ));
            return;
        };
        let Some(last) = self.snapshot(report) else {
            return;
        };
        let k = iterations.saturating_sub(LEAD_IN);
        let sites = growing_sites(first, last);
        report.notes.push(if sites.is_empty() {
            format!("no {resource} site grew during {k} more iterations")
        } else {
            format!(
                "{resource} sites: growth over {k} more iterations ({})",
                self.heap.label()
            )
        });
        if report.sites.is_empty() {
            report.sites = sites;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_trend::Verdict;

    /// A heap whose value grows by `step` per read, and its one site with it.
    struct Fake {
        bytes: f64,
        step: f64,
        reads: usize,
        pictures: u64,
        prepared: bool,
    }

    impl ExternalHeap for Fake {
        fn resource(&self) -> Resource {
            Resource::PythonHeap
        }
        fn label(&self) -> String {
            "fake heap".into()
        }
        fn read(&mut self) -> Result<f64, HeapError> {
            self.reads += 1;
            self.bytes += self.step;
            Ok(self.bytes)
        }
        fn prepare_locate(&mut self) -> Result<(), HeapError> {
            self.prepared = true;
            Ok(())
        }
        fn snapshot(&mut self) -> Result<Snapshot, HeapError> {
            // One site at test_x.py:7, ten blocks more in every picture of a growing heap.
            self.pictures += 1;
            let blocks = if self.step > 0.0 {
                10 * self.pictures
            } else {
                10
            };
            let json = format!(
                r#"{{"sites":[[[["/srv/app/test_x.py",7,"test_x"]],{},{blocks}]]}}"#,
                blocks * 1000
            );
            sites_from_json(&json)
        }
    }

    fn fake(step: f64) -> Fake {
        Fake {
            bytes: 1e6,
            step,
            reads: 0,
            pictures: 0,
            prepared: false,
        }
    }

    #[test]
    fn a_growing_external_heap_is_leaking_and_its_site_named() {
        let mut heap = fake(1000.0);
        let report = Harness::new()
            .iterations(60)
            .run_with_heap(&mut heap, || {})
            .unwrap();
        assert_eq!(report.resources[0].resource, Resource::PythonHeap);
        assert_eq!(report.resources[0].source, "fake heap");
        assert_eq!(report.verdict, Verdict::Leaking, "{}", report.render_text());
        assert_eq!(report.config.probe, Probe::External);
        assert!(heap.prepared, "the locate phase prepared the heap");
        let site = report.sites.first().expect("a growing site");
        let frame = &site.traceback[site.user_frame.expect("a user frame")];
        assert_eq!(
            (frame.file.as_deref(), frame.line),
            (Some("/srv/app/test_x.py"), Some(7))
        );
        assert!(report.render_text().contains("test_x.py:7"));
    }

    #[test]
    fn a_flat_external_heap_is_stable_and_not_located() {
        let mut heap = fake(0.0);
        let report = Harness::new()
            .iterations(60)
            .run_with_heap(&mut heap, || {})
            .unwrap();
        assert!(report.passed(), "{}", report.render_text());
        assert!(!heap.prepared);
        assert!(
            heap.reads >= 60,
            "read after every iteration: {}",
            heap.reads
        );
    }

    #[test]
    fn sites_json_is_the_agents_wire_format() {
        let json = r#"{"sites":[[[["a.py",3,"f"],["b.py",9,null]],640,10]],"pid":1}"#;
        let snapshot = sites_from_json(json).unwrap();
        assert_eq!(snapshot.sites.len(), 1);
        let site = &snapshot.sites[0];
        assert_eq!((site.bytes, site.blocks), (640, 10));
        assert_eq!(site.frames[0].function.as_deref(), Some("f"));
        assert_eq!(site.frames[1].function, None);
        assert!(sites_from_json("not json").is_err());
    }
}
