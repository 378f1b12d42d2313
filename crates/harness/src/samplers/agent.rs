//! An agent in a target as a sampler: the target's own heap as its runtime counts it, and, when it
//! grew, where, from two pictures of what is live (allocation sites, or a JVM's classes). One
//! locate state machine serves every agent; [`Pictures`] says when its pictures exist.
//!
//! [`Pictures::Now`]: the "before" picture is taken after the lead-in (`locate_first`) and the
//! "after" picture after the final iteration (`locate_finish`).
//! [`Pictures::AtNextAllocation`] (the preload agent: a process writes its picture at its next
//! `malloc` or `free`, and an idle server allocates only while it serves): each picture is
//! requested *before* an iteration that writes it. The "before" picture is requested in
//! `locate_first` and collected in `locate_last`, which then requests the "after" picture,
//! written during the final iteration and collected in `locate_finish`. A target that allocates
//! nothing during the final iteration (or a locate phase of one iteration, which has no
//! `locate_last`) leaves only the first picture, which is then compared with nothing, said in a
//! note.

use std::time::Duration;

use leakproof_agents::{Agent, AgentError, Pictures};
use leakproof_diff::Snapshot;
use leakproof_report::{Report, Resource};
use leakproof_sample::ProbeError;
use leakproof_trend::Config;

use crate::engine::{Column, Sampler, LEAD_IN};
use crate::findings::{grew, growing_sites, open_sites_known};

/// How long the "before" picture, written during the locate iterations, may take to appear.
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// How long a target may take to write the "after" picture (it needs an allocation of its own).
const LAST_WAIT: Duration = Duration::from_secs(1);

/// Where the locate phase is.
enum Locate {
    /// Not locating (nothing grew, or it is over).
    Off,
    /// Started; no picture yet.
    Started,
    /// The "before" picture (`Now`), or its request (`AtNextAllocation`: `None` until collected).
    First(Option<Snapshot>),
    /// `AtNextAllocation` only: the "before" picture collected, the "after" one requested.
    Last(Result<Snapshot, AgentError>),
}

/// The heap an agent in the target measures.
pub(crate) struct AgentSampler<'a> {
    agent: Box<dyn Agent + 'a>,
    resource: Resource,
    locate: Locate,
    /// Why pictures could not start, for the report.
    failed: Option<String>,
    /// Whether this locate phase is for the heap (it grew).
    heap_grew: bool,
    /// The handle resources (fds, threads) that grew, whose open sites are asked for.
    handles_grew: Vec<Resource>,
    /// How the heap is judged: the row's preset, or its watch preset.
    config: Config,
}

/// The resources whose open sites an agent may trace.
const HANDLES: [Resource; 2] = [Resource::Fds, Resource::Threads];
/// About how long an agent may search for holders.
const HOLDER_BUDGET: Duration = Duration::from_secs(1);

impl<'a> AgentSampler<'a> {
    /// Samples `agent`'s heap.
    pub(crate) fn new(agent: Box<dyn Agent + 'a>) -> AgentSampler<'a> {
        let resource = Resource::agent_heap(agent.descriptor().heap);
        let config = (agent.descriptor().preset)();
        AgentSampler {
            agent,
            resource,
            locate: Locate::Off,
            failed: None,
            heap_grew: false,
            handles_grew: Vec::new(),
            config,
        }
    }

    /// Judges the heap as a watch sampling every `interval` does: with the row's floor per
    /// second ([`leakproof_agents::Descriptor::watch_preset`]).
    pub(crate) fn every(mut self, interval: Duration) -> AgentSampler<'a> {
        self.config = self.agent.descriptor().watch_preset(interval);
        self
    }

    /// The resource this agent measures.
    pub(crate) fn resource(&self) -> Resource {
        self.resource
    }

    /// Whether this locate phase takes pictures: the heap grew, or the open sites need them.
    fn takes_pictures(&self) -> bool {
        self.heap_grew || self.agent.open_sites_from_pictures()
    }

    fn now(&self) -> bool {
        self.agent.descriptor().pictures == Pictures::Now
    }

    fn unknown(&self, why: impl std::fmt::Display) -> String {
        let pictured = self.agent.descriptor().pictured;
        format!("{} {pictured} unknown: {why}", self.resource)
    }

