//! The native agent as a sampler: a dynamically linked target's exact live `malloc` bytes through
//! the preloaded `libleakproof_preload.so`, and, when they grew, the growing lines of its code
//! from the stacks the agent records.
//!
//! Locating: stacks are recorded only from `locate_start` on, so every picture holds just the
//! blocks allocated since then and still alive. A process writes its sites at its next `malloc`
//! or `free` after a request, and an idle server allocates only while it serves a request: each
//! picture is requested *before* an iteration that writes it. The "before" picture is requested
//! in `locate_first` (written at the first allocation of the measured locate iterations) and
//! collected in `locate_last`, which then requests the "after" picture, written during the final
//! iteration and collected in `locate_finish`. Both pictures are the same file (`DIR/PID.sites`),
//! so the first is read before the second is asked for. A target that allocates nothing during
//! the final iteration (or a locate phase of one iteration, which has no `locate_last`) leaves
//! only the first picture, which is then compared with nothing: the growth over the lead-in
//! iterations, said in a note.

use std::path::Path;
use std::time::{Duration, Instant};

use leakproof_diff::Snapshot;
use leakproof_sample::ProbeError;

use crate::agent::NATIVE_LABEL;
use crate::capture::{grew, growing_sites};
use crate::engine::{Column, Sampler, LEAD_IN};
use crate::native_agent::{NativeAgent, NativeAgentError, SitesRequest};
use leakproof_report::{Report, Resource};
use leakproof_sample::native::NativeSample;

/// How long a started target has to publish its heap once it is ready.
pub(crate) const NATIVE_READY: Duration = Duration::from_secs(2);
/// How long the "before" picture, written during the locate iterations, may take to appear.
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// How long a target may take to write the "after" picture (it needs an allocation of its own).
const LAST_WAIT: Duration = Duration::from_secs(1);
/// Pauses between the reads of [`NativeSampler::quiet_detail`] (a busy target is read as it is
/// after the last one).
const QUIET_PAUSES: [Duration; 7] = [
    Duration::from_micros(50),
    Duration::from_micros(200),
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(20),
];
/// Most time one run spends waiting for a busy target to be quiet, beyond the first pause.
const QUIET_BUDGET: Duration = Duration::from_secs(1);
/// Why a target is judged on RSS although the agent was preloaded.
pub(crate) const NO_ALLOCATION: &str = "no allocation reached the preload agent (statically \
                                        linked, or its own allocator): judged on RSS";

/// A native agent whose directory a Ctrl-C / SIGTERM handler removes too (`agent::cleanup_all`),
/// as it does the runtime agents'.
pub(crate) struct TrackedAgent(NativeAgent);

impl TrackedAgent {
    /// Registers `agent`'s directory.
    pub(crate) fn new(agent: NativeAgent) -> TrackedAgent {
        crate::agent::track_dir(agent.dir());
        TrackedAgent(agent)
    }
}

impl std::ops::Deref for TrackedAgent {
    type Target = NativeAgent;
    fn deref(&self) -> &NativeAgent {
        &self.0
    }
}

impl std::ops::DerefMut for TrackedAgent {
    fn deref_mut(&mut self) -> &mut NativeAgent {
        &mut self.0
    }
}

impl Drop for TrackedAgent {
    fn drop(&mut self) {
        // The agent itself removes the directory when it drops, right after.
        crate::agent::forget_dir(self.0.dir());
    }
}

/// The "before" picture and the request for the "after" one (none when it could not be made), or
/// why the "before" picture is missing.
type Collected = Result<(Snapshot, Option<SitesRequest>), NativeAgentError>;

/// The live `malloc` heap of a native target's processes, summed.
pub(crate) struct NativeSampler {
    agent: TrackedAgent,
    /// The "before" picture, requested in `locate_first`.
    first: Option<SitesRequest>,
    /// What `locate_last` did: the "before" picture collected and the "after" one requested.
    last: Option<Collected>,
    locating: bool,
    /// Why capture could not start, for the report.
    failed: Option<String>,
    /// What is left of [`QUIET_BUDGET`].
    quiet_left: Duration,
}

