//! Why an agent could not be prepared, attached or read.

use std::path::PathBuf;
use std::time::Duration;

/// Why an agent could not be prepared, attached or read. The caller says it in one line and
/// judges the target on RSS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent's files could not be written.
    #[error("cannot write the {agent} agent to {dir}: {source}")]
    Prepare {
        /// Which agent.
        agent: &'static str,
        /// Where.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No process of the target answered within the timeout (the agent did not load).
    #[error(
        "the {agent} agent did not load within {timeout:?} (is the target a {agent} program?)"
    )]
    NotReady {
        /// Which agent.
        agent: &'static str,
        /// How long we waited.
        timeout: Duration,
    },
    /// Every process that served the agent has exited.
    #[error("no process of the target runs the {agent} agent any more")]
    NoProcess {
        /// Which agent.
        agent: &'static str,
    },
    /// A process accepted the request but did not answer in time.
    #[error("the agent in process {pid} did not answer within {timeout:?}")]
    Timeout {
        /// The process.
        pid: u32,
        /// The request's timeout.
        timeout: Duration,
    },
    /// A process answered something that is not a valid reply, or reported a failure.
    #[error("the agent in process {pid} sent a bad reply: {detail}")]
    BadReply {
        /// The process.
        pid: u32,
        /// What was wrong.
        detail: String,
    },
    /// The socket failed in another way.
    #[error("cannot talk to the agent in process {pid}: {source}")]
    Io {
        /// The process.
        pid: u32,
        /// Why.
        source: std::io::Error,
    },
    /// A heap its caller reads could not be read (the caller's own words, in one line).
    #[error("{0}")]
    Read(String),
    /// The agent cannot work on this platform or for this target.
    #[error("{0}")]
    Unsupported(String),
    /// The Python or node agent could not be loaded into a running process.
    #[error(transparent)]
    Attach(#[from] crate::attach::AttachError),
    /// The JVM agent failed (attach or a diagnostic command).
    #[error(transparent)]
    Jvm(#[from] crate::jvm::JvmError),
    /// The native preload agent failed.
    #[cfg(target_os = "linux")]
    #[error(transparent)]
    Native(#[from] crate::native::NativeError),
}
