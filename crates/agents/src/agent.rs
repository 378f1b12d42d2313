//! The one thing every agent does.

use std::time::Duration;

use leakproof_diff::{Holder, Snapshot, StatDiff};

use crate::{AgentError, Descriptor, Overhead};

/// When an agent's picture exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pictures {
    /// Taken when asked for ([`Agent::picture`]): the runtime and JVM agents.
    Now,
    /// Written by the target at its next allocation after [`Agent::request_picture`]: the
    /// preload agent. An idle server allocates only while it serves, so the picture is requested
    /// before the iteration that writes it and collected after.
    AtNextAllocation,
}

/// An agent in a running target: its heap, and pictures of what is live in it.
pub trait Agent {
    /// Its row of [`crate::AGENTS`].
    fn descriptor(&self) -> &'static Descriptor;
    /// The target's heap now, in bytes, summed over its live processes.
    fn sample(&mut self) -> Result<f64, AgentError>;
    /// Gets ready for pictures (Python: deeper tracebacks; native: a stack per allocation from
    /// now on). Allocations made before are not in later pictures.
    fn start_pictures(&mut self) -> Result<(), AgentError> {
        Ok(())
    }
    /// Asks the target for a picture it writes itself ([`Pictures::AtNextAllocation`]); nothing
    /// to do for an agent whose pictures are taken [`Pictures::Now`].
    fn request_picture(&mut self) -> Result<(), AgentError> {
        Ok(())
    }
    /// The live allocation sites (or classes) of every process, merged, frames innermost first,
    /// without the agent's own: taken now, or the one last requested, waiting up to `wait` for it.
    fn picture(&mut self, wait: Duration) -> Result<Snapshot, AgentError>;
    /// What keeps the objects of the growing `sites` alive (found in this same locate phase),
    /// searched for at most about `budget`; called after the last [`Agent::picture`] and before
    /// [`Agent::stop_pictures`]. `Err(AgentError::Unsupported)` says in one line why the runtime
    /// has none (native heaps have no references to follow), which the report notes.
    fn holders(&mut self, sites: &[StatDiff], budget: Duration) -> Result<Vec<Holder>, AgentError> {
        let _ = (sites, budget);
        Err(AgentError::Unsupported(format!(
            "{} objects' holders are not searched",
            self.descriptor().title
        )))
    }
    /// Where the descriptors and threads opened or started since [`Agent::start_pictures`] and
    /// still open or alive were opened: one block per descriptor or thread (size 1), by the stack
    /// that opened it, innermost first; called after the last [`Agent::picture`].
    /// `Err(AgentError::Unsupported)` when the agent does not trace them.
    fn open_sites(&mut self, wait: Duration) -> Result<OpenSites, AgentError> {
        let _ = wait;
        Err(AgentError::Unsupported(format!(
            "{} does not trace where descriptors are opened",
            self.descriptor().title
        )))
    }
    /// True when [`Agent::open_sites`] compares this agent's pictures (the native agent: the
    /// preload writes what is open with each picture), so that a locate phase for descriptors or
    /// threads alone takes pictures too. Otherwise it takes none (a node heap snapshot, a JVM
    /// histogram) unless the heap grew.
    fn open_sites_from_pictures(&self) -> bool {
        false
    }
    /// The locate phase is over: stop what [`Agent::start_pictures`] started.
    fn stop_pictures(&mut self) {}
    /// The time the target spent in this agent's samples, when it says (an agent attached to a
    /// running process: its watch paces samples by it and reports it); `None` otherwise.
    fn overhead(&self) -> Option<Overhead> {
        None
    }
    /// Lines for the report on how the agent reached its target (into which processes it was
    /// loaded, and how long that took), said once: the next call gives none.
    fn take_notes(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// Where a target's open descriptors and live threads were opened and started ([`Agent::open_sites`]).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct OpenSites {
    /// Descriptors still open, one block each, by the stack that opened them.
    pub fds: Snapshot,
    /// Threads still alive, one block each, by the stack that started them.
    pub threads: Snapshot,
}

impl OpenSites {
    /// The open descriptors and live threads of one picture.
    pub fn new(fds: Snapshot, threads: Snapshot) -> OpenSites {
        OpenSites { fds, threads }
    }
}
