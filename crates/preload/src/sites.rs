//! Allocation sites on request: a stack per allocation while the reader asks for it, a side table
//! of recorded live blocks (so frees remove their records), and a text dump of the live sites.
//!
//! Everything here takes its memory from `mmap` (anonymous, private, reserved lazily), never from
//! `malloc`. Stacks are walked with libgcc's `_Unwind_Backtrace` (DWARF CFI: correct for C built
//! without frame pointers; with glibc >= 2.35 it finds unwind tables through the lock-free
//! `_dl_find_object`) *before* the tables' lock is taken, so the lock is never held across the
//! loader's. The per-thread `busy` word of the counter slot keeps a nested call (from the unwinder or
//! a signal handler on the same thread) from recording or locking again: it only counts.
//!
//! Records live until their block is freed or capture is switched off: the first call after that
//! forgets them all, so collect sites before switching capture off.
//!
//! A forked child drops the parent's records (with whatever state a parent thread left them in)
//! and frees the lock (`pthread_atfork`'s child handler), then counts its own from zero. The lock
//! is not taken around `fork`: glibc's fork waits for every arena lock, and a thread holding one
//! may be in a signal handler that allocates and waits for this lock.
//!
//! Dump format (`DIR/PID.sites`, written atomically by rename): a first line
//! `leakproof-sites 1 DROPPED`, then one line per live site: `BYTES BLOCKS IP IP ...` with return
//! addresses in hexadecimal, innermost first, starting at the caller of the allocation function.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering::*};

use crate::opens::map_zeroed;
use crate::region::{Region, Slot};

/// Most return addresses recorded per allocation (and per open descriptor or thread).
pub(crate) const MAX_FRAMES: usize = 32;
/// Distinct stacks recorded at most (a power of two).
const STACKS: usize = 1 << 16;
/// Live recorded blocks at most (a power of two; filled to 3/4).
const BLOCKS: usize = 1 << 22;
/// Bit of [`STATE`] meaning "recorded blocks are alive": frees must look them up.
const TRACKING: u64 = 1 << 63;

/// The `ctl` word (see the region docs) the agent has fully served, plus [`TRACKING`]: a call is
/// on the fast path exactly when the region's `ctl` equals it. Capture on (`ctl` bit 0) never
/// equals it, since its bit 0 is always clear.
static STATE: AtomicU64 = AtomicU64::new(0);
static LOCK: AtomicBool = AtomicBool::new(false);
static TRACKED: AtomicU64 = AtomicU64::new(0);
static STACK_TABLE: AtomicPtr<StackEntry> = AtomicPtr::new(core::ptr::null_mut());
static BLOCK_TABLE: AtomicPtr<BlockEntry> = AtomicPtr::new(core::ptr::null_mut());
/// This shared object's address range, whose frames are not recorded.
static OWN: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

#[repr(C)]
struct StackEntry {
    /// Hash of the stack with bit 0 set; 0 = empty entry.
    key: u64,
    len: u64,
    bytes: u64,
    blocks: u64,
    ips: [u64; MAX_FRAMES],
}

#[repr(C)]
struct BlockEntry {
    /// Block address; 0 = empty entry.
    ptr: u64,
    /// Stack index << 48 | usable size.
    info: u64,
}

/// True when nothing needs the slow path: capture off, no dump pending, no recorded block alive.
#[inline(always)]
pub(crate) fn idle(r: &Region) -> bool {
    r.header.ctl.load(Relaxed) == STATE.load(Relaxed)
}

/// The slow path after an allocation: record its stack if capture is on, serve a dump request.
#[cold]
#[inline(never)]
pub(crate) fn after_alloc(r: &Region, s: &Slot, p: *mut c_void, size: u64) {
    if r.header.ctl.load(Relaxed) & 1 != 0 {
        record(r, s, p as u64, size);
    }
    serve(r, s);
}

/// The slow path before a free (or a realloc): removes the block's record, if any, and returns
/// it so that a failed realloc can [`restore`] it.
#[cold]
#[inline(never)]
pub(crate) fn before_free(r: &Region, s: &Slot, p: *mut c_void) -> Option<u64> {
    serve(r, s);
    if TRACKED.load(Relaxed) == 0 || !enter(r, s) {
        return None;
    }
    let out = tables().and_then(|mut t| {
        let info = t.take(p as u64)?;
        t.sub(info);
        Some(info)
    });
    leave(r, s);
    out
}

