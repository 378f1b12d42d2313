//! Probes: one number (with its unit) per call, for the heap, RSS, open fds and threads of this
//! process, any PID, or a process tree.
//!
//! Linux reads `/proc`. The per-iteration probes keep their `/proc` file open and re-read it with
//! `pread` (RSS, threads) or `getdents64` (fds), so a sample costs one or two system calls. On other
//! platforms every `/proc`-based constructor returns [`ProbeError::Unsupported`]; the heap probe works
//! everywhere.

use std::fs::File;
use std::io;

use serde::{Deserialize, Serialize};

use crate::alloc::{heap_stats, is_tracking};

/// Something that can be sampled between iterations.
pub trait Probe {
    /// Takes one sample.
    fn sample(&mut self) -> Result<Sample, ProbeError>;
}

/// One measurement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The measured value.
    pub value: f64,
    /// What `value` counts.
    pub unit: Unit,
}

/// Unit of a [`Sample`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Bytes.
    Bytes,
    /// A count of things (descriptors, threads, processes).
    Count,
}

/// Why a probe could not sample.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The process no longer exists (or is a zombie).
    #[error("process {pid} is gone")]
    Gone {
        /// The process.
        pid: u32,
    },
    /// The process exists but may not be inspected by this user.
    #[error("permission denied inspecting process {pid}")]
    PermissionDenied {
        /// The process.
        pid: u32,
    },
    /// Not available on this platform or in this configuration.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Any other I/O failure.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ProbeError {
    /// Maps an I/O error about `/proc/<pid>/...` to Gone / PermissionDenied / Io.
    fn from_proc(e: io::Error, pid: u32) -> ProbeError {
        match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ESRCH) => ProbeError::Gone { pid },
            Some(libc::EACCES) | Some(libc::EPERM) => ProbeError::PermissionDenied { pid },
            _ => match e.kind() {
                io::ErrorKind::NotFound => ProbeError::Gone { pid },
                io::ErrorKind::PermissionDenied => ProbeError::PermissionDenied { pid },
                _ => ProbeError::Io(e),
            },
        }
    }
}

fn this_pid() -> u32 {
    std::process::id()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn unsupported_if_no_proc() -> Result<(), ProbeError> {
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn unsupported_if_no_proc() -> Result<(), ProbeError> {
    Err(ProbeError::Unsupported(
        "process probes read /proc, which this platform does not have".into(),
    ))
}

fn open_proc(pid: u32, what: &str) -> Result<File, ProbeError> {
    unsupported_if_no_proc()?;
    File::open(format!("/proc/{pid}/{what}")).map_err(|e| ProbeError::from_proc(e, pid))
}

/// Reads a whole small `/proc` file through a kept-open handle with `pread` at offset 0.
fn pread_all<'b>(f: &File, pid: u32, buf: &'b mut [u8]) -> Result<&'b [u8], ProbeError> {
    use std::os::unix::fs::FileExt;
    let n = f
        .read_at(buf, 0)
        .map_err(|e| ProbeError::from_proc(e, pid))?;
    if n == 0 {
        return Err(ProbeError::Gone { pid });
    }
    Ok(&buf[..n])
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in field {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

fn bad_format(what: &str, pid: u32) -> ProbeError {
    ProbeError::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected format of /proc/{pid}/{what}"),
    ))
}

/// The fields of `/proc/PID/stat` after the command name (state is field 0 here).
fn stat_fields(stat: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    Some(
        stat[close + 1..]
            .split(|c| c.is_ascii_whitespace())
            .filter(|f| !f.is_empty()),
    )
}

// ---------------------------------------------------------------------------------------------

/// Live heap bytes of [`TrackingAlloc`](crate::TrackingAlloc) (the whole process).
#[derive(Debug, Default, Clone, Copy)]
pub struct HeapProbe;

impl HeapProbe {
    /// A heap probe; sampling fails with `Unsupported` unless `TrackingAlloc` is the global allocator.
    pub fn new() -> Self {
        HeapProbe
    }
}

impl Probe for HeapProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        if !is_tracking() {
            return Err(ProbeError::Unsupported(
                "TrackingAlloc is not the global allocator".into(),
            ));
        }
        Ok(Sample {
            value: heap_stats().live_bytes as f64,
            unit: Unit::Bytes,
        })
    }
}

/// Resident set size of one process, from a kept-open `/proc/PID/statm`.
#[derive(Debug)]
pub struct RssProbe {
    pid: u32,
    statm: File,
    page: u64,
}

impl RssProbe {
    /// This process.
    pub fn this_process() -> Result<Self, ProbeError> {
        Self::pid(this_pid())
    }