    /// The two pictures and what their difference spans, after `k` locate iterations.
    fn pictures(&mut self, k: usize) -> Result<(Snapshot, Snapshot, String), String> {
        let span = |n: usize| format!("growth over {n} more iterations");
        match std::mem::replace(&mut self.locate, Locate::Off) {
            Locate::First(Some(before)) if self.now() => {
                let after = self.agent.picture(Duration::ZERO);
                Ok((before, after.map_err(|e| e.to_string())?, span(k)))
            }
            Locate::Last(before) => {
                let before = before.map_err(|e| e.to_string())?;
                let after = self.agent.picture(LAST_WAIT);
                Ok(fallback(
                    before,
                    after,
                    span(k.saturating_sub(1)),
                    "during the final",
                ))
            }
            Locate::First(None) if !self.now() => {
                let before = self.agent.picture(FIRST_WAIT).map_err(|e| e.to_string())?;
                let after = self
                    .agent
                    .request_picture()
                    .and_then(|()| self.agent.picture(LAST_WAIT));
                let span = format!("{} (up to the target's next allocation)", span(k));
                Ok(fallback(before, after, span, "after its last"))
            }
            _ => Err(format!(
                "the first {} picture failed",
                self.agent.descriptor().pictured
            )),
        }
    }
}

impl AgentSampler<'_> {
    /// The heap sites that grew from `before` to `after`, and what holds them.
    fn report_sites(&mut self, report: &mut Report, before: Snapshot, after: Snapshot, span: &str) {
        let sites = growing_sites(before, after);
        let d = self.agent.descriptor();
        let by = if d.pictured_by.is_empty() {
            String::new()
        } else {
            format!(" ({})", d.pictured_by)
        };
        report.notes.push(if sites.is_empty() {
            format!("no {} site grew ({span})", self.resource)
        } else {
            format!("{} sites: {span}{by}", self.resource)
        });
        if sites.is_empty() {
            return;
        }
        match self.agent.holders(&sites, HOLDER_BUDGET) {
            Ok(holders) => report.holders.extend(holders),
            Err(AgentError::Unsupported(why)) => report.notes.push(why),
            Err(e) => report.notes.push(format!("holders unknown: {e}")),
        }
        if report.sites.is_empty() {
            report.sites = sites;
        }
    }

    /// Where the descriptors and threads that grew were opened, when the agent traced them.
    fn report_open_sites(&mut self, report: &mut Report) {
        if self.handles_grew.is_empty() {
            return;
        }
        let open = match self.agent.open_sites(LAST_WAIT) {
            Ok(open) => open,
            Err(AgentError::Unsupported(_)) => return,
            Err(e) => return report.notes.push(format!("open sites unknown: {e}")),
        };
        for resource in std::mem::take(&mut self.handles_grew) {
            let picture = match resource {
                Resource::Threads => &open.threads,
                _ => &open.fds,
            };
            let sites = growing_sites(Snapshot::empty(), picture.clone());
            if let Some(r) = report.resources.iter_mut().find(|r| r.resource == resource) {
                r.sites = sites;
                open_sites_known(r);
            }
        }
    }
}

/// The pictures to compare: `before` and `after`, or when the target wrote no later picture, the
/// blocks of `before` alone (allocated over the lead-in), said so.
fn fallback(
    before: Snapshot,
    after: Result<Snapshot, AgentError>,
    span: String,
    when: &str,
) -> (Snapshot, Snapshot, String) {
    match after {
        Ok(after) => (before, after, span),
        Err(_) => (
            Snapshot::empty(),
            before,
            format!(
                "live blocks allocated over the {LEAD_IN} lead-in iterations (up to the next \
                 allocation): the target allocated nothing {when} iteration to write a later \
                 picture"
            ),
        ),
    }
}

