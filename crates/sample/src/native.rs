//! The reading side of leakproof's native preload agent (`crates/preload`,
//! `libleakproof_preload.so`): exact live heap bytes of every process of a target that runs with
//! the agent preloaded, and their allocation sites on request.
//!
//! Each process with the agent publishes a small shared region, the file `DIR/PID` (`DIR` is
//! [`NATIVE_DIR_VAR`]). [`NativeRegions`] maps every region read-write (it writes only the
//! reader's control word), sums the live bytes of the processes still alive, unmaps and deletes
//! the regions of processes that are gone, and asks for sites: [`NativeRegions::set_capture`] makes
//! every process (and every process started later) record a stack per allocation,
//! [`NativeRegions::request_sites`] asks each for a dump of its live sites, which the process
//! writes at its next allocation or free, and [`NativeRegions::read_sites`] reads it.
//!
//! The layout is defined once, in `crates/preload/src/layout.rs`, which this module includes; the
//! magic `LKPNAT02` carries its version, and a region with another magic is ignored.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::*};

use crate::capture::RawSite;

/// The environment variable that names the agent's directory (private, mode 0700).
pub const NATIVE_DIR_VAR: &str = "LEAKPROOF_PRELOAD_DIR";
/// Set, to the `LD_PRELOAD` its children should get (maybe empty), for a process that has the
/// agent for itself only: the agent restores it and removes its own variables when it loads.
pub const NATIVE_SELF_VAR: &str = "LEAKPROOF_PRELOAD_SELF";
/// The agent's directory for a process that has the agent for itself only ([`NATIVE_SELF_VAR`]),
/// where it reads its own region.
pub const NATIVE_OWN_DIR_VAR: &str = "LEAKPROOF_PRELOAD_OWN_DIR";

/// The region's layout, shared with the agent that writes it.
#[path = "../../preload/src/layout.rs"]
mod layout;

use layout::{
    slot_offset, MAGIC, OFF_CTL, OFF_DROPPED, OFF_DUMPED, OFF_EXITED, OFF_MAGIC, OFF_OPENS,
    OFF_PID, REGION_SIZE, SLOTS, SLOT_COUNTERS,
};
/// File (in the directory) whose presence makes newly started processes capture from the start.
const CAPTURE_FILE: &str = "capture";

/// One mapped region.
#[derive(Debug)]
struct Mapped {
    base: NonNull<u8>,
    ino: u64,
}

// SAFETY: the mapping is plain shared memory accessed only through atomics; it is owned by this
// value and unmapped once, in Drop.
unsafe impl Send for Mapped {}

impl Mapped {
    fn open(path: &Path) -> io::Result<Option<Mapped>> {
        let file = fs::OpenOptions::new().read(true).write(true).open(path)?;
        let meta = file.metadata()?;
        if meta.len() < REGION_SIZE as u64 {
            return Ok(None); // not a region (or one still being created: never, it is renamed)
        }
        // SAFETY: maps REGION_SIZE bytes of a file at least that long; the kernel picks the address.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                REGION_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let m = Mapped {
            base: NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?,
            ino: meta.ino(),
        };
        Ok((m.word(OFF_MAGIC).load(Acquire) == MAGIC).then_some(m))
    }

    /// The 8-byte word at `off`.
    fn word(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off + 8 <= REGION_SIZE && off % 8 == 0);
        // SAFETY: `off` is an aligned offset inside the live, page-aligned mapping; the agent
        // accesses the same words only atomically.
        unsafe { &*self.base.as_ptr().add(off).cast::<AtomicU64>() }
    }

    /// Live bytes and blocks: allocated minus freed over every slot (wrapping, then signed: a
    /// process may free blocks it inherited from its parent); and blocks ever allocated.
    fn live(&self) -> (i64, i64, u64) {
        let (mut b, mut k, mut total) = (0u64, 0u64, 0u64);
        let [alloc_bytes, alloc_blocks, free_bytes, free_blocks] = SLOT_COUNTERS;
        for i in 0..=SLOTS {
            let s = slot_offset(i);
            let ab = self.word(s + alloc_bytes).load(Relaxed);
            let ak = self.word(s + alloc_blocks).load(Relaxed);
            let fb = self.word(s + free_bytes).load(Relaxed);
            let fk = self.word(s + free_blocks).load(Relaxed);
            b = b.wrapping_add(ab.wrapping_sub(fb));
            k = k.wrapping_add(ak.wrapping_sub(fk));
            total = total.wrapping_add(ak);
        }
        (b as i64, k as i64, total)
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, once; no reference outlives `self`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), REGION_SIZE) };
    }
}