/// Puts back a record taken by [`before_free`] (the realloc failed; the block is still alive).
#[cold]
pub(crate) fn restore(r: &Region, s: &Slot, p: *mut c_void, info: u64) {
    if !enter(r, s) {
        return;
    }
    if let Some(mut t) = tables() {
        if t.insert(p as u64, info) {
            t.add(info);
        }
    }
    leave(r, s);
}

/// Takes the lock as this thread's outermost capture call; false for a nested call or a thread
/// on the shared overflow slot (which only counts).
fn enter(r: &Region, s: &Slot) -> bool {
    if r.is_overflow(s) || s.busy.load(Relaxed) != 0 {
        return false;
    }
    s.busy.store(1, Relaxed);
    lock();
    true
}

/// Recomputes [`STATE`], releases the lock and this thread's guard.
fn leave(r: &Region, s: &Slot) {
    let ctl = r.header.ctl.load(Relaxed);
    let served = if ctl >> 1 == r.header.dumped.load(Relaxed) {
        ctl & !1
    } else {
        u64::MAX
    };
    let tracking = if TRACKED.load(Relaxed) > 0 {
        TRACKING
    } else {
        0
    };
    STATE.store(served | tracking, Relaxed);
    unlock();
    s.busy.store(0, Relaxed);
}

/// Writes the live sites if the reader asked for them since the last dump; forgets every record
/// once capture is off (so that frees take the fast path again).
fn serve(r: &Region, s: &Slot) {
    let ctl = r.header.ctl.load(Relaxed);
    let forget = ctl & 1 == 0 && TRACKED.load(Relaxed) > 0;
    if ctl >> 1 == r.header.dumped.load(Relaxed) && !stale_state(r) && !forget {
        return;
    }
    if !enter(r, s) {
        return;
    }
    let request = r.header.ctl.load(Relaxed) >> 1;
    if request != r.header.dumped.load(Relaxed) {
        crate::dump::write(
            r,
            tables().map(|t| t.sites()),
            r.header.dropped.load(Relaxed),
        );
        crate::opens::write(r);
        r.header.dumped.store(request, Release);
    }
    if r.header.ctl.load(Relaxed) & 1 == 0 {
        drop_tables();
    }
    leave(r, s);
}

/// True when STATE is out of date for a reason other than a dump (capture switched off, or the
/// last recorded block freed): the next `leave` brings the fast path back.
fn stale_state(r: &Region) -> bool {
    let ctl = r.header.ctl.load(Relaxed);
    ctl & 1 == 0 && STATE.load(Relaxed) & !TRACKING != ctl
}

/// Records the stack of block `p` of `size` usable bytes.
fn record(r: &Region, s: &Slot, p: u64, size: u64) {
    if r.is_overflow(s) || s.busy.load(Relaxed) != 0 {
        return;
    }
    s.busy.store(1, Relaxed);
    let mut walk = Walk {
        ips: [0; MAX_FRAMES],
        n: 0,
        skipping: true,
    };
    // SAFETY: `step` matches the callback type and receives `&mut walk`, alive for the call.
    unsafe { _Unwind_Backtrace(step, (&mut walk as *mut Walk).cast()) };
    lock();
    let recorded = ensure_tables().is_some_and(|mut t| {
        let Some(idx) = t.intern(&walk.ips[..walk.n]) else {
            return false;
        };
        if let Some(old) = t.take(p) {
            t.sub(old); // a stale record (its free was not seen): the address was reused
        }
        let info = (idx as u64) << 48 | size.min((1 << 48) - 1);
        t.insert(p, info) && {
            t.add(info);
            true
        }
    });
    if !recorded {
        r.header.dropped.fetch_add(1, Relaxed);
    }
    leave(r, s);
}

/// Walks this thread's stack into `ips` (innermost first, from the caller of the agent's entry
/// point); returns how many were written. The caller holds its slot's `busy` guard, so that an
/// allocation by the unwinder only counts.
pub(crate) fn stack(ips: &mut [u64; MAX_FRAMES]) -> usize {
    let mut walk = Walk {
        ips: [0; MAX_FRAMES],
        n: 0,
        skipping: true,
    };
    // SAFETY: `step` matches the callback type and receives `&mut walk`, alive for the call.
    unsafe { _Unwind_Backtrace(step, (&mut walk as *mut Walk).cast()) };
    *ips = walk.ips;
    walk.n
}

struct Walk {
    ips: [u64; MAX_FRAMES],
    n: usize,
    skipping: bool,
}

