//! The JVM agent: a HotSpot JVM's own heap after a full collection and its growing classes,
//! through the JVM's Dynamic Attach (see `attach`): nothing injected into the target, no JVM or
//! `jcmd` started per sample. Each sample is one `GC.run` over the attach socket, then the heap
//! counters read from the JVM's performance-data file (`/tmp/hsperfdata_<user>/<pid>`, the file
//! `jstat` reads); the locate phase diffs two `GC.class_histogram`s. Linux only.

mod attach;
mod dump;
mod parse;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leakproof_diff::{Holder, Site, Snapshot, StatDiff};
use leakproof_sample::ProbeError;

use crate::table::{runtime_heap, Attach};
use crate::{Agent, AgentError, Descriptor, Pictures, Reach};

/// Floor of a JVM heap, in bytes per iteration (see docs/detection.md, "Runtime heaps").
const FLOOR: f64 = 256.0;

/// The JVM row of [`crate::AGENTS`]: attached to, never injected.
pub(crate) const JVM: Descriptor = Descriptor {
    name: "jvm",
    title: "JVM",
    heap: "jvm",
    label: "jvm heap (after full GC)",
    preset: || runtime_heap(FLOOR),
    watch_floor: None,
    pictures: Pictures::Now,
    pictured: "classes",
    pictured_by: "GC.class_histogram: the JVM agent names classes, not lines",
    locate_iterations: 200,
    reach: Reach::Attach,
    programs: |name| name == "java",
    inject: None,
    attach: Some(Attach {
        finds: is_java,
        attach: |row, root, timeout| Ok(Box::new(JvmAgent::attach(row, root, timeout)?)),
    }),
};

