//! The native runtime agent: exact heap bytes and allocation sites of a dynamically linked C,
//! C++ or Rust target, by `LD_PRELOAD` of `libleakproof_preload.so` (crate `leakproof-preload`).
//!
//! [`NativeAgent::prepare`] makes a private directory (mode 0700) and finds the library;
//! [`NativeAgent::apply_env`] adds it to a target's command. Every process of the target then
//! publishes its live heap in the directory, and [`NativeAgent::sample`] sums it between
//! iterations (a few thousand memory reads). [`NativeAgent::start_sites`] makes the target record
//! a stack per allocation; [`NativeAgent::snapshot`] collects the live sites, symbolized against
//! the target's own binaries and shared objects, as a `leakproof_diff::Snapshot`.
//!
//! A statically linked target, or one whose allocator does not go through glibc's `malloc`,
//! publishes nothing: [`NativeAgent::wait_ready`] then fails with [`NativeError::NotReady`]
//! and the caller falls back to RSS.
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use leakproof_agents::NativeAgent;
//!
//! let mut agent = NativeAgent::prepare()?;
//! let mut cmd = Command::new("./server");
//! agent.apply_env(&mut cmd);
//! let mut child = cmd.spawn().expect("spawn");
//! agent.wait_ready(Duration::from_secs(5))?;
//! let live_bytes = agent.sample()?;
//! # let _ = (live_bytes, child.kill());
//! # Ok::<(), leakproof_agents::NativeError>(())
//! ```

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use leakproof_diff::{ForeignSymbolizer, Holder, Snapshot, StatDiff};
use leakproof_sample::native::{
    proc_maps, NativeRegions, NativeSample, NATIVE_DIR_VAR, NATIVE_OWN_DIR_VAR, NATIVE_SELF_VAR,
};
use leakproof_trend::Config;

use crate::pending::Prepared;
use crate::{registry, Agent, AgentError, Descriptor, OpenSites, Pictures, Reach};

/// The native row of [`crate::AGENTS`]: exact bytes, judged as an exact heap.
pub(crate) const NATIVE: Descriptor = Descriptor {
    name: "native",
    title: "native",
    heap: "native",
    label: "native heap (malloc, exact)",
    preset: Config::heap,
    watch_floor: None,
    pictures: Pictures::AtNextAllocation,
    pictured: "sites",
    pictured_by: "",
    locate_iterations: 200,
    reach: Reach::Preload,
    programs: |_| false,
    inject: Some(|row, cmd| {
        let agent = NativeAgent::prepare()?;
        agent.apply_env(cmd);
        Ok(Box::new(Ready { row, agent }))
    }),
    attach: None,
};

/// How long a started target has to publish its heap once it is ready.
const READY: Duration = Duration::from_secs(2);
/// Why a target is judged on RSS although the agent was preloaded.
const NO_ALLOCATION: &str =
    "no allocation reached the preload agent (statically linked, or its own allocator)";
/// Pauses between the reads of [`NativeAgent::quiet_detail`] (a busy target is read as it is
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
/// Most time one agent spends waiting for a busy target to be quiet, beyond the first pause.
const QUIET_BUDGET: Duration = Duration::from_secs(1);

/// Environment variable overriding where the agent library is (a path to the `.so`).
pub const PRELOAD_VAR: &str = "LEAKPROOF_PRELOAD";
/// File name of the agent library.
pub const LIBRARY_NAME: &str = "libleakproof_preload.so";

/// Why a native or Rust heap's growth has no holder: the report's one line (they have no
/// references to follow from a root).
pub const NO_HOLDER: &str = "Rust/native heaps have no holder to name";

