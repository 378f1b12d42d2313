//! The JVM agent's holders: a heap dump of each JVM (`GC.heap_dump`, live objects only, after a
//! full collection) written into a private directory (mode 0700) through the attach socket, read
//! in Rust and deleted; the growing classes' instances are walked back to their GC roots.

use std::time::{Duration, Instant};

use leakproof_diff::{Holder, StatDiff};

use super::{attach, JvmError};
use crate::holders::{hprof, java};
use crate::{registry, AgentError};

/// Timeout of one heap dump (HotSpot writes a 100 MiB heap in about a second; docs/performance.md).
const DUMP_TIMEOUT: Duration = Duration::from_secs(120);
/// At most this many growing classes get a holder.
const CLASSES: usize = 3;

/// A private directory for dumps, removed (with any dump left in it) when dropped.
struct Private(tempfile::TempDir);

impl Private {
    fn new() -> Result<Private, AgentError> {
        use std::os::unix::fs::PermissionsExt;
        let fail = |source| AgentError::Prepare {
            agent: "jvm",
            dir: std::env::temp_dir(),
            source,
        };
        let dir = tempfile::Builder::new()
            .prefix("leakproof-jvm-")
            .tempdir()
            .map_err(fail)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(fail)?;
        registry::track(dir.path());
        Ok(Private(dir))
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        registry::forget(self.0.path());
    }
}

/// The holders of the growing classes among `sites` in every JVM of `pids`, each JVM's graph
/// searched for at most about `budget`.
pub(super) fn holders(
    pids: &[u32],
    sites: &[StatDiff],
    budget: Duration,
) -> Result<Vec<Holder>, AgentError> {
    let classes: Vec<String> = sites
        .iter()
        .filter(|s| s.size_diff > 0)
        .take(CLASSES)
        .map(|s| s.key.clone())
        .collect();
    if classes.is_empty() {
        return Ok(Vec::new());
    }
    let dir = Private::new()?;
    let mut out = Vec::new();
    for &pid in pids {
        let path = dir.0.path().join(format!("{pid}.hprof"));
        let command = format!("GC.heap_dump {}", path.display());
        attach::jcmd(pid, &command, DUMP_TIMEOUT)?;
        let graph = hprof::read(&path);
        let _ = std::fs::remove_file(&path);
        let graph = graph.map_err(|e| JvmError::BadReply {
            pid,
            command: "GC.heap_dump".to_owned(),
            detail: e.to_string(),
        })?;
        let deadline = Instant::now() + budget;
        out.extend(java::class_holders(&graph, &classes, deadline));
    }
    Ok(out)
}
