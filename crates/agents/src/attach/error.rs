//! Why an agent could not be attached to a running process.

use std::net::SocketAddr;
use std::time::Duration;

use leakproof_sample::ProbeError;

/// Why the Python or node agent could not be loaded into a running process. The watch notes it
/// in one line and judges the target on RSS; the target is left running, as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// No process of the tree runs the runtime asked for.
    #[error("no process in the tree of PID {root} runs {runtime}")]
    NoInterpreter {
        /// The process given.
        root: u32,
        /// `python` or `node`.
        runtime: &'static str,
    },
    /// The process vanished while being attached to.
    #[error("process {pid} ended while leakproof attached to it")]
    Gone {
        /// The process.
        pid: u32,
    },
    /// The process sees other files than leakproof (a container's mount namespace): it could
    /// not load the agent from leakproof's directory.
    #[error(
        "process {pid} runs in another mount namespace (a container?): run leakproof inside it"
    )]
    OtherNamespace {
        /// The process.
        pid: u32,
    },
    /// gdb is not installed.
    #[error("attaching to a running Python needs gdb, which is not on PATH")]
    NoGdb,
    /// The kernel refused to let gdb trace the process (another user, Yama's ptrace_scope, a
    /// container without CAP_SYS_PTRACE).
    #[error("not allowed to trace process {pid} ({detail}): run leakproof as its user or with CAP_SYS_PTRACE")]
    Ptrace {
        /// The process.
        pid: u32,
        /// gdb's message.
        detail: String,
    },
    /// The executable exports no CPython API.
    #[error("process {pid} is not a CPython interpreter ({detail})")]
    NotCPython {
        /// The process.
        pid: u32,
        /// gdb's message.
        detail: String,
    },
    /// A CPython older than the agent supports.
    #[error("process {pid} runs Python {version}: the agent needs 3.8 or later")]
    Version {
        /// The process.
        pid: u32,
        /// Its version.
        version: String,
    },
    /// No thread of the process came back from a blocking call with the GIL released in time
    /// (one thread computing without pause holds the GIL): nothing was run in it.
    #[error("no thread of process {pid} released the GIL within {waited:?} (busy computing?): nothing was loaded")]
    NoSafePoint {
        /// The process.
        pid: u32,
        /// How long we waited.
        waited: Duration,
    },
    /// The bootstrap started its thread in the process, but that thread did not say within
    /// `waited` whether the agent started (the process starved it of the GIL, or stopped): leakproof
    /// gave up, and removed the agent's directory, so nothing stays loaded.
    #[error("the bootstrap in process {pid} did not start the agent within {waited:?} (its threads too busy to give it the GIL?): given up, nothing left loaded")]
    BootstrapTimeout {
        /// The process.
        pid: u32,
        /// How long we waited.
        waited: Duration,
    },
    /// gdb failed in another way.
    #[error("gdb could not load the agent into process {pid}: {detail}")]
    Gdb {
        /// The process.
        pid: u32,
        /// What went wrong.
        detail: String,
    },
    /// The agent would not start (one runs already: another leakproof, or a driven target's).
    #[error("process {pid} refused the agent: {detail}")]
    Refused {
        /// The process.
        pid: u32,
        /// Why.
        detail: String,
    },
    /// node would die of `SIGUSR1` (it does not handle it: `--disable-sigusr1`, or not node).
    #[error("node process {pid} does not handle SIGUSR1, so its inspector cannot be opened from outside")]
    NoSigusr1 {
        /// The process.
        pid: u32,
    },
    /// node's inspector was open before leakproof came: somebody else's (a debugger, `--inspect`).
    #[error("node process {pid} has its inspector open already on {addr} (a debugger, or --inspect): leakproof leaves it alone")]
    InspectorInUse {
        /// The process.
        pid: u32,
        /// Where it listens.
        addr: SocketAddr,
    },
    /// node did not open its inspector after `SIGUSR1`.
    #[error("node process {pid} did not open its inspector after SIGUSR1 (is port {port} taken? give it another with --inspect-port)")]
    InspectorNotOpened {
        /// The process.
        pid: u32,
        /// The port it would use.
        port: u16,
    },
    /// The inspector exchange failed.
    #[error("node process {pid}'s inspector: {detail}")]
    Inspector {
        /// The process.
        pid: u32,
        /// What went wrong.
        detail: String,
    },
    /// The agent was loaded but opened no socket in time.
    #[error("the agent loaded into process {pid} opened no socket within {timeout:?}")]
    NoSocket {
        /// The process.
        pid: u32,
        /// How long we waited.
        timeout: Duration,
    },
    /// The process could not be inspected.
    #[error("cannot inspect process {pid}: {source}")]
    Probe {
        /// The process.
        pid: u32,
        /// Why.
        source: ProbeError,
    },
}