/// Why the native agent cannot be used or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NativeError {
    /// The agent library was not found.
    #[error("native agent {LIBRARY_NAME} not found (looked in {searched}); build it with `cargo build -p leakproof-preload` or set {PRELOAD_VAR}")]
    NotFound {
        /// The places looked at, comma-separated.
        searched: String,
    },
    /// No process of the target published its heap in time: statically linked, its own
    /// allocator, or it has not started yet.
    #[error("no process of the target published a heap within {timeout:?}: statically linked or its own allocator? (falling back to RSS)")]
    NotReady {
        /// How long was waited.
        timeout: Duration,
    },
    /// Sites were asked for but no live process wrote them in time (a process writes them at its
    /// next allocation or free: drive the target once more while waiting).
    #[error("no process of the target wrote its allocation sites within {timeout:?}")]
    SitesTimeout {
        /// How long was waited.
        timeout: Duration,
    },
    /// Reading the agent's directory failed.
    #[error("native agent directory {}: {source}", .dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// The failure.
        source: io::Error,
    },
}

/// A pending request for allocation sites, from [`NativeAgent::request_sites`].
#[derive(Debug)]
pub struct SitesRequest {
    requests: Vec<(u32, u64)>,
    maps: Vec<Option<String>>,
}

/// One target's native agent: its directory, library and the regions read (see the module docs).
/// Dropping it deletes the directory.
#[derive(Debug)]
pub struct NativeAgent {
    library: PathBuf,
    regions: NativeRegions,
}

/// A native agent prepared for a target that does not run yet.
struct Ready {
    row: &'static Descriptor,
    agent: NativeAgent,
}

/// A native agent whose target runs, as an [`Agent`]: quiet reads, and pictures requested before
/// the iteration that writes them.
struct Running {
    row: &'static Descriptor,
    agent: NativeAgent,
    /// The picture asked for and not collected yet.
    requested: Option<SitesRequest>,
    /// The last picture collected, whose processes wrote their open sites with it.
    collected: Option<SitesRequest>,
    /// The open sites written with the first picture collected, and how many were collected.
    first_open: Option<(Snapshot, Snapshot)>,
    pictures: usize,
    /// What is left of [`QUIET_BUDGET`].
    quiet_left: Duration,
}

impl Prepared for Ready {
    fn ready(
        mut self: Box<Self>,
        _root: u32,
        _timeout: Duration,
    ) -> Result<Box<dyn Agent>, AgentError> {
        match self.agent.wait_ready(READY) {
            Err(NativeError::NotReady { .. }) => {
                return Err(AgentError::Unsupported(NO_ALLOCATION.to_owned()))
            }
            other => other?,
        }
        let Ready { row, agent } = *self;
        Ok(Box::new(Running {
            row,
            agent,
            requested: None,
            collected: None,
            first_open: None,
            pictures: 0,
            quiet_left: QUIET_BUDGET,
        }))
    }
}

impl Running {
    /// The heap once the target is quiet: read until two reads a pause apart agree and no thread
    /// of the target is running. A server answers before it frees the request's buffers, and on
    /// a busy machine it can be preempted in between for milliseconds: a read right after the
    /// answer then catches a block that is freed a moment later, which an exact count shows.
    fn quiet_detail(&mut self) -> Result<NativeSample, NativeError> {
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
}

impl Agent for Running {
    fn descriptor(&self) -> &'static Descriptor {
        self.row
    }

    fn sample(&mut self) -> Result<f64, AgentError> {
        let detail = self.quiet_detail()?;
        // A target with its own allocator publishes a region that never counts a block.
        if detail.total_blocks == 0 {
            return Err(AgentError::Unsupported(NO_ALLOCATION.to_owned()));
        }
        Ok(detail.live_bytes.max(0) as f64)
    }

    fn start_pictures(&mut self) -> Result<(), AgentError> {
        Ok(self.agent.start_sites()?)
    }

    fn request_picture(&mut self) -> Result<(), AgentError> {
        self.requested = Some(self.agent.request_sites()?);
        Ok(())
    }

    fn picture(&mut self, wait: Duration) -> Result<Snapshot, AgentError> {
        let request = self.requested.take().ok_or(NativeError::SitesTimeout {
            timeout: Duration::ZERO,
        })?;
        let sites = mark_unresolved(self.agent.collect(&request, wait)?);
        self.pictures += 1;
        if self.first_open.is_none() {
            self.first_open = self.agent.open_sites(&request, Duration::ZERO).ok();
        }
        self.collected = Some(request);
        Ok(sites)
    }