    /// Any process.
    pub fn pid(pid: u32) -> Result<Self, ProbeError> {
        let statm = open_proc(pid, "statm")?;
        let mut p = RssProbe {
            pid,
            statm,
            page: page_size(),
        };
        p.rss_bytes()?;
        Ok(p)
    }

    /// The process this probe reads.
    pub fn process_id(&self) -> u32 {
        self.pid
    }

    /// Resident bytes now.
    pub fn rss_bytes(&mut self) -> Result<u64, ProbeError> {
        let mut buf = [0u8; 256];
        let text = pread_all(&self.statm, self.pid, &mut buf)?;
        let mut fields = text.split(|c| c.is_ascii_whitespace());
        let size = fields.next().and_then(parse_u64);
        let resident = fields.next().and_then(parse_u64);
        match (size, resident) {
            // A zombie has an empty address space; a live process never does.
            (Some(0), _) if self.pid != this_pid() && is_zombie(self.pid) => {
                Err(ProbeError::Gone { pid: self.pid })
            }
            (Some(_), Some(r)) => Ok(r * self.page),
            _ => Err(bad_format("statm", self.pid)),
        }
    }

    /// PSS and USS from `/proc/PID/smaps_rollup` (about 20 us: for reports, not every iteration).
    pub fn memory_detail(&self) -> Result<MemoryDetail, ProbeError> {
        memory_detail(Some(self.pid))
    }
}

impl Probe for RssProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        Ok(Sample {
            value: self.rss_bytes()? as f64,
            unit: Unit::Bytes,
        })
    }
}

fn is_zombie(pid: u32) -> bool {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(s) => matches!(
            stat_fields(&s).and_then(|mut f| f.next()),
            Some(b"Z") | Some(b"X")
        ),
        Err(_) => true,
    }
}

/// Memory of a process from `smaps_rollup`, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryDetail {
    /// Resident set size.
    pub rss: u64,
    /// Proportional set size (shared pages divided among their sharers).
    pub pss: u64,
    /// Unique set size (private clean + private dirty).
    pub uss: u64,
    /// Swapped-out bytes.
    pub swap: u64,
}

/// RSS, PSS, USS and swap of a process (`None` = this process) from `/proc/PID/smaps_rollup`.
pub fn memory_detail(pid: Option<u32>) -> Result<MemoryDetail, ProbeError> {
    let pid = pid.unwrap_or_else(this_pid);
    unsupported_if_no_proc()?;
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound
            && std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            ProbeError::Unsupported("smaps_rollup needs Linux 4.14 or later".into())
        } else {
            ProbeError::from_proc(e, pid)
        }
    })?;
    if text.is_empty() {
        return Err(ProbeError::Gone { pid });
    }
    let mut d = MemoryDetail::default();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(val)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(kb) = parse_u64(val.as_bytes()) else {
            continue;
        };
        let bytes = kb * 1024;
        match key {
            "Rss:" => d.rss = bytes,
            "Pss:" => d.pss = bytes,
            "Private_Clean:" | "Private_Dirty:" => d.uss += bytes,
            "Swap:" => d.swap = bytes,
            _ => {}
        }
    }
    Ok(d)
}

/// The memory-usage file of the cgroup of `pid`: cgroup v2 `memory.current` (also under a hybrid
/// `unified` mount), else cgroup v1 `memory.usage_in_bytes`. `None` when neither exists.
fn cgroup_memory_file(pid: u32) -> Result<Option<std::path::PathBuf>, ProbeError> {
    unsupported_if_no_proc()?;
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|e| ProbeError::from_proc(e, pid))?;
    let mut candidates = Vec::new();
    for line in cg.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.trim_end();
        if id == "0" && controllers.is_empty() {
            candidates.insert(0, format!("/sys/fs/cgroup{path}/memory.current"));
            candidates.insert(1, format!("/sys/fs/cgroup/unified{path}/memory.current"));
        } else if controllers.split(',').any(|c| c == "memory") {
            candidates.push(format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes"));
        }
    }
    Ok(candidates
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file()))
}

/// Bytes charged to the memory cgroup of a process (`None` = this process): cgroup v2
/// `memory.current`, or cgroup v1 `memory.usage_in_bytes`. `Ok(None)` when the process is in no
/// memory cgroup this process can see.
pub fn cgroup_memory_current(pid: Option<u32>) -> Result<Option<u64>, ProbeError> {
    let pid = pid.unwrap_or_else(this_pid);
    let Some(file) = cgroup_memory_file(pid)? else {
        return Ok(None);
    };
    match std::fs::read_to_string(&file) {
        Ok(s) => Ok(parse_u64(s.trim().as_bytes())),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(None),
        Err(e) => Err(ProbeError::Io(e)),
    }
}

