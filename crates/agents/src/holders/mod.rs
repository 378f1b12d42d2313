//! What keeps a growing heap's objects alive, from a runtime's own picture of its heap: a node
//! heap snapshot (`v8`, spelled by `js`) or a JVM heap dump (`hprof`, spelled by `java`), read as
//! one kind of [`graph::Graph`] and searched breadth first from the roots.

pub(crate) mod graph;
pub(crate) mod hprof;
pub(crate) mod java;
pub(crate) mod js;
pub(crate) mod v8;

/// At most this many holders are reported per heap.
const MAX_HOLDERS: usize = 3;
/// At most this many new objects are walked back to their holder.
const MAX_TARGETS: usize = 200_000;
