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
use crate::{registry, AgentError};
use leakproof_heapgraph::{growth_holders, read_heap_dump, Census};

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
) -> Result<Vec<Census>, AgentError> {
    let graph = read_heap_dump(path);
    let _ = std::fs::remove_file(path);
    let graph = graph.map_err(|e| JvmError::BadReply {
        pid,
        command: "GC.heap_dump".to_owned(),
        detail: e.to_string(),
    })?;
    Ok(leakproof_heapgraph::census(
        &graph,
        classes,
        Instant::now() + budget,
    ))
}

/// Why a dump of a heap of `heap` bytes is not taken into `dir`: reading it could use more than
/// half the memory available (leakproof's reader needs up to ~3.2 times the dump, and the dump
/// is about the heap: docs/performance.md), or it would not fit on the disk twice over.
fn no_room(dir: &Path, heap: u64) -> Option<String> {
    let mib = |b: u64| b >> 20;
    let need = heap.saturating_mul(4);
    let available = available_memory().unwrap_or(u64::MAX);
    if need > available / 2 {
        return Some(format!(
            "a heap dump of the {} MiB heap is not taken: reading it may need {} MiB and {} MiB \
             are available",
            mib(heap),
            mib(need),
            mib(available)
        ));
    }
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    #[allow(clippy::useless_conversion)] // u32 on 32-bit targets
    let free = u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size()));
    (free < heap.saturating_mul(2)).then(|| {
        format!(
            "a heap dump of the {} MiB heap is not taken: {} MiB are free in {}",
            mib(heap),
            mib(free),
            dir.display()
        )
    })
}

/// `MemAvailable` of /proc/meminfo, in bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

impl Before {
    /// Dumps every JVM of `jvms` (pid, bytes of heap in use) into a new private directory.
    pub(super) fn take(jvms: &[(u32, u64)]) -> Result<Before, AgentError> {
        let dir = Private::new()?;
        let mut files = Vec::new();
        for &(pid, heap) in jvms {
            if let Some(why) = no_room(dir.0.path(), heap) {
                return Err(AgentError::Read(why));
            }
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
            out.extend(growth_holders(&classes, &before, &after));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_heap_has_room_and_an_enormous_one_is_declined_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(no_room(dir.path(), 1 << 20), None);
        let why = no_room(dir.path(), 1 << 60).expect("declined");
        assert!(
            why.starts_with("a heap dump of the 1099511627776 MiB heap is not taken"),
            "{why}"
        );
        assert!(!why.contains('\n'), "{why}");
        assert!(available_memory().is_some_and(|b| b > 0));
    }
}
