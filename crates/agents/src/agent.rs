//! The one thing every agent does.

use std::time::Duration;

use leakproof_diff::Snapshot;

use crate::{AgentError, Descriptor};

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
    /// The locate phase is over: stop what [`Agent::start_pictures`] started.
    fn stop_pictures(&mut self) {}
}
