//! leakproof-agents: the heap of a runtime in another process, as that runtime counts it.
//!
//! An [`Agent`] samples a target's own heap (Python's tracemalloc after `gc.collect()`, V8's heap
//! after a full collection, a JVM's heap after `GC.run`, or the exact `malloc` heap of a native
//! target through `LD_PRELOAD`) and takes pictures of what is live (allocation sites, or a JVM's
//! classes) so that two of them show where it grew. Which agents exist, and everything the rest of
//! leakproof needs to know about each, is one table: [`AGENTS`], rows of [`Descriptor`].
//!
//! Use: [`Pending::inject`] into a target's command before it starts (or [`Pending::for_running`]
//! for a process that already runs), then [`Pending::ready`] once it runs, which gives the
//! [`Agent`]. Dropping an agent removes its private directory; [`cleanup_all`] does it for every
//! live one from a signal handler. This crate knows no engine: the harness makes an agent a
//! sampler of its run loop.
//!
//! ```no_run
//! use std::process::Command;
//! use leakproof_agents::{AgentChoice, Pending};
//!
//! let mut cmd = Command::new("python3");
//! cmd.arg("app.py");
//! let mut notes = Vec::new();
//! let pending = Pending::inject(AgentChoice::Auto, &mut cmd, &mut notes);
//! let mut child = cmd.spawn().expect("spawn");
//! if let Some(mut agent) = pending.and_then(|p| p.ready(child.id(), &mut notes)) {
//!     println!("{}: {} bytes", agent.descriptor().label, agent.sample()?);
//! }
//! # let _ = child.kill();
//! # Ok::<(), leakproof_agents::AgentError>(())
//! ```

mod agent;
mod attach;
mod detect;
mod error;
mod jvm;
#[cfg(target_os = "linux")]
mod native;
mod overhead;
mod pending;
mod registry;
mod runtime;
mod table;

pub use agent::{Agent, OpenSites, Pictures};
pub use attach::AttachError;
pub use error::AgentError;
pub use jvm::JvmError;
#[cfg(target_os = "linux")]
pub use native::{
    is_native_target, NativeAgent, NativeError, SitesRequest, LIBRARY_NAME, NO_HOLDER, PRELOAD_VAR,
};
pub use overhead::Overhead;
pub use pending::Pending;
pub use registry::cleanup_all;
pub use runtime::{holder_sites_json, holders_from_json, sites_from_json};
pub use table::{AgentChoice, Descriptor, Reach, AGENTS};
