//! Open sites: while the reader asks for sites (the region's capture bit, or its `opens` bit
//! alone: a process that samples itself wants open sites without a stack per allocation), the
//! stack that opened
//! each descriptor, kept until it is closed, and written with every sites dump as
//! `DIR/PID.open`, with the threads still alive (`threads`).
//!
//! The table is indexed by descriptor number ([`FDS`] entries, an `mmap`'d private anonymous
//! mapping reserved on the first traced open and touched only where descriptors are): the kernel
//! gives a number to one open descriptor at a time, so an entry has one writer, the thread that
//! got the number, between its open and its close. No lock: an entry is published by storing
//! its window (below) last, and cleared by storing 0 *before* the real `close`, so that a number
//! reused by another thread's open is recorded after the clear.
//!
//! Each entry also keeps the descriptor's device and inode (one `fstat` per traced open), so that
//! a descriptor closed behind the agent's back (glibc's own `fclose` of a `FILE` not opened
//! through the interposed `fopen`, `closedir`, a raw `syscall`) and reused by an untraced open is
//! not named by the stale stack: the dump writes an entry only while its descriptor is open and
//! is the same file.
//!
//! A window is a run of capture: entries recorded in an earlier window are not written (their
//! descriptors were opened before the locate phase that asks now). The window number is bumped
//! when an interposed call, or a dump, sees capture switched off.
//!
//! Dump format: a first line `leakproof-open 1 DROPPED`, then one line per descriptor
//! `fd N IP IP ...` and per thread `thread TID IP IP ...`, return addresses in hexadecimal,
//! innermost first, starting at the caller of the interposed function.

use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering::*};

use crate::region::{self, Region};
use crate::sites::{self, MAX_FRAMES};
use crate::sys::{commit, create_tmp, Writer};

/// Descriptors traced at most: numbers from 0 to `FDS - 1`.
const FDS: usize = 1 << 16;

/// One traced descriptor (or thread: `threads` uses the same shape for its stacks).
#[repr(C)]
pub(crate) struct Stack {
    /// The window it was recorded in; 0 = empty.
    pub(crate) window: AtomicU64,
    pub(crate) len: AtomicU64,
    pub(crate) ips: [AtomicU64; MAX_FRAMES],
}

#[repr(C)]
struct FdEntry {
    stack: Stack,
    dev: AtomicU64,
    ino: AtomicU64,
}

static FD_TABLE: AtomicPtr<FdEntry> = AtomicPtr::new(core::ptr::null_mut());
/// One more than the highest descriptor ever recorded: where a dump stops reading.
static HIGH: AtomicU64 = AtomicU64::new(0);
/// The current window (never 0).
static WINDOW: AtomicU64 = AtomicU64::new(1);
/// True while a window is open (capture was seen on and not yet seen off).
static ON: AtomicBool = AtomicBool::new(false);
/// Descriptors and threads not traced (number too large, table full or not mapped).
pub(crate) static DROPPED: AtomicU64 = AtomicU64::new(0);

/// The region and window to record in, when the reader asks for sites now.
#[inline(always)]
pub(crate) fn tracing() -> Option<(&'static Region, u64)> {
    let r = region::current()?;
    if (r.header.ctl.load(Relaxed) | r.header.opens.load(Relaxed)) & 1 == 0 {
        if ON.load(Relaxed) {
            window_over();
        }
        return None;
    }
    if !ON.load(Relaxed) {
        ON.store(true, Relaxed);
    }
    Some((r, WINDOW.load(Relaxed)))
}

/// Capture was seen off: what was recorded belongs to a window that is over.
fn window_over() {
    if ON.swap(false, Relaxed) {
        WINDOW.fetch_add(1, Relaxed);
    }
}

impl Stack {
    /// Records this thread's stack under `window` (the caller owns the entry).
    pub(crate) fn fill(&self, ips: &[u64], window: u64) {
        self.window.store(0, Relaxed);
        for (slot, &ip) in self.ips.iter().zip(ips) {
            slot.store(ip, Relaxed);
        }
        self.len.store(ips.len() as u64, Relaxed);
        self.window.store(window, Release);
    }

    /// The stack, if recorded in `window` and not changed while it was read.
    pub(crate) fn read(&self, window: u64, out: &mut [u64; MAX_FRAMES]) -> Option<usize> {
        if self.window.load(Acquire) != window {
            return None;
        }
        let n = (self.len.load(Relaxed) as usize).min(MAX_FRAMES);
        for (o, ip) in out.iter_mut().zip(&self.ips).take(n) {
            *o = ip.load(Relaxed);
        }
        (self.window.load(Acquire) == window).then_some(n)
    }
}

/// Walks this thread's stack into `ips` under its slot's guard; `None` for a nested call (from
/// the agent itself or from the unwinder) or a thread on the shared overflow slot.
pub(crate) fn walk(r: &Region, ips: &mut [u64; MAX_FRAMES]) -> Option<usize> {
    let s = r.slot();
    if r.is_overflow(s) || s.busy.load(Relaxed) != 0 {
        return None;
    }
    s.busy.store(1, Relaxed);
    let n = sites::stack(ips);
    s.busy.store(0, Relaxed);
    Some(n)
}