/// Bytes charged to a memory cgroup as a probe (file kept open, re-read with `pread`); see
/// [`cgroup_memory_current`] for which file.
#[derive(Debug)]
pub struct CgroupProbe {
    file: File,
    pid: u32,
}

impl CgroupProbe {
    /// The cgroup of `pid` (`None` = this process); `Unsupported` if it has no memory cgroup file.
    pub fn new(pid: Option<u32>) -> Result<Self, ProbeError> {
        let pid = pid.unwrap_or_else(this_pid);
        let path = cgroup_memory_file(pid)?
            .ok_or_else(|| ProbeError::Unsupported("no memory cgroup file found".into()))?;
        let file = File::open(&path)
            .map_err(|e| ProbeError::Unsupported(format!("{} unreadable: {e}", path.display())))?;
        Ok(CgroupProbe { file, pid })
    }
}

impl Probe for CgroupProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        let mut buf = [0u8; 64];
        let text = pread_all(&self.file, self.pid, &mut buf)?;
        let v = parse_u64(text.trim_ascii())
            .ok_or_else(|| bad_format("cgroup memory.current", self.pid))?;
        Ok(Sample {
            value: v as f64,
            unit: Unit::Bytes,
        })
    }
}

// ---------------------------------------------------------------------------------------------

/// Number of threads of a process, from a kept-open `/proc/PID/stat`.
#[derive(Debug)]
pub struct ThreadProbe {
    pid: u32,
    stat: File,
}

impl ThreadProbe {
    /// This process.
    pub fn this_process() -> Result<Self, ProbeError> {
        Self::pid(this_pid())
    }

    /// Any process.
    pub fn pid(pid: u32) -> Result<Self, ProbeError> {
        let mut p = ThreadProbe {
            pid,
            stat: open_proc(pid, "stat")?,
        };
        p.threads()?;
        Ok(p)
    }

    /// Threads now.
    pub fn threads(&mut self) -> Result<u64, ProbeError> {
        let mut buf = [0u8; 1024];
        let text = pread_all(&self.stat, self.pid, &mut buf)?;
        read_threads(text, self.pid)
    }
}

fn read_threads(stat: &[u8], pid: u32) -> Result<u64, ProbeError> {
    let mut f = stat_fields(stat).ok_or_else(|| bad_format("stat", pid))?;
    let state = f.next().ok_or_else(|| bad_format("stat", pid))?;
    if state == b"Z" || state == b"X" {
        return Err(ProbeError::Gone { pid });
    }
    // num_threads is field 20 of stat; state is field 3.
    f.nth(16)
        .and_then(parse_u64)
        .ok_or_else(|| bad_format("stat", pid))
}

impl Probe for ThreadProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        Ok(Sample {
            value: self.threads()? as f64,
            unit: Unit::Count,
        })
    }
}

/// Number of open file descriptors of a process: the entries of `/proc/PID/fd`, read through a
/// kept-open directory handle (which, for this process, is not counted).
#[derive(Debug)]
pub struct FdProbe {
    pid: u32,
    dir: File,
}

impl FdProbe {
    /// This process.
    pub fn this_process() -> Result<Self, ProbeError> {
        Self::pid(this_pid())
    }

    /// Any process.
    pub fn pid(pid: u32) -> Result<Self, ProbeError> {
        unsupported_if_no_proc()?;
        let dir =
            open_dir(&format!("/proc/{pid}/fd")).map_err(|e| ProbeError::from_proc(e, pid))?;
        let mut p = FdProbe { pid, dir };
        p.fds()?;
        Ok(p)
    }

    /// Open descriptors now.
    pub fn fds(&mut self) -> Result<u64, ProbeError> {
        use std::os::fd::AsRawFd;
        let own = if self.pid == this_pid() {
            Some(self.dir.as_raw_fd())
        } else {
            None
        };
        let n =
            count_dir_entries(&self.dir, own).map_err(|e| ProbeError::from_proc(e, self.pid))?;
        if n == 0 && self.pid != this_pid() && is_zombie(self.pid) {
            return Err(ProbeError::Gone { pid: self.pid });
        }
        Ok(n)
    }
}

impl Probe for FdProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        Ok(Sample {
            value: self.fds()? as f64,
            unit: Unit::Count,
        })
    }
}

fn open_dir(path: &str) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

