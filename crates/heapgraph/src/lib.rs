//! leakproof-heapgraph: what keeps a growing heap's objects alive.
//!
//! A runtime's own picture of its heap (a node heap snapshot, read by `v8` and spelled by `js`; a
//! HotSpot HPROF heap dump, read by `hprof` and spelled by `java`) is read as one kind of
//! reference graph and searched breadth first from its roots, within a time budget: the
//! [`Holder`]s of the objects that are new in a later picture, or of the classes that grew, named
//! the way the program spells them (`history (Array) in app.js's module scope`,
//! `static JvmService.KEPT (ArrayList)`).
//!
//! Files in, holders out: no processes, no I/O but reading the pictures.
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//!
//! let holders = leakproof_heapgraph::heap_snapshot_holders(
//!     Path::new("before.heapsnapshot"),
//!     Path::new("after.heapsnapshot"),
//!     Duration::from_secs(1),
//! )?;
//! for holder in holders {
//!     println!("{} held by {}", holder.object, holder.name);
//! }
//! # Ok::<(), leakproof_heapgraph::HeapError>(())
//! ```

mod graph;
mod hprof;
mod java;
mod js;
mod v8;

use std::path::Path;
use std::time::{Duration, Instant};

use leakproof_diff::Holder;

pub use graph::Graph;
pub use hprof::{read as read_heap_dump, DumpError};
pub use java::{census, growth_holders, java_name, Census};
pub use js::new_object_holders;
pub use v8::{read_graph as read_heap_snapshot, read_ids as read_snapshot_ids, SnapshotError};

/// At most this many holders are reported per heap.
const MAX_HOLDERS: usize = 3;

/// Why the holders could not be found: a picture could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeapError {
    /// A node heap snapshot.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A JVM heap dump.
    #[error(transparent)]
    Dump(#[from] DumpError),
}

/// The holders of the objects of the node heap snapshot `after` that are not in `before` (two
/// `.heapsnapshot` files of one process, as `v8.writeHeapSnapshot` writes them), grouped by
/// constructor and holder, most bytes first; the graph is searched for at most about `budget`.
pub fn heap_snapshot_holders(
    before: &Path,
    after: &Path,
    budget: Duration,
) -> Result<Vec<Holder>, HeapError> {
    let before = v8::read_ids(before)?;
    let graph = v8::read_graph(after)?;
    Ok(new_object_holders(
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
) -> Result<Vec<Holder>, HeapError> {
    let census_of = |path: &Path| {
        let graph = hprof::read(path)?;
        Ok::<_, HeapError>(census(&graph, classes, Instant::now() + budget))
    };
    let earlier = match before {
        Some(path) => census_of(path)?,
        None => Vec::new(),
    };
    Ok(growth_holders(classes, &earlier, &census_of(after)?))
}
