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
//! publishes nothing: [`NativeAgent::wait_ready`] then fails with [`NativeAgentError::NotReady`]
//! and the caller falls back to RSS.
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use leakproof_harness::native_agent::NativeAgent;
//!
//! let mut agent = NativeAgent::prepare()?;
//! let mut cmd = Command::new("./server");
//! agent.apply_env(&mut cmd);
//! let mut child = cmd.spawn().expect("spawn");
//! agent.wait_ready(Duration::from_secs(5))?;
//! let live_bytes = agent.sample()?;
//! # let _ = (live_bytes, child.kill());
//! # Ok::<(), leakproof_harness::native_agent::NativeAgentError>(())
//! ```

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use leakproof_diff::{ForeignSymbolizer, Snapshot};
use leakproof_sample::native::{proc_maps, NativeRegions, NativeSample, NATIVE_DIR_VAR};

/// Environment variable overriding where the agent library is (a path to the `.so`).
pub const PRELOAD_VAR: &str = "LEAKPROOF_PRELOAD";
/// File name of the agent library.
pub const LIBRARY_NAME: &str = "libleakproof_preload.so";

/// Why the native agent cannot be used or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NativeAgentError {
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

impl NativeAgent {
    /// Finds the library ([`PRELOAD_VAR`], else next to the running executable's target
    /// directory) and makes a private directory (in `/dev/shm` when it exists).
    pub fn prepare() -> Result<NativeAgent, NativeAgentError> {
        NativeAgent::with_library(find_library()?)
    }

    /// Like [`NativeAgent::prepare`] with an explicit library path.
    pub fn with_library(library: impl Into<PathBuf>) -> Result<NativeAgent, NativeAgentError> {
        let library = library.into();
        if !library.is_file() {
            return Err(NativeAgentError::NotFound {
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
            .map_err(|source| NativeAgentError::Io {
                dir: dir.clone(),
                source,
            })?;
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
        let own = cmd
            .get_envs()
            .find(|(k, _)| *k == "LD_PRELOAD")
            .map(|(_, v)| v.map(|v| v.to_os_string()));
        let existing = own.unwrap_or_else(|| std::env::var_os("LD_PRELOAD"));
        let mut preload = existing.filter(|v| !v.is_empty()).unwrap_or_default();
        if !preload.is_empty() {
            preload.push(":");
        }
        preload.push(self.library.as_os_str());
        cmd.env("LD_PRELOAD", preload);
        cmd.env(NATIVE_DIR_VAR, OsString::from(self.dir()));
    }

    /// Waits until at least one process of the target has published its heap. A program that
    /// brings its own `malloc` publishes a region that never counts anything: check
    /// [`NativeSample::total_blocks`] after the first iterations.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), NativeAgentError> {
        let start = Instant::now();
        loop {
            if self.detail()?.processes > 0 {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(NativeAgentError::NotReady { timeout });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Live heap bytes (usable sizes) summed over the target's live processes.
    pub fn sample(&mut self) -> Result<f64, NativeAgentError> {
        Ok(self.detail()?.live_bytes.max(0) as f64)
    }

    /// Live bytes and blocks, blocks ever allocated, and the number of live processes.
    pub fn detail(&mut self) -> Result<NativeSample, NativeAgentError> {
        self.regions.sample().map_err(|e| self.io(e))
    }

    /// Makes every process of the target (and every one started later) record a stack per
    /// allocation, from its next allocation on.
    pub fn start_sites(&mut self) -> Result<(), NativeAgentError> {
        self.regions.set_capture(true).map_err(|e| self.io(e))
    }

    /// Stops recording stacks and forgets the recorded ones (at each process's next allocation or
    /// free), so the target is back to counting only: collect sites before.
    pub fn stop_sites(&mut self) -> Result<(), NativeAgentError> {
        self.regions.set_capture(false).map_err(|e| self.io(e))
    }

    /// Asks every live process for a dump of its live sites. A process writes it at its next
    /// allocation or free, so drive the target (e.g. one more iteration) before
    /// [`NativeAgent::collect_sites`]. Every dump of a process is the same file (`DIR/PID.sites`)
    /// and a process answers only the latest request: collect a request before making the next,
    /// or the earlier picture is the later one.
    pub fn request_sites(&mut self) -> Result<SitesRequest, NativeAgentError> {
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
    /// are left out; none answering is [`NativeAgentError::SitesTimeout`].
    pub fn collect_sites(
        &mut self,
        request: SitesRequest,
        timeout: Duration,
    ) -> Result<Snapshot, NativeAgentError> {
        let SitesRequest { requests, maps } = request;
        let start = Instant::now();
        let ready = |r: &NativeRegions| requests.iter().all(|(p, q)| r.sites_ready(*p, *q));
        while !ready(&self.regions) && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut sites = Vec::new();
        let mut answered = 0;
        for ((pid, req), maps) in requests.iter().zip(&maps) {
            let Some(maps) = maps
                .as_deref()
                .filter(|_| self.regions.sites_ready(*pid, *req))
            else {
                continue;
            };
            let Some(raw) = self.regions.read_sites(*pid).map_err(|e| self.io(e))? else {
                continue;
            };
            answered += 1;
            let mut one = Snapshot::from_ips(raw.into_iter().map(|s| (s.ips, s.bytes, s.blocks)));
            ForeignSymbolizer::new(maps).symbolize(&mut one);
            sites.extend(one.sites);
        }
        if answered == 0 && !requests.is_empty() {
            return Err(NativeAgentError::SitesTimeout { timeout });
        }
        let mut snapshot = Snapshot::from_sites(sites).taken_now();
        snapshot.sites.sort_by_key(|s| std::cmp::Reverse(s.bytes));
        snapshot.symbolized = true;
        Ok(snapshot)
    }

    /// [`NativeAgent::request_sites`] then [`NativeAgent::collect_sites`]: for a target that
    /// allocates on its own (a busy server); an idle one answers at its next allocation.
    pub fn snapshot(&mut self, timeout: Duration) -> Result<Snapshot, NativeAgentError> {
        let request = self.request_sites()?;
        self.collect_sites(request, timeout)
    }

    fn io(&self, source: io::Error) -> NativeAgentError {
        NativeAgentError::Io {
            dir: self.dir().to_path_buf(),
            source,
        }
    }
}

impl Drop for NativeAgent {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.regions.dir());
    }
}

/// [`PRELOAD_VAR`], else the newest of `DIR/libleakproof_preload.so`, `DIR/deps/...`,
/// `DIR/../...`, `DIR/../deps/...` where `DIR` holds the running executable (so a test binary in
/// `target/debug/deps` and the CLI in `target/release` both find the library cargo built).
fn find_library() -> Result<PathBuf, NativeAgentError> {
    if let Some(path) = std::env::var_os(PRELOAD_VAR) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(NativeAgentError::NotFound {
                searched: format!("{PRELOAD_VAR}={}", path.display()),
            })
        };
    }
    let exe = std::env::current_exe().map_err(|_| NativeAgentError::NotFound {
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
        .ok_or_else(|| NativeAgentError::NotFound {
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
            Err(NativeAgentError::NotFound { .. })
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
