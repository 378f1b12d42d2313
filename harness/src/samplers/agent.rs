//! A runtime agent as a sampler: the target's own heap after a full collection (Python's
//! tracemalloc, node's V8 heap), and, when it grew, the growing lines of the target's code from two
//! snapshots of its live allocation sites. A native target's preloaded agent is the other kind of
//! [`AgentSampler`] (see `samplers::native`); [`Pending`] is the one entry point for both.

use leakproof_diff::Snapshot;
use leakproof_sample::ProbeError;

use std::process::Command;
use std::time::Duration;

use crate::agent::jvm::JvmAgent;
use crate::agent::{Agent, AgentChoice, AgentKind};
use crate::engine::{Column, Sampler};
use crate::external::{ExternalHeap, HeapError, HeapSites};
use crate::native_agent::{NativeAgent, NativeAgentError};
use crate::report::{Report, Resource};
use crate::samplers::jvm::JvmSampler;
use crate::samplers::native::{NativeSampler, TrackedAgent, NATIVE_READY, NO_ALLOCATION};

/// The heap an agent in the target measures: a runtime's (Python, node) or the native `malloc`.
pub(crate) enum AgentSampler {
    /// A runtime agent answering on Unix sockets.
    Runtime(RuntimeSampler),
    /// The preloaded native agent.
    Native(NativeSampler),
    /// A JVM attached to.
    Jvm(JvmSampler),
}

/// The heap of a runtime agent's processes, summed.
pub(crate) type RuntimeSampler = HeapSites<Agent>;

/// Frames per traceback in the locate phase's snapshots (tracemalloc runs at one frame while it
/// only samples: tracing eight costs about 2 ms per request, docs/performance.md).
const LOCATE_FRAMES: u16 = 8;

/// How long a started target's agent has to answer once the target is ready.
const AGENT_READY: Duration = Duration::from_secs(10);

/// Iterations of the locate phase with an agent: node's sampling heap profiler keeps one
/// allocation per 8 KiB, so a leak at the js-heap floor (128 B per request) needs a few hundred
/// requests to be sampled more than once.
pub(crate) const AGENT_LOCATE_ITERATIONS: usize = 200;

/// An agent prepared for a target that is not started yet.
pub(crate) enum Pending {
    /// A runtime agent (Python, node).
    Runtime(Agent),
    /// The native preload agent.
    Native(TrackedAgent),
    /// A JVM, attached to once it runs (nothing to inject).
    Jvm,
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
        let prepared = match kind {
            AgentKind::Native if !cfg!(target_os = "linux") => {
                notes.push("the native preload agent is Linux-only: judged on RSS".to_owned());
                return None;
            }
            AgentKind::Jvm => return Some(Pending::Jvm),
            AgentKind::Native => NativeAgent::prepare()
                .map(|a| Pending::Native(TrackedAgent::new(a)))
                .map_err(|e| e.to_string()),
            _ => Agent::prepare(kind)
                .map(Pending::Runtime)
                .map_err(|e| e.to_string()),
        };
        match prepared {
            Ok(pending) => {
                match &pending {
                    Pending::Runtime(agent) => agent.apply_env(cmd),
                    Pending::Native(agent) => agent.apply_env(cmd),
                    Pending::Jvm => {}
                }
                Some(pending)
            }
            Err(e) => {
                notes.push(format!("{e}; judged on RSS"));
                None
            }
        }
    }

    /// The agent for a process that is already running (`watch --pid`): only a JVM can be
    /// attached to from outside (`--agent jvm`, or `auto` when `pid` runs `java`).
    pub fn for_running(choice: AgentChoice, pid: u32) -> Option<Pending> {
        let jvm = match choice {
            AgentChoice::Jvm => true,
            AgentChoice::Auto => crate::agent::jvm::is_java(pid),
            _ => false,
        };
        jvm.then_some(Pending::Jvm)
    }

    /// Once the target (whose root process is `root`) runs: the agent as a sampler when it
    /// answers, else a note.
    pub fn ready(self, root: u32, notes: &mut Vec<String>) -> Option<AgentSampler> {
        match self {
            Pending::Jvm => match JvmAgent::attach(root, AGENT_READY) {
                Ok(agent) => Some(AgentSampler::Jvm(JvmSampler::new(agent))),
                Err(e) => {
                    notes.push(format!("the JVM agent cannot attach: {e}; judged on RSS"));
                    None
                }
            },
            Pending::Runtime(agent) => match agent.wait_ready(AGENT_READY) {
                Ok(()) => Some(AgentSampler::Runtime(RuntimeSampler::new(agent))),
                Err(e) => {
                    notes.push(format!("{e}; judged on RSS"));
                    None
                }
            },
            Pending::Native(mut agent) => match agent.wait_ready(NATIVE_READY) {
                Ok(()) => Some(AgentSampler::Native(NativeSampler::new(agent))),
                Err(NativeAgentError::NotReady { .. }) => {
                    notes.push(NO_ALLOCATION.to_owned());
                    None
                }
                Err(e) => {
                    notes.push(format!("{e}; judged on RSS"));
                    None
                }
            },
        }
    }
}

impl AgentSampler {
    /// The resource this agent measures.
    pub fn resource(&self) -> Resource {
        match self {
            AgentSampler::Runtime(s) => s.resource(),
            AgentSampler::Native(_) => Resource::NativeHeap,
            AgentSampler::Jvm(_) => Resource::JvmHeap,
        }
    }

    fn inner(&mut self) -> &mut dyn Sampler {
        match self {
            AgentSampler::Runtime(s) => s,
            AgentSampler::Native(s) => s,
            AgentSampler::Jvm(s) => s,
        }
    }

    fn inner_ref(&self) -> &dyn Sampler {
        match self {
            AgentSampler::Runtime(s) => s,
            AgentSampler::Native(s) => s,
            AgentSampler::Jvm(s) => s,
        }
    }
}

/// Every method of [`Sampler`] is forwarded: a default body left here would silently replace the
/// inner sampler's own.
impl Sampler for AgentSampler {
    fn columns(&self) -> Vec<Column> {
        self.inner_ref().columns()
    }

    fn settle_allowance(&self) -> (Duration, Duration) {
        self.inner_ref().settle_allowance()
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        self.inner().read(out)
    }

    fn mark(&mut self) {
        self.inner().mark();
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        self.inner().locate_start(report)
    }

    fn locate_first(&mut self) {
        self.inner().locate_first();
    }

    fn locate_last(&mut self) {
        self.inner().locate_last();
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        self.inner().locate_finish(report, iterations);
    }
}

/// A runtime agent's heap, read over its sockets; the locate logic is [`HeapSites`]'s.
impl ExternalHeap for Agent {
    fn resource(&self) -> Resource {
        match self.kind() {
            AgentKind::Python => Resource::PythonHeap,
            AgentKind::Node => Resource::JsHeap,
            AgentKind::Native => Resource::NativeHeap,
            AgentKind::Jvm => Resource::JvmHeap,
        }
    }

    fn label(&self) -> String {
        self.resource_label().to_owned()
    }

    fn read(&mut self) -> Result<f64, HeapError> {
        Ok(self.sample()?.bytes)
    }

    fn prepare_locate(&mut self) -> Result<(), HeapError> {
        if self.kind() == AgentKind::Python {
            // Deeper tracebacks from here on; the snapshots then hold only what follows.
            self.trace_frames(LOCATE_FRAMES)?;
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Snapshot, HeapError> {
        Ok(Agent::snapshot(self)?)
    }
}