/// Counts the entries of an open directory other than `.`, `..` and the name `skip_fd` (as a number).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn count_dir_entries(dir: &File, skip_fd: Option<i32>) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    let fd = dir.as_raw_fd();
    // SAFETY: `fd` is an open directory owned by `dir`; rewinding it has no other effect.
    if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    #[repr(C, align(8))]
    struct Buf([u8; 4096]);
    let mut buf = Buf([0; 4096]);
    let mut count = 0u64;
    loop {
        // SAFETY: getdents64 writes at most `len` bytes into the buffer, which we own and which is
        // 8-byte aligned as linux_dirent64 requires.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.0.as_mut_ptr(), buf.0.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(count);
        }
        let n = n as usize;
        let mut off = 0usize;
        // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        while off + 19 <= n {
            let reclen = u16::from_ne_bytes([buf.0[off + 16], buf.0[off + 17]]) as usize;
            if reclen == 0 || off + reclen > n {
                break;
            }
            let name = &buf.0[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                let is_skip = skip_fd
                    .and_then(|s| parse_u64(name).map(|v| v == s as u64))
                    .unwrap_or(false);
                if !is_skip {
                    count += 1;
                }
            }
            off += reclen;
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn count_dir_entries(_dir: &File, _skip_fd: Option<i32>) -> io::Result<u64> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no getdents64"))
}

/// What an open file descriptor refers to, from its `/proc/PID/fd` link target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FdKind {
    /// A path in the file system (regular file, directory, device).
    File,
    /// `socket:[inode]`.
    Socket,
    /// `pipe:[inode]`.
    Pipe,
    /// `anon_inode:...` (eventfd, epoll, timerfd, signalfd, ...).
    AnonInode,
    /// Anything else.
    Other,
}

impl FdKind {
    /// Classifies a link target.
    pub fn from_target(target: &str) -> FdKind {
        if target.starts_with("socket:") {
            FdKind::Socket
        } else if target.starts_with("pipe:") {
            FdKind::Pipe
        } else if target.starts_with("anon_inode:") {
            FdKind::AnonInode
        } else if target.starts_with('/') {
            FdKind::File
        } else {
            FdKind::Other
        }
    }
}

/// One open file descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FdInfo {
    /// The descriptor number.
    pub fd: i32,
    /// What it refers to.
    pub kind: FdKind,
    /// The link target, e.g. `/tmp/x`, `socket:[1234]`, `anon_inode:[eventfd]`.
    pub target: String,
}

/// The open file descriptors of a process (`None` = this process), sorted by number. For this
/// process, the descriptor used to list the directory is left out.
pub fn list_fds(pid: Option<u32>) -> Result<Vec<FdInfo>, ProbeError> {
    let pid = pid.unwrap_or_else(this_pid);
    unsupported_if_no_proc()?;
    let dir_path = format!("/proc/{pid}/fd");
    let rd = std::fs::read_dir(&dir_path).map_err(|e| ProbeError::from_proc(e, pid))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| ProbeError::from_proc(e, pid))?;
        let name = entry.file_name();
        let Some(fd) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let target = match std::fs::read_link(entry.path()) {
            Ok(t) => t.to_string_lossy().into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // closed meanwhile
            Err(e) => return Err(ProbeError::from_proc(e, pid)),
        };
        if pid == this_pid() && target == dir_path {
            continue; // read_dir's own handle
        }
        out.push(FdInfo {
            fd,
            kind: FdKind::from_target(&target),
            target,
        });
    }
    if out.is_empty() && pid != this_pid() && is_zombie(pid) {
        return Err(ProbeError::Gone { pid });
    }
    out.sort_by_key(|f| f.fd);
    Ok(out)
}

/// All descendants of `pid` (children, grandchildren, ...), not including `pid` itself.
/// Uses `/proc/PID/task/TID/children` where the kernel has it, else a scan of `/proc/*/stat`.
pub fn descendants(pid: u32) -> Result<Vec<u32>, ProbeError> {
    unsupported_if_no_proc()?;
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(ProbeError::Gone { pid });
    }
    let children_file = format!("/proc/{pid}/task/{pid}/children");
    let mut out = Vec::new();
    if std::path::Path::new(&children_file).exists() {
        let mut queue = vec![pid];
        while let Some(p) = queue.pop() {
            for c in children_of(p)? {
                if !out.contains(&c) && c != pid {
                    out.push(c);
                    queue.push(c);
                }
            }
        }
    } else {
        let parents = parent_map()?;
        let mut queue = vec![pid];
        while let Some(p) = queue.pop() {
            for &(child, parent) in &parents {
                if parent == p && child != pid && !out.contains(&child) {
                    out.push(child);
                    queue.push(child);
                }
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Children of every thread of `pid` (a child belongs to the thread that forked it).
fn children_of(pid: u32) -> Result<Vec<u32>, ProbeError> {
    let tasks = match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(t) => t,
        Err(e) => {
            return match ProbeError::from_proc(e, pid) {
                ProbeError::Gone { .. } => Ok(Vec::new()), // exited meanwhile: no children
                other => Err(other),
            };
        }
    };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(t.path().join("children")) else {
            continue;
        };
        out.extend(
            text.split_whitespace()
                .filter_map(|s| s.parse::<u32>().ok()),
        );
    }
    Ok(out)
}

/// (pid, ppid) of every process.
fn parent_map() -> Result<Vec<(u32, u32)>, ProbeError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read(e.path().join("stat")) else {
            continue;
        };
        // ppid is field 4: the second after the command name.
        if let Some(ppid) = stat_fields(&stat)
            .and_then(|mut f| f.nth(1))
            .and_then(parse_u64)
        {
            out.push((pid, ppid as u32));
        }
    }
    Ok(out)
}