#[repr(C)]
struct UnwindContext {
    _opaque: [u8; 0],
}

type Trace = extern "C" fn(*mut UnwindContext, *mut c_void) -> c_int;

#[link(name = "gcc_s")]
extern "C" {
    fn _Unwind_Backtrace(trace: Trace, arg: *mut c_void) -> c_int;
    fn _Unwind_GetIP(ctx: *mut UnwindContext) -> usize;
}

/// `_URC_NO_REASON`: go on walking.
const CONTINUE: c_int = 0;
/// `_URC_NORMAL_STOP`: enough frames.
const STOP: c_int = 4;

extern "C" fn step(ctx: *mut UnwindContext, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `&mut Walk` that `record` passed to _Unwind_Backtrace.
    let walk = unsafe { &mut *arg.cast::<Walk>() };
    // SAFETY: `ctx` is the live context the unwinder passed to this callback.
    let ip = unsafe { _Unwind_GetIP(ctx) } as u64;
    if ip == 0 {
        return STOP;
    }
    let own = (OWN[0].load(Relaxed)..OWN[1].load(Relaxed)).contains(&ip);
    if walk.skipping && own {
        return CONTINUE;
    }
    walk.skipping = false;
    match walk.ips.get_mut(walk.n) {
        Some(slot) => {
            *slot = ip;
            walk.n += 1;
            CONTINUE
        }
        None => STOP,
    }
}

/// Finds this shared object's address range (called from the constructor, outside any lock of
/// ours: `dl_iterate_phdr` takes the loader's lock).
pub(crate) fn find_own_range() {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: the loader passes a valid `info`; `data` is the `[u64; 3]` below.
        let (info, out) = unsafe { (&*info, &mut *data.cast::<[u64; 3]>()) };
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        for i in 0..info.dlpi_phnum as usize {
            // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type == libc::PT_LOAD {
                let start = info.dlpi_addr.wrapping_add(ph.p_vaddr);
                lo = lo.min(start);
                hi = hi.max(start.wrapping_add(ph.p_memsz));
            }
        }
        if (lo..hi).contains(&out[0]) {
            out[1] = lo;
            out[2] = hi;
            return 1;
        }
        0
    }
    let mut data = [step as *const () as u64, 0, 0];
    // SAFETY: `each` matches the callback type and only writes into `data`, alive for the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&mut data as *mut [u64; 3]).cast()) };
    OWN[0].store(data[1], Relaxed);
    OWN[1].store(data[2], Relaxed);
}

fn lock() {
    let mut spins = 0u32;
    while LOCK
        .compare_exchange_weak(false, true, Acquire, Relaxed)
        .is_err()
    {
        spins += 1;
        if spins < 100 {
            core::hint::spin_loop();
        } else {
            // SAFETY: sched_yield has no preconditions.
            unsafe { libc::sched_yield() };
        }
    }
}

fn unlock() {
    LOCK.store(false, Release);
}

/// `pthread_atfork` child (single-threaded): drop the parent's records, count sites afresh, and
/// free the lock, which a parent thread may have held at the fork (the tables it was changing are
/// the ones dropped).
pub(crate) fn reset_in_child() {
    drop_tables();
    STATE.store(0, Relaxed);
    unlock();
}

/// Unmaps both tables, forgetting every record (with the lock held, or in a forked child).
fn drop_tables() {
    for (table, size) in [
        (
            STACK_TABLE
                .swap(core::ptr::null_mut(), Relaxed)
                .cast::<c_void>(),
            STACKS * size_of::<StackEntry>(),
        ),
        (
            BLOCK_TABLE.swap(core::ptr::null_mut(), Relaxed).cast(),
            BLOCKS * size_of::<BlockEntry>(),
        ),
    ] {
        if !table.is_null() {
            // SAFETY: a private anonymous mapping of `size` bytes made by `ensure_tables`; the
            // pointer was just cleared under the lock (or in a forked child, whose one thread
            // called `fork` outside any critical section), and `Tables` references never outlive
            // a critical section, so nothing uses it.
            unsafe { libc::munmap(table, size) };
        }
    }
    TRACKED.store(0, Relaxed);
}

/// The two tables, while the lock is held.
struct Tables {
    stacks: &'static mut [StackEntry],
    blocks: &'static mut [BlockEntry],
}

