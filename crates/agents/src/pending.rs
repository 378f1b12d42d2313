//! An agent chosen for a target, before the target runs (or before attaching to it).

use std::process::Command;
use std::time::Duration;

use crate::table::Attach;
use crate::{Agent, AgentChoice, AgentError, Descriptor, Reach, AGENTS};

/// How long a started target's agent has to answer once the target is ready. An interpreter
/// loads its agent in well under a second, but on a loaded machine (CI beside other jobs) its
/// start-up alone was seen to pass 10 s; a target that is not the runtime costs nothing here,
/// since auto only injects into programs it recognised.
const READY: Duration = Duration::from_secs(30);

/// An agent prepared for a target: injected into its command, or to be attached to.
pub(crate) trait Prepared {
    /// The target (whose root process is `root`) runs: the agent, once it answers.
    fn ready(self: Box<Self>, root: u32, timeout: Duration) -> Result<Box<dyn Agent>, AgentError>;
}

/// Attaching once the target runs (nothing injected).
struct AttachLater(&'static Descriptor, Attach);

impl Prepared for AttachLater {
    fn ready(self: Box<Self>, root: u32, timeout: Duration) -> Result<Box<dyn Agent>, AgentError> {
        (self.1.attach)(self.0, root, timeout)
    }
}

/// An agent chosen for a target that does not answer yet. See the crate docs.
pub struct Pending {
    descriptor: &'static Descriptor,
    prepared: Box<dyn Prepared>,
}

impl Pending {
    /// Prepares the agent `choice` picks for `cmd` and injects it into `cmd`'s environment (an
    /// attaching agent injects nothing). A choice of none, a target no agent fits, or an agent
    /// that cannot be prepared (with a note) gives `None`: the run is judged on RSS.
    pub fn inject(
        choice: AgentChoice,
        cmd: &mut Command,
        notes: &mut Vec<String>,
    ) -> Option<Pending> {
        let descriptor = match choice {
            AgentChoice::Auto => crate::detect::detect(cmd)?,
            AgentChoice::None => return None,
            AgentChoice::Agent(d) => d,
        };
        let prepared = match (descriptor.inject, descriptor.attach) {
            (Some(inject), _) => inject(descriptor, cmd),
            (None, Some(attach)) => {
                Ok(Box::new(AttachLater(descriptor, attach)) as Box<dyn Prepared>)
            }
            (None, None) => return None,
        };
        match prepared {
            Ok(prepared) => Some(Pending {
                descriptor,
                prepared,
            }),
            Err(e) => {
                notes.push(format!("{e}; judged on RSS"));
                None
            }
        }
    }

    /// The agent for a process that is already running (`watch --pid`): one that can attach
    /// from outside, chosen by name or, for `auto`, by the runtime `pid` runs.
    pub fn for_running(choice: AgentChoice, pid: u32) -> Option<Pending> {
        let descriptor = match choice {
            AgentChoice::Auto => AGENTS
                .iter()
                .find(|d| d.attach.is_some_and(|a| (a.finds)(pid)))?,
            AgentChoice::Agent(d) => d,
            AgentChoice::None => return None,
        };
        let attach = descriptor.attach?;
        Some(Pending {
            descriptor,
            prepared: Box::new(AttachLater(descriptor, attach)),
        })
    }

    /// The agent's row of the table.
    pub fn descriptor(&self) -> &'static Descriptor {
        self.descriptor
    }

    /// Once the target (whose root process is `root`) runs: the agent when it answers, else a
    /// note saying why the run is judged on RSS.
    pub fn ready(self, root: u32, notes: &mut Vec<String>) -> Option<Box<dyn Agent>> {
        let descriptor = self.descriptor;
        match self.prepared.ready(root, READY) {
            Ok(agent) => Some(agent),
            Err(e) if descriptor.reach == Reach::Attach => {
                notes.push(format!(
                    "the {} agent cannot attach: {e}; judged on RSS",
                    descriptor.title
                ));
                None
            }
            Err(e) => {
                notes.push(format!("{e}; judged on RSS"));
                None
            }
        }
    }
}