/// Timeout of one `GC.run` (a full collection of a small service takes milliseconds).
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of one `GC.class_histogram`.
const HISTOGRAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the JVM agent cannot attach or read. The caller notes it in one line and goes on with RSS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JvmError {
    /// No process of the target's tree runs an executable named `java`.
    #[error("no process of the target (pid {root}) runs `java`")]
    NoJvm {
        /// The target's root process.
        root: u32,
    },
    /// No readable performance-data file: not HotSpot (OpenJ9), `-XX:-UsePerfData`, or still
    /// starting.
    #[error("java process {pid} has no readable /tmp/hsperfdata_*/{pid} (not a HotSpot JVM, or -XX:-UsePerfData)")]
    NotHotSpot {
        /// The process.
        pid: u32,
    },
    /// The JVM refuses attach.
    #[error("the JVM {pid} runs with -XX:+DisableAttachMechanism")]
    Disabled {
        /// The process.
        pid: u32,
    },
    /// The JVM's collector counts its heap in regions of megabytes, not bytes (ZGC, Shenandoah).
    #[error("the JVM {pid} runs a collector whose heap counters are not exact bytes (policy {collector}; ZGC or Shenandoah?): only G1, Parallel and Serial are judged")]
    Collector {
        /// The process.
        pid: u32,
        /// Its `sun.gc.policy.name`, or `unknown`.
        collector: String,
    },
    /// The JVM has not installed its SIGQUIT handler (still starting, or `-Xrs`): a SIGQUIT would
    /// kill it, so none is sent.
    #[error("the JVM {pid} does not handle SIGQUIT (still starting, or -Xrs)")]
    NoHandler {
        /// The process.
        pid: u32,
    },
    /// The JVM did not open its attach socket after SIGQUIT.
    #[error("the JVM {pid} did not open /tmp/.java_pid{pid} within {timeout:?} of SIGQUIT")]
    NoSocket {
        /// The process.
        pid: u32,
        /// How long we waited.
        timeout: Duration,
    },
    /// A command did not finish in time.
    #[error("the JVM {pid} did not answer `{command}` within {timeout:?}")]
    Timeout {
        /// The process.
        pid: u32,
        /// The diagnostic command.
        command: String,
        /// Its timeout.
        timeout: Duration,
    },
    /// A reply that is not one, or a command that failed.
    #[error("the JVM {pid} sent a bad reply to `{command}`: {detail}")]
    BadReply {
        /// The process.
        pid: u32,
        /// The diagnostic command.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// The socket, the signal or the attach file failed.
    #[error("cannot attach to the JVM {pid}: {source}")]
    Io {
        /// The process.
        pid: u32,
        /// Why.
        source: std::io::Error,
    },
    /// The process could not be inspected.
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

/// Attached JVMs of one target.
#[derive(Debug)]
pub(crate) struct JvmAgent {
    descriptor: &'static Descriptor,
    /// Each JVM's pid and performance-data file.
    jvms: Vec<(u32, PathBuf)>,
    /// The heap dumps taken with the first picture, once taken (or why they failed).
    before: Option<Result<dump::Before, String>>,
}

impl JvmAgent {
    /// Attaches to every JVM of the tree under `root` (the root itself when it `exec`s `java`),
    /// waiting up to `timeout` for one to exist and be ready for `SIGQUIT`.
    pub(crate) fn attach(
        descriptor: &'static Descriptor,
        root: u32,
        timeout: Duration,
    ) -> Result<JvmAgent, JvmError> {
        if !cfg!(target_os = "linux") {
            return Err(JvmError::Probe(ProbeError::Unsupported(
                "the JVM agent is Linux-only".to_owned(),
            )));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let (ready, waiting) = Self::ready_jvms(root)?;
            let late = Instant::now() >= deadline;
            if !ready.is_empty() && (waiting.is_empty() || late) {
                return Self::start(descriptor, ready);
            }
            if late {
                return Err(waiting
                    .into_iter()
                    .next()
                    .unwrap_or(JvmError::NoJvm { root }));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The JVMs under `root` ready for attach, and why the others are not yet; a JVM that will
    /// never be (attach disabled) is an error at once.
    fn ready_jvms(root: u32) -> Result<(Vec<u32>, Vec<JvmError>), JvmError> {
        let mut tree = vec![root];
        tree.extend(leakproof_sample::descendants(root).unwrap_or_default());
        let (mut ready, mut waiting) = (Vec::new(), Vec::new());
        for pid in tree.into_iter().filter(|&p| is_java(p)) {
            match attach::precheck(pid) {
                attach::Precheck::Ready => ready.push(pid),
                attach::Precheck::NotYet(e) => waiting.push(e),
                attach::Precheck::Never(e) => return Err(e),
            }
        }
        Ok((ready, waiting))
    }

    fn start(descriptor: &'static Descriptor, pids: Vec<u32>) -> Result<JvmAgent, JvmError> {
        let mut jvms = Vec::with_capacity(pids.len());
        for pid in pids {
            let perf = attach::perf_file(pid).ok_or(JvmError::NotHotSpot { pid })?;
            attach::start_listener(pid)?;
            // The first command proves the listener speaks the protocol.
            attach::jcmd(pid, "VM.version", SAMPLE_TIMEOUT)?;
            jvms.push((pid, perf));
        }
        Ok(JvmAgent {
            descriptor,
            jvms,
            before: None,
        })
    }

    /// Bytes in use in the Java heaps after a full collection (`GC.run`), summed over the JVMs.
    fn heap(&self) -> Result<u64, JvmError> {
        let mut total = 0u64;
        for (pid, perf) in &self.jvms {
            attach::jcmd(*pid, "GC.run", SAMPLE_TIMEOUT)?;
            total = total.saturating_add(heap_used(*pid, perf)?);
        }
        Ok(total)
    }

    /// The live classes of every JVM after a full collection, merged by class name: one site per
    /// class, bytes and instances.
    fn histogram(&self) -> Result<Snapshot, JvmError> {
        let mut merged: HashMap<String, Site> = HashMap::new();
        for &(pid, _) in &self.jvms {
            let command = "GC.class_histogram";
            let text = attach::jcmd(pid, command, HISTOGRAM_TIMEOUT)?;
            let snapshot = parse::histogram(&text).ok_or_else(|| JvmError::BadReply {
                pid,
                command: command.to_owned(),
                detail: "no class in the histogram".to_owned(),
            })?;
            for site in snapshot.sites {
                let key = site.frames[0].location();
                let e = merged.entry(key).or_insert_with(|| Site {
                    bytes: 0,
                    blocks: 0,
                    ..site.clone()
                });
                e.bytes += site.bytes;
                e.blocks += site.blocks;
            }
        }
        let mut sites: Vec<Site> = merged.into_values().collect();
        sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.blocks.cmp(&a.blocks)));
        let mut snapshot = Snapshot::from_sites(sites);
        snapshot.symbolized = true;
        Ok(snapshot.taken_now())
    }
}

impl Agent for JvmAgent {
    fn descriptor(&self) -> &'static Descriptor {
        self.descriptor
    }

    fn sample(&mut self) -> Result<f64, AgentError> {
        Ok(self.heap()? as f64)
    }

    fn picture(&mut self, _wait: Duration) -> Result<Snapshot, AgentError> {
        if self.before.is_none() {
            let heaps: Result<Vec<(u32, u64)>, JvmError> = self
                .jvms
                .iter()
                .map(|(pid, perf)| Ok((*pid, heap_used(*pid, perf)?)))
                .collect();
            let before = heaps
                .map_err(AgentError::from)
                .and_then(|heaps| dump::Before::take(&heaps));
            self.before = Some(before.map_err(|e| e.to_string()));
        }
        Ok(self.histogram()?)
    }

    fn holders(&mut self, sites: &[StatDiff], budget: Duration) -> Result<Vec<Holder>, AgentError> {
        match self.before.take() {
            Some(Ok(before)) => before.holders(&self.pids(), sites, budget),
            Some(Err(e)) => Err(AgentError::Read(format!("no heap dump before: {e}"))),
            None => Err(AgentError::Read("no heap dump before".to_owned())),
        }
    }

    fn stop_pictures(&mut self) {
        self.before = None;
    }
}

impl JvmAgent {
    fn pids(&self) -> Vec<u32> {
        self.jvms.iter().map(|j| j.0).collect()
    }
}

/// The heap counters of `pid`'s performance data, in the file `perf`.
fn heap_used(pid: u32, perf: &Path) -> Result<u64, JvmError> {
    let bad = |detail: &str| JvmError::BadReply {
        pid,
        command: "hsperfdata".to_owned(),
        detail: detail.to_owned(),
    };
    let data = std::fs::read(perf).map_err(|source| JvmError::Io { pid, source })?;
    let perf = parse::perf_data(&data).ok_or_else(|| bad("not a performance-data file"))?;
    parse::heap_used(&perf)
        .ok_or_else(|| bad("no sun.gc.generation.*.space.*.used counter (ZGC or Shenandoah?)"))
}

/// True when `pid` runs an executable named `java`.
pub(crate) fn is_java(pid: u32) -> bool {
    leakproof_sample::executable(pid).is_ok_and(|exe| exe.file_name().is_some_and(|n| n == "java"))
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    #[test]
    fn a_tree_without_java_is_no_jvm_after_the_timeout() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let started = Instant::now();
        let result = JvmAgent::attach(&JVM, child.id(), Duration::from_millis(200));
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            matches!(result, Err(JvmError::NoJvm { root }) if root == child.id()),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(!is_java(std::process::id()));
    }
}