/// A process tree's totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TreeSample {
    /// Sum of resident bytes.
    pub rss_bytes: u64,
    /// Sum of open descriptors.
    pub fds: u64,
    /// Sum of threads.
    pub threads: u64,
    /// Number of processes (the root and its live descendants).
    pub processes: u64,
}

/// A process and all of its descendants, summed (servers that fork workers). Descendants are
/// re-discovered on every sample; one that exits mid-sample is simply left out.
#[derive(Debug)]
pub struct TreeProbe {
    root: u32,
    page: u64,
}

impl TreeProbe {
    /// Probes `pid` and its descendants.
    pub fn new(pid: u32) -> Result<Self, ProbeError> {
        let mut p = TreeProbe {
            root: pid,
            page: page_size(),
        };
        p.sample_tree()?;
        Ok(p)
    }

    /// The root process.
    pub fn root(&self) -> u32 {
        self.root
    }

    /// Totals of the tree now. `Gone` when the root has exited.
    pub fn sample_tree(&mut self) -> Result<TreeSample, ProbeError> {
        let mut total = TreeSample::default();
        self.add_process(self.root, &mut total)?;
        for pid in descendants(self.root)? {
            match self.add_process(pid, &mut total) {
                Ok(()) => {}
                Err(ProbeError::Gone { .. }) | Err(ProbeError::PermissionDenied { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    fn add_process(&self, pid: u32, total: &mut TreeSample) -> Result<(), ProbeError> {
        let stat = std::fs::read(format!("/proc/{pid}/stat"))
            .map_err(|e| ProbeError::from_proc(e, pid))?;
        let threads = read_threads(&stat, pid)?;
        // rss (pages) is field 24 of stat, 21 after the state.
        let rss_pages = stat_fields(&stat)
            .and_then(|mut f| f.nth(21))
            .and_then(parse_u64)
            .ok_or_else(|| bad_format("stat", pid))?;
        let dir =
            open_dir(&format!("/proc/{pid}/fd")).map_err(|e| ProbeError::from_proc(e, pid))?;
        let own = if pid == this_pid() {
            use std::os::fd::AsRawFd;
            Some(dir.as_raw_fd())
        } else {
            None
        };
        let fds = count_dir_entries(&dir, own).map_err(|e| ProbeError::from_proc(e, pid))?;
        total.rss_bytes += rss_pages * self.page;
        total.threads += threads;
        total.fds += fds;
        total.processes += 1;
        Ok(())
    }
}

impl Probe for TreeProbe {
    /// The tree's resident bytes.
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        Ok(Sample {
            value: self.sample_tree()?.rss_bytes as f64,
            unit: Unit::Bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_kinds_from_targets() {
        assert_eq!(FdKind::from_target("socket:[123]"), FdKind::Socket);
        assert_eq!(FdKind::from_target("pipe:[9]"), FdKind::Pipe);
        assert_eq!(
            FdKind::from_target("anon_inode:[eventfd]"),
            FdKind::AnonInode
        );
        assert_eq!(FdKind::from_target("/tmp/x (deleted)"), FdKind::File);
        assert_eq!(FdKind::from_target("net:[4026531840]"), FdKind::Other);
    }

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let stat = b"42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 7 0 100 1000 55 18446744073709551615";
        assert_eq!(read_threads(stat, 42).expect("threads"), 7);
        let zombie = b"43 (x) Z 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 0";
        assert!(matches!(
            read_threads(zombie, 43),
            Err(ProbeError::Gone { pid: 43 })
        ));
        assert!(read_threads(b"garbage", 1).is_err());
    }

    #[test]
    fn parse_u64_rejects_junk() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"99999999999999999999999"), None);
    }
}
