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

use std::path::Path;
use std::time::{Duration, Instant};

use leakproof_diff::Holder;

use crate::AgentError;

/// The holders of the objects of the node heap snapshot `after` that are not in `before` (two
/// `.heapsnapshot` files of one process, as `v8.writeHeapSnapshot` writes them), grouped by
/// constructor and holder, most bytes first; the graph is searched for at most about `budget`.
pub fn heap_snapshot_holders(
    before: &Path,
    after: &Path,
    budget: Duration,
) -> Result<Vec<Holder>, AgentError> {
    let unreadable = |e: v8::SnapshotError| AgentError::Read(e.to_string());
    let before = v8::read_ids(before).map_err(unreadable)?;
    let graph = v8::read_graph(after).map_err(unreadable)?;
    Ok(js::new_object_holders(
        &graph,
        &before,
        "",
        Instant::now() + budget,
    ))
}

/// The holders of the growth of `classes` (as Java names them: `byte[]`, `java.lang.String`)
/// from the HPROF heap dump `before` (if any) to `after` (`jcmd PID GC.heap_dump FILE`): the
/// holder that gained most of their bytes, preferring the user's code; each graph is searched
/// for at most about `budget`.
pub fn heap_dump_holders(
    before: Option<&Path>,
    after: &Path,
    classes: &[String],
    budget: Duration,
) -> Result<Vec<Holder>, AgentError> {
    let census = |path: &Path| {
        let graph = hprof::read(path).map_err(|e| AgentError::Read(e.to_string()))?;
        Ok::<_, AgentError>(java::census(&graph, classes, Instant::now() + budget))
    };
    let earlier = match before {
        Some(path) => census(path)?,
        None => Vec::new(),
    };
    Ok(java::growth_holders(classes, &earlier, &census(after)?))
}
