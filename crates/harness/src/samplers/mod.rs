//! The samplers the adapters give the engine: this process's own resources (in-process runs), an
//! external process tree (drive, watch), and a target's runtime or native agent.

pub(crate) mod agent;
pub(crate) mod jvm;
pub(crate) mod native;
pub(crate) mod own;
pub(crate) mod tree;