impl Sampler for AgentSampler<'_> {
    fn columns(&self) -> Vec<Column> {
        let d = self.agent.descriptor();
        vec![Column::with_config(
            self.resource,
            d.label,
            self.config.clone(),
        )]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        out[0] = self
            .agent
            .sample()
            .map_err(|e| ProbeError::Io(std::io::Error::other(e.to_string())))?;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        self.heap_grew = grew(report, self.resource);
        self.handles_grew = HANDLES.into_iter().filter(|r| grew(report, *r)).collect();
        if !self.heap_grew && self.handles_grew.is_empty() {
            return false;
        }
        match self.agent.start_pictures() {
            Ok(()) => self.locate = Locate::Started,
            Err(e) => self.failed = Some(e.to_string()),
        }
        matches!(self.locate, Locate::Started)
    }

    fn locate_first(&mut self) {
        if !matches!(self.locate, Locate::Started) || !self.takes_pictures() {
            return;
        }
        let requested = self.agent.request_picture();
        // A picture taken now is kept; a requested one is collected later (a failed request
        // shows there as a missing picture).
        let first = match self.now() {
            true => requested
                .and_then(|()| self.agent.picture(Duration::ZERO))
                .ok(),
            false => None,
        };
        self.locate = Locate::First(first);
    }

    fn locate_last(&mut self) {
        if self.now() || !matches!(self.locate, Locate::First(None)) {
            return;
        }
        // Written at the target's first allocation after `locate_first`, an iteration ago or more.
        let before = self.agent.picture(FIRST_WAIT);
        let _ = self.agent.request_picture();
        self.locate = Locate::Last(before);
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        if let Some(e) = self.failed.take() {
            report.notes.push(self.unknown(e));
        }
        if matches!(self.locate, Locate::Off) {
            return;
        }
        if !self.takes_pictures() {
            self.locate = Locate::Off;
            self.report_open_sites(report);
            return self.agent.stop_pictures();
        }
        let (before, after, span) = match self.pictures(iterations.saturating_sub(LEAD_IN)) {
            Ok(pictures) => pictures,
            Err(e) => {
                self.agent.stop_pictures();
                return report.notes.push(self.unknown(e));
            }
        };
        if self.heap_grew {
            self.report_sites(report, before, after, &span);
        }
        self.report_open_sites(report);
        self.agent.stop_pictures();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_agents::OpenSites;
    use leakproof_report::ResourceReport;

    /// A Python-row agent that counts its pictures; `from_pictures` is what it says of its open
    /// sites.
    struct Counting {
        pictures: std::rc::Rc<std::cell::Cell<usize>>,
        from_pictures: bool,
    }

    impl Agent for Counting {
        fn descriptor(&self) -> &'static leakproof_agents::Descriptor {
            &leakproof_agents::AGENTS[0]
        }
        fn sample(&mut self) -> Result<f64, AgentError> {
            Ok(1.0)
        }
        fn picture(&mut self, _: Duration) -> Result<Snapshot, AgentError> {
            self.pictures.set(self.pictures.get() + 1);
            Ok(Snapshot::default())
        }
        fn open_sites(&mut self, _: Duration) -> Result<OpenSites, AgentError> {
            Ok(OpenSites::new(Snapshot::default(), Snapshot::default()))
        }
        fn open_sites_from_pictures(&self) -> bool {
            self.from_pictures
        }
    }

    /// A report whose heap is flat and whose fds grew.
    fn fds_grew(heap: Resource) -> Report {
        let judged = |resource, series: Vec<f64>| {
            let config = Config::counts();
            let analysis = leakproof_trend::analyze(&series, &config).expect("a series");
            ResourceReport::new(resource, "test", series, analysis)
        };
        let mut report = Report::unjudged("t", 100, 1.0);
        report.resources = vec![
            judged(heap, vec![5.0; 100]),
            judged(Resource::Fds, (0..100).map(f64::from).collect()),
        ];
        report
    }

    /// The pictures a whole locate phase takes after fds alone grew.
    fn pictures_taken(from_pictures: bool) -> usize {
        let pictures = std::rc::Rc::new(std::cell::Cell::new(0));
        let counting = Counting {
            pictures: pictures.clone(),
            from_pictures,
        };
        let mut sampler = AgentSampler::new(Box::new(counting));
        let mut report = fds_grew(sampler.resource());
        assert!(sampler.locate_start(&report), "fds grew: a locate phase");
        sampler.locate_first();
        sampler.locate_last();
        sampler.locate_finish(&mut report, 5);
        pictures.get()
    }

    #[test]
    fn descriptors_alone_take_pictures_only_when_their_sites_come_from_them() {
        assert_eq!(pictures_taken(false), 0);
        assert_eq!(pictures_taken(true), 2);
    }
}
