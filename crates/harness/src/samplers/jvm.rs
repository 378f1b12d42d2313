//! A JVM attached to from outside as a sampler: its Java heap in use after a full collection, and,
//! when it grew, the classes whose live instances grew between two class histograms (the JVM
//! agent names classes, not source lines).

use leakproof_diff::Snapshot;
use leakproof_sample::ProbeError;

use crate::agent::jvm::{JvmAgent, LABEL};
use crate::capture::{grew, growing_sites};
use crate::engine::{Column, Sampler, LEAD_IN};
use leakproof_report::{Report, Resource};

/// The Java heap of a target's JVMs, summed.
pub(crate) struct JvmSampler {
    agent: JvmAgent,
    first: Option<Snapshot>,
    locating: bool,
}

impl JvmSampler {
    /// Samples the JVMs `agent` is attached to.
    pub(crate) fn new(agent: JvmAgent) -> JvmSampler {
        JvmSampler {
            agent,
            first: None,
            locating: false,
        }
    }

    fn histogram(&self, report: &mut Report) -> Option<Snapshot> {
        match self.agent.histogram() {
            Ok(snapshot) => Some(snapshot),
            Err(e) => {
                report
                    .notes
                    .push(format!("{} classes unknown: {e}", Resource::agent_heap("jvm")));
                None
            }
        }
    }
}

impl Sampler for JvmSampler {
    fn columns(&self) -> Vec<Column> {
        vec![Column::new(Resource::agent_heap("jvm"), LABEL)]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        let bytes = self
            .agent
            .sample()
            .map_err(|e| ProbeError::Io(std::io::Error::other(e.to_string())))?;
        out[0] = bytes as f64;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        self.locating = grew(report, Resource::agent_heap("jvm"));
        self.locating
    }

    fn locate_first(&mut self) {
        if self.locating {
            self.first = self.agent.histogram().ok();
        }
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        if !std::mem::take(&mut self.locating) {
            return;
        }
        let Some(first) = self.first.take() else {
            report.notes.push(format!(
                "{} classes unknown: the first class histogram failed",
                Resource::agent_heap("jvm")
            ));
            return;
        };
        let Some(last) = self.histogram(report) else {
            return;
        };
        let k = iterations.saturating_sub(LEAD_IN);
        let sites = growing_sites(first, last);
        report.notes.push(if sites.is_empty() {
            format!("no class grew in the jvm heap during {k} more iterations")
        } else {
            format!(
                "{} sites: classes whose live instances grew over {k} more iterations \
                 (GC.class_histogram; the JVM agent names classes, not lines)",
                Resource::agent_heap("jvm")
            )
        });
        if report.sites.is_empty() {
            report.sites = sites;
        }
    }
}