    fn holders(&mut self, _: &[StatDiff], _: Duration) -> Result<Vec<Holder>, AgentError> {
        Err(AgentError::Unsupported(NO_HOLDER.to_owned()))
    }

    fn open_sites(&mut self, wait: Duration) -> Result<OpenSites, AgentError> {
        let request = self.collected.as_ref().ok_or(NativeError::SitesTimeout {
            timeout: Duration::ZERO,
        })?;
        let (mut fds, mut threads) = self.agent.open_sites(request, wait)?;
        // What was open at the first picture too (a request in flight each time) did not grow.
        if let (Some((fds_before, threads_before)), true) = (&self.first_open, self.pictures > 1) {
            fds = minus(fds, fds_before);
            threads = minus(threads, threads_before);
        }
        Ok(OpenSites::new(
            mark_unresolved(fds),
            mark_unresolved(threads),
        ))
    }

    fn open_sites_from_pictures(&self) -> bool {
        true
    }

    fn stop_pictures(&mut self) {
        let _ = self.agent.stop_sites();
        (self.first_open, self.collected, self.pictures) = (None, None, 0);
    }
}

/// The open sites of `after` less those of `before` with the same stack (one block per handle):
/// the handles opened between the two pictures and still open.
fn minus(mut after: Snapshot, before: &Snapshot) -> Snapshot {
    let key = |s: &leakproof_diff::Site| s.frames.iter().map(|f| f.ip).collect::<Vec<_>>();
    let earlier: std::collections::HashMap<Vec<Option<u64>>, u64> =
        before.sites.iter().map(|s| (key(s), s.blocks)).collect();
    for site in &mut after.sites {
        let n = earlier.get(&key(site)).copied().unwrap_or(0);
        site.blocks = site.blocks.saturating_sub(n);
        site.bytes = site.bytes.saturating_sub(n);
    }
    after.sites.retain(|s| s.blocks > 0);
    after.total_bytes = after.sites.iter().map(|s| s.bytes).sum();
    after.total_blocks = after.sites.iter().map(|s| s.blocks).sum();
    after
}

/// Frames the target's own objects could not name keep their address as the function, so that
/// the own-process symbolizer of the harness does not look them up in *this* process.
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

impl NativeAgent {
    /// Finds the library ([`PRELOAD_VAR`], else next to the running executable's target
    /// directory) and makes a private directory (in `/dev/shm` when it exists).
    pub fn prepare() -> Result<NativeAgent, NativeError> {
        NativeAgent::with_library(find_library()?)
    }