fn tables() -> Option<Tables> {
    let s = STACK_TABLE.load(Relaxed);
    let b = BLOCK_TABLE.load(Relaxed);
    if s.is_null() || b.is_null() {
        return None;
    }
    // SAFETY: both are live mappings of STACKS / BLOCKS entries made by `ensure_tables`; callers
    // hold LOCK, so no other reference to them exists meanwhile.
    Some(unsafe {
        Tables {
            stacks: core::slice::from_raw_parts_mut(s, STACKS),
            blocks: core::slice::from_raw_parts_mut(b, BLOCKS),
        }
    })
}

fn ensure_tables() -> Option<Tables> {
    if STACK_TABLE.load(Relaxed).is_null() {
        STACK_TABLE.store(
            map_zeroed(STACKS * size_of::<StackEntry>())?.cast(),
            Relaxed,
        );
    }
    if BLOCK_TABLE.load(Relaxed).is_null() {
        BLOCK_TABLE.store(
            map_zeroed(BLOCKS * size_of::<BlockEntry>())?.cast(),
            Relaxed,
        );
    }
    tables()
}

fn mix(v: u64) -> u64 {
    (v ^ (v >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Tables {
    /// The index of `ips`' entry, added if new; `None` when the table is full.
    fn intern(&mut self, ips: &[u64]) -> Option<usize> {
        let key = ips.iter().fold(ips.len() as u64, |h, &ip| mix(h ^ ip)) | 1;
        let mask = STACKS - 1;
        let mut i = (key >> 16) as usize & mask;
        for _ in 0..STACKS / 2 {
            let e = &mut self.stacks[i];
            if e.key == 0 {
                e.key = key;
                e.len = ips.len() as u64;
                e.ips[..ips.len()].copy_from_slice(ips);
                return Some(i);
            }
            if e.key == key && e.ips.get(..e.len as usize) == Some(ips) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
        None
    }

    fn add(&mut self, info: u64) {
        if let Some(e) = self.stacks.get_mut((info >> 48) as usize) {
            e.bytes = e.bytes.wrapping_add(info & ((1 << 48) - 1));
            e.blocks = e.blocks.wrapping_add(1);
            TRACKED.fetch_add(1, Relaxed);
        }
    }

    fn sub(&mut self, info: u64) {
        if let Some(e) = self.stacks.get_mut((info >> 48) as usize) {
            e.bytes = e.bytes.wrapping_sub(info & ((1 << 48) - 1));
            e.blocks = e.blocks.wrapping_sub(1);
            TRACKED.fetch_sub(1, Relaxed);
        }
    }

    fn home(ptr: u64) -> usize {
        (mix(ptr) >> 20) as usize & (BLOCKS - 1)
    }

    /// Adds a record for `ptr` (absent); false when the table is too full.
    fn insert(&mut self, ptr: u64, info: u64) -> bool {
        if TRACKED.load(Relaxed) as usize >= BLOCKS / 4 * 3 {
            return false;
        }
        let mut i = Self::home(ptr);
        loop {
            let e = &mut self.blocks[i];
            if e.ptr == 0 {
                e.ptr = ptr;
                e.info = info;
                return true;
            }
            i = (i + 1) & (BLOCKS - 1);
        }
    }

    /// Removes and returns `ptr`'s record (linear probing with backward-shift deletion).
    fn take(&mut self, ptr: u64) -> Option<u64> {
        let mask = BLOCKS - 1;
        let mut i = Self::home(ptr);
        loop {
            let e = &self.blocks[i];
            if e.ptr == ptr {
                break;
            }
            if e.ptr == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
        let info = self.blocks[i].info;
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let p = self.blocks[j].ptr;
            if p == 0 {
                break;
            }
            let k = Self::home(p);
            // Entry j may move into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < k && k <= j
            } else {
                hole < k || k <= j
            };
            if !stays {
                self.blocks[hole] = BlockEntry {
                    ptr: p,
                    info: self.blocks[j].info,
                };
                hole = j;
            }
        }
        self.blocks[hole] = BlockEntry { ptr: 0, info: 0 };
        Some(info)
    }

    /// The live sites: (bytes, blocks, stack).
    fn sites(self) -> impl Iterator<Item = (u64, u64, &'static [u64])> {
        let stacks: &'static [StackEntry] = self.stacks;
        stacks
            .iter()
            .filter(|e| e.key != 0 && e.blocks != 0)
            .map(|e| {
                (
                    e.bytes,
                    e.blocks,
                    e.ips.get(..e.len as usize).unwrap_or(&[]),
                )
            })
    }
}