/// Records the stack that opened `fd` (a call's result: negative is a failure), when tracing.
#[inline(always)]
pub(crate) fn opened(fd: c_int) {
    if fd >= 0 {
        if let Some((r, window)) = tracing() {
            record(r, window, fd as usize);
        }
    }
}

#[cold]
#[inline(never)]
fn record(r: &Region, window: u64, fd: usize) {
    let Some(e) = table().and_then(|t| t.get(fd)) else {
        DROPPED.fetch_add(1, Relaxed);
        return;
    };
    let mut ips = [0u64; MAX_FRAMES];
    let Some(n) = walk(r, &mut ips) else {
        return;
    };
    let (dev, ino) = identity(fd as c_int).unwrap_or((0, 0));
    e.stack.window.store(0, Relaxed);
    e.dev.store(dev, Relaxed);
    e.ino.store(ino, Relaxed);
    e.stack.fill(&ips[..n], window);
    HIGH.fetch_max(fd as u64 + 1, Relaxed);
}

/// Forgets `fd`'s record (before the real `close`, so that a reuse of the number comes after).
#[inline(always)]
pub(crate) fn closing(fd: c_int) {
    let t = FD_TABLE.load(Acquire);
    if t.is_null() || fd < 0 || fd as usize >= FDS {
        return;
    }
    // SAFETY: a live mapping of FDS entries (never unmapped), and `fd` is below FDS.
    let e = unsafe { &*t.add(fd as usize) };
    if e.stack.window.load(Relaxed) != 0 {
        e.stack.window.store(0, Release);
    }
}

/// Forgets every descriptor from `first` to `last` (`close_range`).
pub(crate) fn closing_range(first: u32, last: u32) {
    if FD_TABLE.load(Acquire).is_null() {
        return;
    }
    for fd in first..=last.min(FDS as u32 - 1) {
        closing(fd as c_int);
    }
}

/// The descriptor table, mapped on first use (a thread that loses the race unmaps its own).
fn table() -> Option<&'static [FdEntry]> {
    let mut t = FD_TABLE.load(Acquire);
    if t.is_null() {
        let fresh = map_zeroed(FDS * size_of::<FdEntry>())?.cast::<FdEntry>();
        t = match FD_TABLE.compare_exchange(core::ptr::null_mut(), fresh, AcqRel, Acquire) {
            Ok(_) => fresh,
            Err(theirs) => {
                // SAFETY: `fresh` is this call's own mapping, never published.
                unsafe { libc::munmap(fresh.cast(), FDS * size_of::<FdEntry>()) };
                theirs
            }
        };
    }
    // SAFETY: a live zero-filled mapping of FDS entries (all-zero is valid: atomics only), never
    // unmapped; entries are only accessed through atomics.
    Some(unsafe { core::slice::from_raw_parts(t, FDS) })
}

/// A private anonymous zero-filled mapping of `size` bytes, reserved lazily.
pub(crate) fn map_zeroed(size: usize) -> Option<*mut libc::c_void> {
    // SAFETY: a new private anonymous mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    (p != libc::MAP_FAILED).then_some(p)
}

/// The device and inode `fd` refers to (a raw `fstat`: nothing interposed, nothing allocated).
fn identity(fd: c_int) -> Option<(u64, u64)> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat writes only into `st`, which is alive and large enough.
    let rc = unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) };
    (rc == 0).then_some((st.st_dev, st.st_ino))
}

/// Writes `DIR/PID.open`: the descriptors and threads of the current window still open and
/// alive (called with every sites dump, under the sites lock and this thread's guard).
pub(crate) fn write(r: &Region) {
    if (r.header.ctl.load(Relaxed) | r.header.opens.load(Relaxed)) & 1 == 0 {
        window_over();
    }
    let pid = r.header.pid.load(Relaxed);
    let Some(fd) = create_tmp(pid, b".open") else {
        return;
    };
    let window = WINDOW.load(Relaxed);
    let mut w = Writer::new(fd);
    w.put(b"leakproof-open 1 ");
    w.dec(DROPPED.load(Relaxed));
    w.put(b"\n");
    let mut ips = [0u64; MAX_FRAMES];
    let table = FD_TABLE.load(Acquire);
    if !table.is_null() {
        // SAFETY: as in `table`: a live mapping of FDS entries, accessed through atomics.
        let entries = unsafe { core::slice::from_raw_parts(table, FDS) };
        let high = (HIGH.load(Relaxed) as usize).min(FDS);
        for (i, e) in entries[..high].iter().enumerate() {
            let Some(n) = e.stack.read(window, &mut ips) else {
                continue;
            };
            let same = (e.dev.load(Relaxed), e.ino.load(Relaxed));
            if i as c_int != fd && identity(i as c_int) == Some(same) {
                line(&mut w, b"fd ", i as u64, &ips[..n]);
            }
        }
    }
    crate::threads::write(&mut w, window);
    if w.finish() {
        commit(pid, b".open");
    }
}

/// One dump line: `KIND ID IP IP ...`.
pub(crate) fn line(w: &mut Writer, kind: &[u8], id: u64, ips: &[u64]) {
    w.put(kind);
    w.dec(id);
    for &ip in ips {
        w.put(b" ");
        w.hex(ip);
    }
    w.put(b"\n");
}