    /// Like [`NativeAgent::prepare`] with an explicit library path.
    pub fn with_library(library: impl Into<PathBuf>) -> Result<NativeAgent, NativeError> {
        let library = library.into();
        if !library.is_file() {
            return Err(NativeError::NotFound {
                searched: library.display().to_string(),
            });
        }
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let name = format!(
            "leakproof-native-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Relaxed)
        );
        let dir = base.join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|source| NativeError::Io {
                dir: dir.clone(),
                source,
            })?;
        registry::track(&dir);
        Ok(NativeAgent {
            library,
            regions: NativeRegions::new(dir),
        })
    }

    /// The agent library preloaded into targets.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// The private directory the target's processes publish in.
    pub fn dir(&self) -> &Path {
        self.regions.dir()
    }

    /// Adds the agent to `cmd`: the library appended to `LD_PRELOAD` (the command's own value, else
    /// this process's), and the directory variable.
    pub fn apply_env(&self, cmd: &mut Command) {
        let mut preload = preload_of(cmd);
        if !preload.is_empty() {
            preload.push(":");
        }
        preload.push(self.library.as_os_str());
        cmd.env("LD_PRELOAD", preload);
        cmd.env(NATIVE_DIR_VAR, OsString::from(self.dir()));
    }

    /// Like [`NativeAgent::apply_env`], for a process that reads its own agent (a leak test's
    /// re-executed child): the agent takes itself out of the environment when it loads, so the
    /// processes that one starts run as they would without it; the directory is then in
    /// [`NATIVE_OWN_DIR_VAR`].
    pub fn apply_env_for_self(&self, cmd: &mut Command) {
        let inherited = preload_of(cmd);
        self.apply_env(cmd);
        cmd.env(NATIVE_SELF_VAR, inherited);
        cmd.env(NATIVE_OWN_DIR_VAR, self.dir());
    }

    /// Waits until at least one process of the target has published its heap. A program that
    /// brings its own `malloc` publishes a region that never counts anything: check
    /// [`NativeSample::total_blocks`] after the first iterations.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), NativeError> {
        let start = Instant::now();
        loop {
            if self.detail()?.processes > 0 {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(NativeError::NotReady { timeout });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Live heap bytes (usable sizes) summed over the target's live processes.
    pub fn sample(&mut self) -> Result<f64, NativeError> {
        Ok(self.detail()?.live_bytes.max(0) as f64)
    }

    /// Live bytes and blocks, blocks ever allocated, and the number of live processes.
    pub fn detail(&mut self) -> Result<NativeSample, NativeError> {
        self.regions.sample().map_err(|e| self.io(e))
    }

    /// Makes every process of the target (and every one started later) record a stack per
    /// allocation, from its next allocation on.
    pub fn start_sites(&mut self) -> Result<(), NativeError> {
        self.regions.set_capture(true).map_err(|e| self.io(e))
    }

    /// Stops recording stacks and forgets the recorded ones (at each process's next allocation or
    /// free), so the target is back to counting only: collect sites before.
    pub fn stop_sites(&mut self) -> Result<(), NativeError> {
        self.regions.set_capture(false).map_err(|e| self.io(e))
    }

    /// Asks every live process for a dump of its live sites. A process writes it at its next
    /// allocation or free, so drive the target (e.g. one more iteration) before
    /// [`NativeAgent::collect_sites`]. Every dump of a process is the same file (`DIR/PID.sites`)
    /// and a process answers only the latest request: collect a request before making the next,
    /// or the earlier picture is the later one.
    pub fn request_sites(&mut self) -> Result<SitesRequest, NativeError> {
        let requests = self.regions.request_sites().map_err(|e| self.io(e))?;
        // Where each process's objects are loaded, read now, while it is surely alive.
        let maps = requests
            .iter()
            .map(|(pid, _)| proc_maps(*pid).ok())
            .collect();
        Ok(SitesRequest { requests, maps })
    }

    /// Waits up to `timeout` for the dumps of `request`, and returns the live sites symbolized
    /// against each process's own objects, in one snapshot. Processes that did not answer in time
    /// are left out; none answering is [`NativeError::SitesTimeout`].
    pub fn collect_sites(
        &mut self,
        request: SitesRequest,
        timeout: Duration,
    ) -> Result<Snapshot, NativeError> {
        self.collect(&request, timeout)
    }

    /// Waits up to `timeout` for every process of `request` to answer; returns the answers,
    /// each with where its objects are loaded.
    fn answered<'r>(&self, request: &'r SitesRequest, timeout: Duration) -> Vec<(u32, &'r str)> {
        let SitesRequest { requests, maps } = request;
        let start = Instant::now();
        let ready = |r: &NativeRegions| requests.iter().all(|(p, q)| r.sites_ready(*p, *q));
        while !ready(&self.regions) && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(2));
        }
        requests
            .iter()
            .zip(maps)
            .filter(|((pid, req), _)| self.regions.sites_ready(*pid, *req))
            .filter_map(|((pid, _), maps)| Some((*pid, maps.as_deref()?)))
            .collect()
    }

    fn collect(
        &mut self,
        request: &SitesRequest,
        timeout: Duration,
    ) -> Result<Snapshot, NativeError> {
        let mut sites = Vec::new();
        let mut answered = 0;
        for (pid, maps) in self.answered(request, timeout) {
            let Some(raw) = self.regions.read_sites(pid).map_err(|e| self.io(e))? else {
                continue;
            };
            answered += 1;
            let mut one = Snapshot::from_ips(raw.into_iter().map(|s| (s.ips, s.bytes, s.blocks)));
            ForeignSymbolizer::new(maps).symbolize(&mut one);
            sites.extend(one.sites);
        }
        if answered == 0 && !request.requests.is_empty() {
            return Err(NativeError::SitesTimeout { timeout });
        }
        let mut snapshot = Snapshot::from_sites(sites).taken_now();
        snapshot.sites.sort_by_key(|s| std::cmp::Reverse(s.bytes));
        snapshot.symbolized = true;
        Ok(snapshot)
    }

    /// Where the descriptors still open and the threads still alive were opened and started,
    /// among those opened since [`NativeAgent::start_sites`]: what each process wrote with its
    /// answer to `request` (waiting up to `timeout` for it), one block per descriptor or thread
    /// by its stack, symbolized like the sites. Returns (descriptors, threads).
    pub fn open_sites(
        &mut self,
        request: &SitesRequest,
        timeout: Duration,
    ) -> Result<(Snapshot, Snapshot), NativeError> {
        let (mut fds, mut threads) = (Vec::new(), Vec::new());
        let answers = self.answered(request, timeout);
        if answers.is_empty() && !request.requests.is_empty() {
            return Err(NativeError::SitesTimeout { timeout });
        }
        for (pid, maps) in answers {
            let Some(dump) = self.regions.read_open(pid).map_err(|e| self.io(e))? else {
                continue;
            };
            for (raw, out) in [(dump.fds, &mut fds), (dump.threads, &mut threads)] {
                let mut one =
                    Snapshot::from_ips(raw.into_iter().map(|s| (s.ips, s.bytes, s.blocks)));
                ForeignSymbolizer::new(maps).symbolize(&mut one);
                out.extend(one.sites);
            }
        }
        let picture = |sites: Vec<_>| {
            let mut snapshot = Snapshot::from_sites(sites).taken_now();
            snapshot.sites.sort_by_key(|s| std::cmp::Reverse(s.blocks));
            snapshot.symbolized = true;
            snapshot
        };
        Ok((picture(fds), picture(threads)))
    }

    /// [`NativeAgent::request_sites`] then [`NativeAgent::collect_sites`]: for a target that
    /// allocates on its own (a busy server); an idle one answers at its next allocation.
    pub fn snapshot(&mut self, timeout: Duration) -> Result<Snapshot, NativeError> {
        let request = self.request_sites()?;
        self.collect_sites(request, timeout)
    }

    fn io(&self, source: io::Error) -> NativeError {
        NativeError::Io {
            dir: self.dir().to_path_buf(),
            source,
        }
    }
}

