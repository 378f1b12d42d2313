//! The samplers the adapters give the engine: this process's own resources (in-process runs) and
//! an external process tree (drive, watch).

pub(crate) mod own;
pub(crate) mod tree;
