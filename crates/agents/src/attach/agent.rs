//! An agent loaded into running processes: the runtime agent's protocol, plus the time each
//! sample cost the target, and a detach when it drops.

use std::time::Duration;

use leakproof_diff::{Holder, Snapshot, StatDiff};

use crate::runtime::RuntimeAgent;
use crate::{Agent, AgentError, Descriptor, OpenSites, Overhead};

/// The runtime agent attached to running processes ([`super::attach`]).
pub(crate) struct AttachedAgent {
    inner: RuntimeAgent,
    overhead: Overhead,
    notes: Vec<String>,
}

impl AttachedAgent {
    /// `inner`, which dropping the result detaches from every process it serves.
    pub(crate) fn new(inner: RuntimeAgent) -> AttachedAgent {
        AttachedAgent {
            inner,
            overhead: Overhead::default(),
            notes: Vec::new(),
        }
    }

    /// The same agent, with `said` for the report.
    pub(crate) fn saying(mut self, said: String) -> AttachedAgent {
        self.notes.push(said);
        self
    }

    /// The runtime agent it speaks through.
    pub(crate) fn runtime(&self) -> &RuntimeAgent {
        &self.inner
    }
}

impl Agent for AttachedAgent {
    fn descriptor(&self) -> &'static Descriptor {
        self.inner.descriptor()
    }

    fn sample(&mut self) -> Result<f64, AgentError> {
        let (bytes, spent) = self.inner.read()?;
        self.overhead.record(spent);
        Ok(bytes)
    }

    fn start_pictures(&mut self) -> Result<(), AgentError> {
        self.inner.start_pictures()
    }

    fn request_picture(&mut self) -> Result<(), AgentError> {
        self.inner.request_picture()
    }

    fn picture(&mut self, wait: Duration) -> Result<Snapshot, AgentError> {
        self.inner.picture(wait)
    }

    fn holders(&mut self, sites: &[StatDiff], budget: Duration) -> Result<Vec<Holder>, AgentError> {
        self.inner.holders(sites, budget)
    }

    fn open_sites(&mut self, wait: Duration) -> Result<OpenSites, AgentError> {
        self.inner.open_sites(wait)
    }

    fn open_sites_from_pictures(&self) -> bool {
        self.inner.open_sites_from_pictures()
    }

    fn stop_pictures(&mut self) {
        self.inner.stop_pictures();
    }

    fn overhead(&self) -> Option<Overhead> {
        Some(self.overhead.clone())
    }

    fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }
}

impl Drop for AttachedAgent {
    fn drop(&mut self) {
        // Each process stops serving and removes its socket; then the directory goes with
        // `inner`, and one that did not answer detaches by itself once it sees that.
        self.inner.detach();
    }
}