impl NativeSampler {
    /// Samples `agent`, whose target is running.
    pub(crate) fn new(agent: TrackedAgent) -> NativeSampler {
        NativeSampler {
            agent,
            first: None,
            last: None,
            locating: false,
            failed: None,
            quiet_left: QUIET_BUDGET,
        }
    }

    /// The heap once the target is quiet: read until two reads a pause apart agree and no thread
    /// of the target is running. A server answers before it frees the request's buffers, and on
    /// a busy machine it can be preempted in between for milliseconds: a read right after the
    /// answer then catches a block that is freed a moment later, which an exact count shows.
    fn quiet_detail(&mut self) -> Result<NativeSample, NativeAgentError> {
        let key = |d: &NativeSample| (d.live_bytes, d.live_blocks, d.total_blocks, d.processes);
        let started = Instant::now();
        let mut last = self.agent.detail()?;
        for pause in QUIET_PAUSES {
            if self.quiet_left.is_zero() {
                break;
            }
            std::thread::sleep(pause);
            let now = self.agent.detail()?;
            if key(&now) == key(&last) && !running(self.agent.dir()) {
                last = now;
                break;
            }
            last = now;
        }
        let waited = started.elapsed().saturating_sub(QUIET_PAUSES[0]);
        self.quiet_left = self.quiet_left.saturating_sub(waited);
        Ok(last)
    }

    /// The two pictures and what their difference spans: from `locate_last` when it ran (the
    /// after picture written during the final iteration), else the first picture and a request
    /// made now, which only a target that allocates on its own answers.
    fn pictures(&mut self, k: usize) -> Result<(Snapshot, Snapshot, String), NativeAgentError> {
        let (before, after, span, when) = match (self.last.take(), self.first.take()) {
            (Some(collected), _) => {
                let (before, request) = collected?;
                let after = request.ok_or(NativeAgentError::SitesTimeout {
                    timeout: Duration::ZERO,
                });
                let after = after.and_then(|r| self.agent.collect_sites(r, LAST_WAIT));
                let span = format!("growth over {} more iterations", k.saturating_sub(1));
                (before, after, span, "during the final iteration")
            }
            (None, Some(first)) => {
                let before = self.agent.collect_sites(first, FIRST_WAIT)?;
                let after = self
                    .agent
                    .request_sites()
                    .and_then(|r| self.agent.collect_sites(r, LAST_WAIT));
                let span =
                    format!("growth over {k} more iterations (up to the target's next allocation)");
                (before, after, span, "after its last iteration")
            }
            (None, None) => {
                return Err(NativeAgentError::SitesTimeout {
                    timeout: Duration::ZERO,
                })
            }
        };
        Ok(match after {
            Ok(after) => (before, after, span),
            Err(_) => (
                Snapshot::empty(),
                before,
                format!(
                    "live blocks allocated over the {LEAD_IN} lead-in iterations (up to the next \
                     allocation): the target allocated nothing {when} to write a later picture"
                ),
            ),
        })
    }
}

impl Sampler for NativeSampler {
    fn columns(&self) -> Vec<Column> {
        vec![Column::new(Resource::agent_heap("native"), NATIVE_LABEL)]
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        let detail = self
            .quiet_detail()
            .map_err(|e| ProbeError::Io(std::io::Error::other(e.to_string())))?;
        // A target with its own allocator publishes a region that never counts a block.
        if detail.total_blocks == 0 {
            return Err(ProbeError::Io(std::io::Error::other(NO_ALLOCATION)));
        }
        out[0] = detail.live_bytes.max(0) as f64;
        Ok(())
    }

    fn locate_start(&mut self, report: &Report) -> bool {
        self.locating = grew(report, Resource::agent_heap("native"));
        if self.locating {
            if let Err(e) = self.agent.start_sites() {
                self.locating = false;
                self.failed = Some(e.to_string());
            }
        }
        self.locating
    }