impl Drop for NativeAgent {
    fn drop(&mut self) {
        registry::forget(self.regions.dir());
        let _ = std::fs::remove_dir_all(self.regions.dir());
    }
}

/// The `LD_PRELOAD` `cmd` would run with: its own value, else this process's (empty for none).
fn preload_of(cmd: &Command) -> OsString {
    let own = cmd
        .get_envs()
        .find(|(k, _)| *k == "LD_PRELOAD")
        .map(|(_, v)| v.map(|v| v.to_os_string()));
    let existing = own.unwrap_or_else(|| std::env::var_os("LD_PRELOAD"));
    existing.filter(|v| !v.is_empty()).unwrap_or_default()
}

/// [`PRELOAD_VAR`], else the newest of `DIR/libleakproof_preload.so`, `DIR/deps/...`,
/// `DIR/../...`, `DIR/../deps/...` where `DIR` holds the running executable (so a test binary in
/// `target/debug/deps` and the CLI in `target/release` both find the library cargo built).
fn find_library() -> Result<PathBuf, NativeError> {
    if let Some(path) = std::env::var_os(PRELOAD_VAR) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(NativeError::NotFound {
                searched: format!("{PRELOAD_VAR}={}", path.display()),
            })
        };
    }
    let exe = std::env::current_exe().map_err(|_| NativeError::NotFound {
        searched: "the running executable's directory (unknown)".into(),
    })?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let candidates: Vec<PathBuf> = [
        dir.to_path_buf(),
        dir.join("deps"),
        dir.join(".."),
        dir.join("../deps"),
    ]
    .into_iter()
    .map(|d| d.join(LIBRARY_NAME))
    .collect();
    // The newest: cargo refreshes `deps/` whenever it builds the harness, the top-level copy
    // only when the preload package itself is a build root.
    candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max()
        .map(|(_, p)| p.clone())
        .ok_or_else(|| NativeError::NotFound {
            searched: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// True when `program` (a path, or a name looked up in `PATH`) is a dynamically linked ELF
/// executable (it has a `PT_INTERP` program header), the kind the native agent can be preloaded
/// into. Scripts, statically linked binaries and unreadable files give false.
pub fn is_native_target(program: impl AsRef<Path>) -> bool {
    let program = program.as_ref();
    let path = if program.components().count() > 1 {
        Some(program.to_path_buf())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
    };
    let Some(data) = path.and_then(|p| std::fs::read(p).ok()) else {
        return false;
    };
    has_interpreter(&data)
}

fn has_interpreter(data: &[u8]) -> bool {
    use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
    let Ok(elf) = ElfFile64::<object::Endianness>::parse(data) else {
        return false;
    };
    let endian = elf.endian();
    elf.elf_header()
        .program_headers(endian, data)
        .is_ok_and(|phs| {
            phs.iter()
                .any(|ph| ph.p_type(endian) == object::elf::PT_INTERP)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_diff::Frame;

    #[test]
    fn unresolved_foreign_frames_keep_their_address() {
        let mut snapshot = Snapshot::from_ips([(vec![0x1000_u64, 0x2000], 600_u64, 3_u64)]);
        snapshot.sites[0].frames[0] = Frame::at("handle", "server.c", 20);
        let marked = mark_unresolved(snapshot);
        let frames = &marked.sites[0].frames;
        assert_eq!(frames[0], Frame::at("handle", "server.c", 20));
        assert_eq!(frames[1].function.as_deref(), Some("0x2000"));
    }

    #[test]
    fn open_sites_less_the_first_picture_keep_only_what_was_opened_in_between() {
        let before = Snapshot::from_ips([(vec![0x10_u64], 1_u64, 1_u64), (vec![0x20], 2, 2)]);
        let after = Snapshot::from_ips([
            (vec![0x10_u64], 1_u64, 1_u64),
            (vec![0x20], 9, 9),
            (vec![0x30], 1, 1),
        ]);
        let grown = minus(after, &before);
        let blocks: Vec<(Option<u64>, u64)> = grown
            .sites
            .iter()
            .map(|s| (s.frames[0].ip, s.blocks))
            .collect();
        assert_eq!(blocks, vec![(Some(0x20), 7), (Some(0x30), 1)]);
        assert_eq!((grown.total_blocks, grown.total_bytes), (8, 8));
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

    #[test]
    fn this_test_binary_is_native_and_text_files_are_not() {
        let exe = std::env::current_exe().expect("exe");
        assert!(is_native_target(&exe));
        assert!(
            is_native_target("sh"),
            "sh is found in PATH and dynamically linked"
        );
        assert!(!is_native_target(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")
        ));
        assert!(!is_native_target("/nonexistent/leakproof-nothing"));
    }

    #[test]
    fn a_missing_library_is_a_typed_error_and_the_directory_is_private() {
        assert!(matches!(
            NativeAgent::with_library("/nonexistent/libx.so"),
            Err(NativeError::NotFound { .. })
        ));
        let exe = std::env::current_exe().expect("exe");
        let agent = NativeAgent::with_library(&exe).expect("any file serves as the library here");
        let dir = agent.dir().to_path_buf();
        let mode = std::fs::metadata(&dir).expect("dir").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        let mut cmd = Command::new("true");
        cmd.env("LD_PRELOAD", "/a.so");
        agent.apply_env(&mut cmd);
        let preload = cmd
            .get_envs()
            .find(|(k, _)| *k == "LD_PRELOAD")
            .and_then(|(_, v)| v);
        assert_eq!(
            preload,
            Some(OsString::from(format!("/a.so:{}", exe.display())).as_os_str())
        );
        drop(agent);
        assert!(!dir.exists());
    }
}
