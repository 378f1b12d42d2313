//! A runtime agent as a sampler: the target's own heap after a full collection (Python's
//! tracemalloc, node's V8 heap), and, when it grew, the growing lines of the target's code from two
//! snapshots of its live allocation sites.

use leakproof_diff::Snapshot;
use leakproof_sample::ProbeError;

use std::process::Command;
use std::time::Duration;

use crate::agent::{Agent, AgentChoice, AgentKind};
use crate::capture::{grew, growing_sites};
use crate::engine::{Column, Sampler, LEAD_IN};
use crate::report::{Report, Resource};

/// The heap of a runtime agent's processes, summed.
pub(crate) struct AgentSampler {
    agent: Agent,
    resource: Resource,
    first: Option<Snapshot>,
    locating: bool,
}

/// Frames per traceback in the locate phase's snapshots (tracemalloc runs at one frame while it
/// only samples: tracing eight costs about 2 ms per request, docs/performance.md).
const LOCATE_FRAMES: u16 = 8;

/// How long a started target's agent has to answer once the target is ready.
const AGENT_READY: Duration = Duration::from_secs(10);

/// An agent prepared for a target that is not started yet.
pub(crate) struct Pending {
    agent: Agent,
}

impl Pending {
    /// Prepares the agent `choice` picks for `cmd` and injects it into `cmd`'s environment; a
    /// choice of none, a target no agent fits, or an agent that cannot be written (with a note)
    /// gives `None`: the run is judged on RSS.
    pub fn inject(
        choice: AgentChoice,
        cmd: &mut Command,
        notes: &mut Vec<String>,
    ) -> Option<Pending> {
        let kind = choice.resolve(cmd)?;
        match Agent::prepare(kind) {
            Ok(agent) => {
                agent.apply_env(cmd);
                Some(Pending { agent })
            }
            Err(e) => {
                notes.push(format!("{e}; judged on RSS"));
                None
            }
        }
    }

    /// Once the target runs: the agent as a sampler when it answers, else a note.
    pub fn ready(self, notes: &mut Vec<String>) -> Option<AgentSampler> {
        match self.agent.wait_ready(AGENT_READY) {
            Ok(()) => Some(AgentSampler::new(self.agent)),
            Err(e) => {
                notes.push(format!("{e}; judged on RSS"));
                None
            }
        }
    }
}

impl AgentSampler {
    /// Samples `agent`'s heap.
    fn new(agent: Agent) -> AgentSampler {
        let resource = match agent.kind() {
            AgentKind::Python => Resource::PythonHeap,
            AgentKind::Node => Resource::JsHeap,
        };
        AgentSampler {
            agent,
            resource,
            first: None,
            locating: false,
        }
    }

    /// The resource this agent measures.
    pub fn resource(&self) -> Resource {
        self.resource
    }

    fn snapshot(&self, report: &mut Report) -> Option<Snapshot> {
        match self.agent.snapshot() {
            Ok(snapshot) => Some(snapshot),
            Err(e) => {
                report
                    .notes
                    .push(format!("{} sites unknown: {e}", self.resource));
                None
            }
        }
    }
}

impl Sampler for AgentSampler {
    fn columns(&self) -> Vec<Column> {
        vec![Column::new(self.resource, self.agent.resource_label())]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        let sample = self
            .agent
            .sample()
            .map_err(|e| ProbeError::Io(std::io::Error::other(e.to_string())))?;
        out[0] = sample.bytes;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        self.locating = grew(report, self.resource);
        if self.locating && self.agent.kind() == AgentKind::Python {
            // Deeper tracebacks from here on; the snapshots then hold only what follows.
            let _ = self.agent.trace_frames(LOCATE_FRAMES);
        }
        self.locating
    }

    fn locate_first(&mut self) {
        if self.locating {
            self.first = self.agent.snapshot().ok();
        }
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        if !std::mem::take(&mut self.locating) {
            return;
        }
        let Some(first) = self.first.take() else {
            report.notes.push(format!(
                "{} sites unknown: the first snapshot failed",
                self.resource
            ));
            return;
        };
        let Some(last) = self.snapshot(report) else {
            return;
        };
        let k = iterations.saturating_sub(LEAD_IN);
        let sites = growing_sites(first, last);
        report.notes.push(if sites.is_empty() {
            format!("no {} site grew during {k} more iterations", self.resource)
        } else {
            format!(
                "{} sites: growth over {k} more iterations ({})",
                self.resource,
                self.agent.resource_label()
            )
        });
        if report.sites.is_empty() {
            report.sites = sites;
        }
    }
}