/// Totals over the live processes of a target, from [`NativeRegions::sample`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeSample {
    /// Live heap bytes (usable sizes), summed over the processes still alive; each process counts
    /// what it allocated and has not freed since it started (a forked child from zero).
    pub live_bytes: i64,
    /// Live heap blocks, likewise.
    pub live_blocks: i64,
    /// Blocks ever allocated by the live processes. Still 0 once the target has done some work
    /// means its allocator does not go through the interposed functions (the program defines its
    /// own `malloc`, or uses another allocator): the counts are then meaningless.
    pub total_blocks: u64,
    /// Processes that published a region and are still alive.
    pub processes: usize,
    /// Allocations the agents could not record as sites (their tables were full).
    pub dropped_sites: u64,
}

/// The regions of every process of one target (see the [module docs](self)).
#[derive(Debug)]
pub struct NativeRegions {
    dir: PathBuf,
    regions: HashMap<u32, Mapped>,
}

impl NativeRegions {
    /// Reads the regions published in `dir` (the value of [`NATIVE_DIR_VAR`] given to the target).
    pub fn new(dir: impl Into<PathBuf>) -> NativeRegions {
        NativeRegions {
            dir: dir.into(),
            regions: HashMap::new(),
        }
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Maps regions that appeared or were replaced (an exec publishes anew under the same pid),
    /// and unmaps and deletes those of processes that are gone. Returns the live pids, sorted.
    pub fn refresh(&mut self) -> io::Result<Vec<u32>> {
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let ino = entry.metadata()?.ino();
            if self.regions.get(&pid).is_some_and(|m| m.ino == ino) {
                continue;
            }
            self.regions.remove(&pid);
            if let Some(m) = Mapped::open(&entry.path())? {
                self.regions.insert(pid, m);
            }
        }
        let gone: Vec<u32> = self
            .regions
            .iter()
            .filter(|(pid, m)| m.word(OFF_EXITED).load(Acquire) != 0 || !alive(**pid))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in gone {
            self.regions.remove(&pid);
            let _ = fs::remove_file(self.dir.join(pid.to_string()));
            let _ = fs::remove_file(self.dir.join(format!("{pid}.sites")));
            let _ = fs::remove_file(self.dir.join(format!("{pid}.open")));
        }
        let mut pids: Vec<u32> = self.regions.keys().copied().collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Refreshes, then sums the live processes' counters (a few thousand loads per process).
    pub fn sample(&mut self) -> io::Result<NativeSample> {
        self.refresh()?;
        let mut out = NativeSample::default();
        for m in self.regions.values() {
            let (b, k, total) = m.live();
            out.live_bytes += b;
            out.live_blocks += k;
            out.total_blocks += total;
            out.processes += 1;
            out.dropped_sites += m.word(OFF_DROPPED).load(Relaxed);
        }
        Ok(out)
    }

    /// Switches allocation-site recording on or off in every live process and, through a file in
    /// the directory, in every process that starts later. Off also makes each process forget its
    /// records (at its next allocation or free).
    pub fn set_capture(&mut self, on: bool) -> io::Result<()> {
        let flag = self.dir.join(CAPTURE_FILE);
        if on {
            fs::write(&flag, b"")?;
        } else if let Err(e) = fs::remove_file(&flag) {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(e);
            }
        }
        self.refresh()?;
        for m in self.regions.values() {
            if on {
                m.word(OFF_CTL).fetch_or(1, SeqCst);
            } else {
                m.word(OFF_CTL).fetch_and(!1, SeqCst);
            }
        }
        Ok(())
    }

