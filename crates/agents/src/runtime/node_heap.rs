//! The node agent's holders: a heap snapshot of each process after the lead-in ("before") and
//! one after the locate iterations ("after"), written by the agent (`{"cmd":"heap_snapshot",
//! "name":"before"}` -> `{"ok":true,"path":...,"pid":N,"script":...,"bytes":N,"ms":N}`) into its
//! private directory and read here; the objects of the second whose ids are not in the first are
//! the new ones that survived. Each file is deleted once read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leakproof_diff::Holder;
use serde::Deserialize;

use super::client;
use crate::AgentError;

/// Timeout of one heap snapshot (V8 writes about 50 MB/s of snapshot; docs/performance.md).
const HEAP_SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(120);

/// A `heap_snapshot` reply.
#[derive(Debug, Deserialize)]
struct Reply {
    path: PathBuf,
    pid: u32,
    /// The agent's own file, whose objects are not the target's.
    script: String,
}

/// The ids of each process's "before" snapshot, sorted.
#[derive(Debug)]
pub(super) struct Before {
    ids: HashMap<u32, Vec<u32>>,
}

/// Removes a snapshot file when dropped, read or not.
struct Delete<'a>(&'a Path);

impl Drop for Delete<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// Asks every process for a snapshot named `name`; each reply's file must be in `dir`.
fn snapshots(dir: &Path, name: &str) -> Result<Vec<Reply>, AgentError> {
    let request = serde_json::json!({ "cmd": "heap_snapshot", "name": name }).to_string();
    let replies: Vec<Reply> = client::ask_all(dir, &request, HEAP_SNAPSHOT_TIMEOUT)?;
    for r in &replies {
        if r.path.parent() != Some(dir) {
            return Err(AgentError::BadReply {
                pid: r.pid,
                detail: format!(
                    "a heap snapshot outside the agent's directory: {}",
                    r.path.display()
                ),
            });
        }
    }
    Ok(replies)
}

fn unreadable(pid: u32, e: leakproof_heapgraph::SnapshotError) -> AgentError {
    AgentError::BadReply {
        pid,
        detail: e.to_string(),
    }
}

impl Before {
    /// Takes and reads the "before" snapshot of every process.
    pub(super) fn take(dir: &Path) -> Result<Before, AgentError> {
        let mut ids = HashMap::new();
        for reply in snapshots(dir, "before")? {
            let _file = Delete(&reply.path);
            let read = leakproof_heapgraph::read_snapshot_ids(&reply.path)
                .map_err(|e| unreadable(reply.pid, e))?;
            ids.insert(reply.pid, read);
        }
        Ok(Before { ids })
    }

    /// Takes the "after" snapshot of every process and names the holders of its new objects,
    /// searching each process's graph for at most about `budget`.
    pub(super) fn holders(&self, dir: &Path, budget: Duration) -> Result<Vec<Holder>, AgentError> {
        let mut holders = Vec::new();
        for reply in snapshots(dir, "after")? {
            let file = Delete(&reply.path);
            let Some(before) = self.ids.get(&reply.pid) else {
                continue; // a process started during the locate phase: everything is new
            };
            let graph = leakproof_heapgraph::read_heap_snapshot(&reply.path)
                .map_err(|e| unreadable(reply.pid, e))?;
            drop(file);
            let deadline = Instant::now() + budget;
            holders.extend(leakproof_heapgraph::new_object_holders(
                &graph,
                before,
                &reply.script,
                deadline,
            ));
        }
        Ok(holders)
    }
}
