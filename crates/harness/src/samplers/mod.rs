//! The samplers the adapters give the engine: this process's own resources (in-process runs), an
//! external process tree (drive, watch), and an agent in a target (its own heap).

pub(crate) mod agent;
pub(crate) mod own_opens;
pub(crate) mod this_process;
pub(crate) mod tree;