    /// Switches the tracing of open sites (where descriptors are opened and threads started) on
    /// or off in every live process, without a stack per allocation: for a process that reads its
    /// own agent. [`NativeRegions::set_capture`] traces them too.
    pub fn trace_opens(&mut self, on: bool) -> io::Result<()> {
        self.refresh()?;
        for m in self.regions.values() {
            m.word(OFF_OPENS).store(u64::from(on), SeqCst);
        }
        Ok(())
    }

    /// Asks every live process for a dump of its live sites; returns `(pid, request)` pairs for
    /// [`NativeRegions::sites_ready`]. A process writes it at its next allocation or free.
    pub fn request_sites(&mut self) -> io::Result<Vec<(u32, u64)>> {
        self.refresh()?;
        let mut out: Vec<(u32, u64)> = self
            .regions
            .iter()
            .map(|(pid, m)| (*pid, (m.word(OFF_CTL).fetch_add(2, SeqCst) >> 1) + 1))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// True once process `pid` has written the dump for `request` (or a later one).
    pub fn sites_ready(&self, pid: u32, request: u64) -> bool {
        self.regions
            .get(&pid)
            .is_some_and(|m| m.word(OFF_DUMPED).load(Acquire) >= request)
    }

    /// True while process `pid` has a mapped region (it is alive, as of the last refresh).
    pub fn has(&self, pid: u32) -> bool {
        self.regions
            .get(&pid)
            .is_some_and(|m| m.word(OFF_PID).load(Relaxed) == u64::from(pid))
    }

    /// The last sites dump of `pid`: live sites (return addresses, innermost first, starting at
    /// the caller of the allocation function) with their bytes and blocks. `None` without a dump.
    pub fn read_sites(&self, pid: u32) -> io::Result<Option<Vec<RawSite>>> {
        match fs::read_to_string(self.dir.join(format!("{pid}.sites"))) {
            Ok(text) => parse_sites(&text).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The open-sites dump `pid` wrote with its last sites dump (see [`OpenDump`]); `None`
    /// without one.
    pub fn read_open(&self, pid: u32) -> io::Result<Option<OpenDump>> {
        match fs::read_to_string(self.dir.join(format!("{pid}.open"))) {
            Ok(text) => parse_open(&text).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Where one process's open descriptors and live threads were opened and started, from the dump
/// it writes beside each sites dump ([`NativeRegions::read_open`]): only those opened or started
/// while sites were being captured, grouped by stack (`bytes` and `blocks` both count them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenDump {
    /// Open descriptors by the stack that opened them (innermost first, from the caller of the
    /// opening function).
    pub fds: Vec<RawSite>,
    /// Live threads by the stack that started them (from the caller of `pthread_create`).
    pub threads: Vec<RawSite>,
    /// Descriptors and threads the agent could not trace (numbers past its table, table full).
    pub dropped: u64,
}

/// Parses an open-sites dump (format in `crates/preload/src/opens.rs`).
fn parse_open(text: &str) -> io::Result<OpenDump> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed open-sites file");
    let mut lines = text.lines();
    let dropped = lines
        .next()
        .and_then(|l| l.strip_prefix("leakproof-open 1 "))
        .and_then(|d| d.parse::<u64>().ok())
        .ok_or_else(bad)?;
    let (mut fds, mut threads) = (HashMap::new(), HashMap::new());
    for line in lines {
        let mut fields = line.split(' ');
        let by_stack = match fields.next() {
            Some("fd") => &mut fds,
            Some("thread") => &mut threads,
            _ => return Err(bad()),
        };
        fields
            .next()
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(bad)?;
        let ips = fields
            .map(|f| u64::from_str_radix(f, 16).map_err(|_| bad()))
            .collect::<io::Result<Vec<u64>>>()?;
        *by_stack.entry(ips).or_insert(0u64) += 1;
    }
    let sites = |by_stack: HashMap<Vec<u64>, u64>| {
        let mut out: Vec<RawSite> = by_stack
            .into_iter()
            .map(|(ips, n)| RawSite {
                ips,
                bytes: n,
                blocks: n,
            })
            .collect();
        out.sort_by(|a, b| b.blocks.cmp(&a.blocks).then_with(|| a.ips.cmp(&b.ips)));
        out
    };
    Ok(OpenDump {
        fds: sites(fds),
        threads: sites(threads),
        dropped,
    })
}

/// Parses a sites dump (format in `crates/preload/src/sites.rs`).
fn parse_sites(text: &str) -> io::Result<Vec<RawSite>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed sites file");
    let mut lines = text.lines();
    if !lines
        .next()
        .is_some_and(|l| l.starts_with("leakproof-sites 1 "))
    {
        return Err(bad());
    }
    let mut sites = Vec::new();
    for line in lines {
        let mut fields = line.split(' ');
        let mut num = || {
            fields
                .next()
                .and_then(|f| f.parse::<u64>().ok())
                .ok_or_else(bad)
        };
        let (bytes, blocks) = (num()?, num()?);
        let ips = fields
            .map(|f| u64::from_str_radix(f, 16).map_err(|_| bad()))
            .collect::<io::Result<Vec<u64>>>()?;
        sites.push(RawSite { ips, bytes, blocks });
    }
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.ips.cmp(&b.ips)));
    Ok(sites)
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Makes this process's own preload agent, if it has one, serve a pending request now: agents
/// answer at an allocation through the C `malloc`, which this makes (and frees) directly,
/// whatever Rust's global allocator is.
pub fn serve_own_request() {
    // SAFETY: a plain C allocation of one byte, freed at once (free accepts null).
    unsafe { libc::free(libc::malloc(1)) };
}

/// The text of `/proc/PID/maps` (where each object of a process is loaded), for symbolizing its
/// addresses.
pub fn proc_maps(pid: u32) -> io::Result<String> {
    fs::read_to_string(format!("/proc/{pid}/maps"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_dump_and_refuses_garbage() {
        let sites = parse_sites("leakproof-sites 1 0\n200 1 4005d0 400600\n4000 20 4005e0\n")
            .expect("valid");
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[0].bytes, 4000);
        assert_eq!(sites[1].ips, vec![0x4005d0, 0x400600]);
        assert!(parse_sites("nonsense\n").is_err());
        assert!(parse_sites("leakproof-sites 1 0\n12 x\n").is_err());
    }

    #[test]
    fn parses_an_open_dump_grouping_by_stack() {
        let dump = parse_open("leakproof-open 1 2\nfd 5 4005d0 400600\nfd 7 4005d0 400600\nthread 99 4005e0\nfd 9 1\n")
            .expect("valid");
        assert_eq!(dump.dropped, 2);
        assert_eq!(dump.fds.len(), 2);
        assert_eq!(
            (
                dump.fds[0].ips.clone(),
                dump.fds[0].blocks,
                dump.fds[0].bytes
            ),
            (vec![0x4005d0, 0x400600], 2, 2)
        );
        assert_eq!(
            dump.threads,
            vec![RawSite {
                ips: vec![0x4005e0],
                bytes: 1,
                blocks: 1
            }]
        );
        assert!(parse_open("leakproof-sites 1 0\n").is_err());
        assert!(parse_open("leakproof-open 1 0\nsocket 3 10\n").is_err());
        assert!(parse_open("leakproof-open 1 0\nfd x 10\n").is_err());
    }

    #[test]
    fn an_empty_directory_samples_zero_and_ignores_strangers() {
        let dir = std::env::temp_dir().join(format!("lp-native-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        fs::write(dir.join("123"), b"too short").expect("file");
        fs::write(dir.join("notes"), b"x").expect("file");
        let mut r = NativeRegions::new(&dir);
        let s = r.sample().expect("sample");
        assert_eq!((s.processes, s.live_bytes), (0, 0));
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn this_process_is_alive_and_a_bogus_pid_is_not() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX - 1));
    }
}