    fn locate_first(&mut self) {
        if self.locating {
            self.first = self.agent.request_sites().ok();
        }
    }

    fn locate_last(&mut self) {
        let Some(first) = self.first.take().filter(|_| self.locating) else {
            return;
        };
        // Written at the target's first allocation after `locate_first`, an iteration ago or more.
        let before = self.agent.collect_sites(first, FIRST_WAIT);
        self.last = Some(before.map(|b| (b, self.agent.request_sites().ok())));
    }

    fn locate_finish(&mut self, report: &mut Report, iterations: usize) {
        if let Some(e) = self.failed.take() {
            let note = format!("{} sites unknown: {e}", Resource::agent_heap("native"));
            report.notes.push(note);
        }
        if !std::mem::take(&mut self.locating) {
            return;
        }
        let result = self.pictures(iterations.saturating_sub(LEAD_IN));
        let _ = self.agent.stop_sites();
        let (before, after, span) = match result {
            Ok(pictures) => pictures,
            Err(e) => {
                report
                    .notes
                    .push(format!("{} sites unknown: {e}", Resource::agent_heap("native")));
                return;
            }
        };
        let sites = growing_sites(mark_unresolved(before), mark_unresolved(after));
        report.notes.push(if sites.is_empty() {
            format!("no {} site grew ({span})", Resource::agent_heap("native"))
        } else {
            format!("{} sites: {span}", Resource::agent_heap("native"))
        });
        if report.sites.is_empty() {
            report.sites = sites;
        }
    }
}

/// Frames the target's own objects could not name keep their address as the function, so that
/// the own-process symbolizer of [`growing_sites`] does not look them up in *this* process.
fn mark_unresolved(mut snapshot: Snapshot) -> Snapshot {
    for site in &mut snapshot.sites {
        for frame in &mut site.frames {
            if let (Some(ip), false) = (frame.ip, frame.is_resolved()) {
                frame.function = Some(format!("{ip:#x}"));
            }
        }
    }
    snapshot
}

/// True when a thread of a process publishing in `dir` (its files are named by pid) is running or
/// runnable (state `R` in `/proc/PID/task/TID/stat`).
fn running(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                return false;
            };
            tasks.flatten().any(|t| {
                std::fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
                    stat.rsplit_once(") ")
                        .is_some_and(|(_, rest)| rest.starts_with('R'))
                })
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_diff::Frame;

    #[test]
    fn unresolved_foreign_frames_keep_their_address_and_are_not_looked_up_here() {
        let mut snapshot = Snapshot::from_ips([(vec![0x1000_u64, 0x2000], 600_u64, 3_u64)]);
        snapshot.sites[0].frames[0] = Frame::at("handle", "server.c", 20);
        let marked = mark_unresolved(snapshot);
        let frames = &marked.sites[0].frames;
        assert_eq!(frames[0], Frame::at("handle", "server.c", 20));
        assert_eq!(frames[1].function.as_deref(), Some("0x2000"));
        // The own-process symbolizer of growing_sites leaves both as they are.
        let sites = growing_sites(Snapshot::empty(), marked);
        let names: Vec<_> = sites[0]
            .traceback
            .iter()
            .map(|f| f.function.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, ["handle", "0x2000"]);
        assert_eq!(sites[0].size_diff, 600);
    }

    #[test]
    fn a_process_reading_proc_is_running_and_no_process_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!running(dir.path()), "empty directory");
        std::fs::write(dir.path().join("notes.sites"), "").expect("write");
        assert!(!running(dir.path()), "only files named by a pid count");
        // This test's own thread is running while it reads its own stat.
        std::fs::write(dir.path().join(std::process::id().to_string()), "").expect("write");
        assert!(running(dir.path()));
        assert!(!running(Path::new("/nonexistent/leakproof")));
    }
}
