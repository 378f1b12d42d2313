//! The JVM agent's holders: two heap dumps of each JVM (`GC.heap_dump`, live objects only, after
//! a full collection), one with the first picture and one when holders are asked for, written
//! into a private directory (mode 0700) through the attach socket, read in Rust and deleted. The
//! growing classes' instances are walked back to their GC roots in each, and the holder that
//! gained most of them is the one named (object ids are addresses, which a collection moves, so
//! holders are matched by name).

use std::path::{Path, PathBuf};
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

/// A heap dump of each JVM taken with the first picture, kept until the holders are asked for.
pub(super) struct Before {
    dir: Private,
    files: Vec<(u32, PathBuf)>,
}

impl std::fmt::Debug for Before {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Before")
            .field("files", &self.files)
            .finish()
    }
}

/// Makes JVM `pid` dump its live objects to `path`.
fn dump(pid: u32, path: &Path) -> Result<(), AgentError> {
    let command = format!("GC.heap_dump {}", path.display());
    attach::jcmd(pid, &command, DUMP_TIMEOUT)?;
    Ok(())
}

/// The census of `classes` in the dump at `path`, which is deleted.
fn census(
    pid: u32,
    path: &Path,
    classes: &[String],
    budget: Duration,
) -> Result<Vec<java::Census>, AgentError> {
    let graph = hprof::read(path);
    let _ = std::fs::remove_file(path);
    let graph = graph.map_err(|e| JvmError::BadReply {
        pid,
        command: "GC.heap_dump".to_owned(),
        detail: e.to_string(),
    })?;
    Ok(java::census(&graph, classes, Instant::now() + budget))
}

impl Before {
    /// Dumps every JVM of `pids` into a new private directory.
    pub(super) fn take(pids: &[u32]) -> Result<Before, AgentError> {
        let dir = Private::new()?;
        let mut files = Vec::new();
        for &pid in pids {
            let path = dir.0.path().join(format!("{pid}-before.hprof"));
            dump(pid, &path)?;
            files.push((pid, path));
        }
        Ok(Before { dir, files })
    }

    /// The holders of the growing classes among `sites` in every JVM of `pids`: what gained most
    /// of their instances from this dump to one taken now, each dump's graph searched for at
    /// most about `budget`.
    pub(super) fn holders(
        self,
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
        let mut out = Vec::new();
        for &pid in pids {
            let before = match self.files.iter().find(|f| f.0 == pid) {
                Some((_, path)) => census(pid, path, &classes, budget)?,
                None => Vec::new(),
            };
            let path = self.dir.0.path().join(format!("{pid}-after.hprof"));
            dump(pid, &path)?;
            let after = census(pid, &path, &classes, budget)?;
            out.extend(java::growth_holders(&classes, &before, &after));
        }
        Ok(out)
    }
}
