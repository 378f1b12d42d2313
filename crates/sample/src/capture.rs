//! Allocation-site capture: which call stacks hold the live heap.
//!
//! Off by default. While a [`CaptureGuard`] from [`start`] is alive, every allocation served by
//! [`TrackingAlloc`](crate::TrackingAlloc) records its call stack (up to [`MAX_FRAMES`] return
//! addresses, innermost first), and every free of a recorded block removes it, on whatever thread it
//! happens. [`snapshot`] groups the live recorded blocks by stack.
//!
//! Costs and structure:
//! - Off: nothing of its own on the allocator's fast path: one byte on the thread's counter slot
//!   (its `divert` word, read with the counters) sends calls here while capture is on or recorded
//!   blocks are alive.
//! - On: the stack is unwound without any global lock; stacks are interned in a hash table keyed
//!   by their addresses (16 shards, each with its own lock), and each thread remembers its last few
//!   interned stacks, so a repeated stack takes no lock at all; each stack's live bytes and blocks
//!   are kept in 8 counter lanes (a thread's lane follows from its counter slot) that a snapshot
//!   sums, so threads allocating from the same stack do not write the same cache line (memory:
//!   128 KiB per 1,024 stacks of a stack-table shard, from the system allocator, and 2.2 KiB of
//!   thread-local storage per thread for the remembered stacks); each live block's stack id sits in
//!   a side table keyed by the block's address (64 shards), so a free is O(1).
//! - The tables take their memory from the system allocator directly, never from the global
//!   allocator, so they cannot re-enter `TrackingAlloc`; a thread-local guard keeps anything the
//!   unwinder might allocate from being captured recursively.
//! - When capture stops, recorded blocks stay recorded until they are freed or [`clear`] is called,
//!   so a snapshot taken after [`CaptureGuard`] is dropped still shows what the captured period left.
//! - `fork` while another thread holds a table lock cannot deadlock the child: the locks are taken
//!   around `fork` (`pthread_atfork`) once capture has been started.
//!
//! Addresses are raw return addresses (symbolize `ip - 1` for the call's line), innermost first,
//! beginning at the allocator entry point (`__rust_alloc` or the like) that called `TrackingAlloc`.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use std::alloc::System;

use serde::{Deserialize, Serialize};

use crate::sys::{RawLock, SysVec};

/// Most return addresses recorded per allocation.
pub const MAX_FRAMES: usize = 32;
/// Shards of the stack table.
const STACK_SHARDS: usize = 16;
/// Shards of the block table.
const BLOCK_SHARDS: usize = 64;
/// Counter lanes per stack: threads whose counter slots differ modulo `LANES` update different
/// cache lines for the same stack.
const LANES: usize = 8;
/// Stacks per counter chunk (a chunk holds every lane of `CHUNK_SITES` stacks).
const CHUNK_SITES: usize = 1024;
/// Distinct stacks recorded per stack-table shard at most.
const MAX_SITES_PER_SHARD: usize = 1 << 20;
/// Stacks each thread remembers (direct-mapped by hash).
const INTERN_CACHE: usize = 8;

static CAPTURING: AtomicBool = AtomicBool::new(false);
static GUARDS: AtomicUsize = AtomicUsize::new(0);
/// Recorded blocks not yet freed, per lane (wrapping; the sum is the count). Laned like the site
/// counters so that threads recording and freeing blocks do not write one shared line.
static TRACKED: [TrackedLane; LANES] = [const { TrackedLane(AtomicU64::new(0)) }; LANES];
/// Frees look at the tables only while this is set: set by every recording that finds it clear,
/// cleared by a free (with capture off) that finds the lanes summing to zero (see `on_free`).
static ANY_TRACKED: AtomicBool = AtomicBool::new(false);

#[repr(align(128))]
struct TrackedLane(AtomicU64);

fn tracked_sum() -> u64 {
    TRACKED
        .iter()
        .fold(0u64, |n, l| n.wrapping_add(l.0.load(SeqCst)))
}
/// Frames to drop from the top of each platform-unwinder stack where `on_alloc`'s address range is
/// unknown (off x86_64 Linux); calibrated by the first trace (`usize::MAX` = not yet).
static SKIP: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Bumped by [`clear`], which invalidates every thread's remembered stack ids. Starts at 1 so that
/// an empty cache entry (generation 0) never matches.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Set while this thread is inside the capture machinery (no destructor).
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// This thread's last interned stacks (no destructor; used only while `BUSY` is set).
    static CACHE: UnsafeCell<[CacheEntry; INTERN_CACHE]> =
        const { UnsafeCell::new([EMPTY_CACHE_ENTRY; INTERN_CACHE]) };
}

/// Starts capturing allocation sites; capture continues until every guard is dropped.
#[must_use = "capture stops when the guard is dropped"]
pub fn start() -> CaptureGuard {
    install_fork_handlers();
    GUARDS.fetch_add(1, SeqCst);
    CAPTURING.store(true, SeqCst);
    crate::alloc::divert_all();
    CaptureGuard { _private: () }
}

/// Keeps allocation-site capture switched on; dropping it switches capture off (when it is the last
/// guard). Blocks recorded so far stay recorded until freed or [`clear`]ed.
#[derive(Debug)]
pub struct CaptureGuard {
    _private: (),
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        if GUARDS.fetch_sub(1, SeqCst) == 1 {
            CAPTURING.store(false, SeqCst);
        }
    }
}

/// True while at least one [`CaptureGuard`] is alive.
pub fn is_capturing() -> bool {
    CAPTURING.load(Relaxed)
}

/// Number of recorded blocks still alive.
pub fn tracked_blocks() -> usize {
    // A free seen before the recording it undoes (another lane) can make the sum briefly negative.
    (tracked_sum() as i64).max(0) as usize
}

/// Live recorded blocks, grouped by call stack.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RawSnapshot {
    /// One entry per distinct stack that still holds live recorded blocks.
    pub sites: Vec<RawSite>,
    /// Sum of `bytes` over `sites`.
    pub total_bytes: u64,
    /// Sum of `blocks` over `sites`.
    pub total_blocks: u64,
}

/// The live recorded blocks of one call stack.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RawSite {
    /// Return addresses, innermost first.
    pub ips: Vec<u64>,
    /// Live bytes allocated from this stack.
    pub bytes: u64,
    /// Live blocks allocated from this stack.
    pub blocks: u64,
}

/// Groups the live recorded blocks by stack. Safe to call while other threads allocate; the
/// snapshot's own allocations are not recorded.
pub fn snapshot() -> RawSnapshot {
    let mut copied: SysVec<StackEntry> = SysVec::new();
    let mut complete = true;
    for (si, shard) in STACKS.iter().enumerate() {
        shard.lock.lock();
        // SAFETY: the shard's lock is held.
        let table = unsafe { &*shard.table.get() };
        for (i, e) in table.entries.as_slice().iter().enumerate() {
            let (bytes, blocks) = site_totals(si, i);
            if blocks > 0 {
                let mut e = *e;
                e.bytes = bytes;
                e.blocks = blocks;
                complete &= copied.push(e);
            }
        }
        shard.lock.unlock();
    }
    let _ = complete; // on allocation failure the snapshot is partial, never wrong per site
    let was_busy = BUSY.with(|b| b.replace(true));
    let mut sites = Vec::with_capacity(copied.len());
    let (mut total_bytes, mut total_blocks) = (0u64, 0u64);
    for e in copied.as_slice() {
        total_bytes += e.bytes;
        total_blocks += e.blocks;
        sites.push(RawSite {
            ips: e.ips[..e.len as usize].to_vec(),
            bytes: e.bytes,
            blocks: e.blocks,
        });
    }
    sites.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.ips.cmp(&b.ips)));
    BUSY.with(|b| b.set(was_busy));
    RawSnapshot {
        sites,
        total_bytes,
        total_blocks,
    }
}

/// Forgets every recorded block and stack. Call it when no other thread is capturing, or a block
/// recorded concurrently may be lost from later snapshots.
pub fn clear() {
    GENERATION.fetch_add(1, SeqCst);
    for shard in &BLOCKS {
        shard.lock.lock();
        // SAFETY: the shard's lock is held.
        let t = unsafe { &mut *shard.table.get() };
        t.slots.clear_free();
        t.used = 0;
        shard.lock.unlock();
    }
    for (si, shard) in STACKS.iter().enumerate() {
        shard.lock.lock();
        // SAFETY: the shard's lock is held.
        let t = unsafe { &mut *shard.table.get() };
        for i in 0..t.entries.len() {
            zero_site(si, i);
        }
        t.entries.clear_free();
        t.index.clear_free();
        shard.lock.unlock();
    }
    for l in &TRACKED {
        l.0.store(0, SeqCst);
    }
    ANY_TRACKED.store(false, SeqCst);
}

// ---------------------------------------------------------------------------------------------
// Hot-path hooks called by TrackingAlloc.

#[inline(always)]
pub(crate) fn capturing_fast() -> bool {
    CAPTURING.load(Relaxed)
}

#[inline(always)]
pub(crate) fn tracked_fast() -> bool {
    ANY_TRACKED.load(Relaxed)
}

/// A recorded block's stack id and size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlockSite {
    site: u32,
    size: u64,
}

/// Records a new block. Never allocates through the global allocator.
#[cold]
#[inline(never)]
pub(crate) fn on_alloc(ptr: *mut u8, size: usize) {
    if BUSY.with(|b| b.replace(true)) {
        return; // re-entered from the unwinder: count it, do not capture it
    }
    let mut ips = [0u64; MAX_FRAMES];
    let n = unwind(&mut ips);
    if let Some(site) = intern(&ips[..n], size as u64) {
        insert_block(
            ptr as usize,
            BlockSite {
                site,
                size: size as u64,
            },
        );
    }
    BUSY.with(|b| b.set(false));
}

/// Forgets a block about to be freed (or moved by realloc); returns its record if it had one.
#[cold]
#[inline(never)]
pub(crate) fn on_free(ptr: *mut u8) -> Option<BlockSite> {
    let addr = ptr as usize;
    let shard = &BLOCKS[block_shard(addr)];
    shard.lock.lock();
    // SAFETY: the shard's lock is held.
    let removed = unsafe { &mut *shard.table.get() }.remove(addr);
    shard.lock.unlock();
    let b = removed?;
    TRACKED[crate::alloc::thread_slot_hint() % LANES]
        .0
        .fetch_sub(1, SeqCst);
    if !CAPTURING.load(Relaxed) && tracked_sum() == 0 {
        // Nothing recorded is alive: let frees skip the tables again. A recording racing with this
        // adds to its lane before it checks the flag (both SeqCst), so either the second sum below
        // sees it or the recording sees the flag clear and sets it again.
        ANY_TRACKED.store(false, SeqCst);
        if tracked_sum() != 0 {
            ANY_TRACKED.store(true, SeqCst);
            crate::alloc::divert_all();
        }
    }
    adjust_site(b.site, -(b.size as i64), -1);
    Some(b)
}

/// Re-records a block whose realloc failed (it is still alive at the same address).
#[cold]
pub(crate) fn restore(ptr: *mut u8, b: BlockSite) {
    adjust_site(b.site, b.size as i64, 1);
    insert_block(ptr as usize, b);
}

fn insert_block(addr: usize, b: BlockSite) {
    let shard = &BLOCKS[block_shard(addr)];
    shard.lock.lock();
    // SAFETY: the shard's lock is held.
    let outcome = unsafe { &mut *shard.table.get() }.insert(addr, b);
    shard.lock.unlock();
    match outcome {
        Insert::New => {
            TRACKED[crate::alloc::thread_slot_hint() % LANES]
                .0
                .fetch_add(1, SeqCst);
            // While capture is on every counter slot is diverted already (see `start`); a
            // recording that finishes after capture stopped diverts them again itself, so that
            // no thread can free its block without looking it up.
            if !ANY_TRACKED.load(SeqCst) || !CAPTURING.load(SeqCst) {
                ANY_TRACKED.store(true, SeqCst);
                crate::alloc::divert_all();
            }
        }
        Insert::Replaced(old) => {
            // A stale record (its free was not seen, e.g. across `clear`): drop its contribution.
            adjust_site(old.site, -(old.size as i64), -1);
        }
        Insert::Failed => adjust_site(b.site, -(b.size as i64), -1),
    }
}

// ---------------------------------------------------------------------------------------------
// Unwinding.

#[inline(never)]
fn unwind(out: &mut [u64; MAX_FRAMES]) -> usize {
    let mut buf = [0u64; MAX_FRAMES + 12];
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    let n = if PLATFORM_UNWINDER.load(Relaxed) {
        platform_unwind(&mut buf)
    } else {
        match crate::unwind::unwind(&mut buf) {
            Some(n) => n,
            None => platform_unwind(&mut buf), // not on this thread's own stack
        }
    };
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    let n = platform_unwind(&mut buf);
    let skip = frames_to_skip(&buf[..n]);
    let n = (n - skip).min(MAX_FRAMES);
    out[..n].copy_from_slice(&buf[skip..skip + n]);
    n
}

/// Leading frames that belong to the unwinder and to this module: everything up to and including
/// the return address into [`on_alloc`], found by address (inlining decisions do not matter).
fn frames_to_skip(ips: &[u64]) -> usize {
    let Some((start, end)) = on_alloc_range() else {
        return SKIP.load(Relaxed).min(ips.len()); // calibrated by `platform_unwind`, or 0
    };
    ips.iter()
        .take(16)
        .position(|&ip| start < ip && ip <= end)
        .map_or(0, |i| i + 1)
}

static ON_ALLOC_START: AtomicU64 = AtomicU64::new(0);
static ON_ALLOC_END: AtomicU64 = AtomicU64::new(0);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn on_alloc_range() -> Option<(u64, u64)> {
    let end = ON_ALLOC_END.load(Acquire);
    if end == u64::MAX {
        return None; // looked up before and not found
    }
    if end != 0 {
        return Some((ON_ALLOC_START.load(Relaxed), end));
    }
    match crate::unwind::function_range(on_alloc as *const () as u64) {
        Some((s, e)) => {
            ON_ALLOC_START.store(s, Relaxed);
            ON_ALLOC_END.store(e, Release);
            Some((s, e))
        }
        None => {
            ON_ALLOC_END.store(u64::MAX, Release);
            None
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn on_alloc_range() -> Option<(u64, u64)> {
    let _ = (&ON_ALLOC_START, &ON_ALLOC_END);
    None
}

fn platform_unwind(out: &mut [u64]) -> usize {
    let calibrating = SKIP.load(Relaxed) == usize::MAX;
    let target = on_alloc as *const () as usize;
    let mut n = 0usize;
    // SAFETY: trace_unsynchronized is unsafe only because it skips the crate's global lock, which
    // matters on platforms whose unwinder is not thread-safe (dbghelp on Windows). On the Unix
    // unwinders (libgcc/libunwind `_Unwind_Backtrace`) concurrent traces are safe. The callback does
    // not panic and does not allocate.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            if calibrating && n < 16 && frame.symbol_address() as usize == target {
                // Same call path as every later trace, so the same depth.
                SKIP.store(n + 1, Relaxed);
            }
            out[n] = frame.ip() as u64;
            n += 1;
            n < out.len()
        });
    }
    if calibrating && SKIP.load(Relaxed) == usize::MAX {
        SKIP.store(0, Relaxed);
    }
    n
}

static PLATFORM_UNWINDER: AtomicBool = AtomicBool::new(false);

/// Chooses the unwinder: `false` (the default on x86_64 Linux) uses the built-in cached CFI
/// unwinder; `true` uses the platform's `_Unwind_Backtrace` (slower, for comparison or should the
/// cached one ever misbehave). Other platforms always use the platform unwinder.
pub fn use_platform_unwinder(yes: bool) {
    PLATFORM_UNWINDER.store(yes, SeqCst);
}

// ---------------------------------------------------------------------------------------------
// Stack table.

#[derive(Clone, Copy)]
struct StackEntry {
    hash: u64,
    len: u32,
    ips: [u64; MAX_FRAMES],
    bytes: u64,
    blocks: u64,
}

struct StackTable {
    entries: SysVec<StackEntry>,
    /// Open addressing: 0 = empty, else entry index + 1. Capacity is a power of two.
    index: SysVec<u32>,
}

/// A table behind its own lock, alone on its cache lines (128 bytes: adjacent-line prefetch pairs
/// lines), so threads working in different shards do not write a shared line.
#[repr(align(128))]
struct Shard<T> {
    lock: RawLock,
    table: UnsafeCell<T>,
}

// SAFETY: `table` is only accessed while `lock` is held (see every use), and its contents are
// Send (SysVec of Copy data).
unsafe impl<T: Send> Sync for Shard<T> {}

static STACKS: [Shard<StackTable>; STACK_SHARDS] = [const {
    Shard {
        lock: RawLock::new(),
        table: UnsafeCell::new(StackTable {
            entries: SysVec::new(),
            index: SysVec::new(),
        }),
    }
}; STACK_SHARDS];

fn hash_ips(ips: &[u64]) -> u64 {
    // FxHash-style mixing: fast, and good enough for return addresses.
    let mut h: u64 = ips.len() as u64;
    for &ip in ips {
        h = (h.rotate_left(5) ^ ip).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    h ^ (h >> 29)
}

/// Interns `ips`, adds one block of `size` bytes to it, and returns its id. Called only with this
/// thread's `BUSY` flag set (from `on_alloc`).
fn intern(ips: &[u64], size: u64) -> Option<u32> {
    let h = hash_ips(ips);
    let generation = GENERATION.load(Acquire);
    let site = match cached_site(h, ips, generation) {
        Some(site) => site,
        None => {
            let s = (h >> 60) as usize % STACK_SHARDS;
            let shard = &STACKS[s];
            shard.lock.lock();
            // SAFETY: the shard's lock is held.
            let t = unsafe { &mut *shard.table.get() };
            let before = t.entries.len();
            let mut id = t.find_or_insert(h, ips);
            if let Some(i) = id {
                if !ensure_chunk(s, i as usize) {
                    id = None; // no memory for its counters: do not record it
                } else if i as usize >= before {
                    // A new stack: wipe what a thread holding a pre-`clear` id may have added.
                    zero_site(s, i as usize);
                }
            }
            shard.lock.unlock();
            let site = ((s as u32) << 24) | id?;
            remember_site(h, ips, generation, site);
            site
        }
    };
    adjust_site(site, size as i64, 1);
    Some(site)
}

/// Adds to a stack's live bytes and blocks in this thread's lane (no lock).
fn adjust_site(site: u32, bytes: i64, blocks: i64) {
    let lane = crate::alloc::thread_slot_hint() % LANES;
    if let Some(c) = site_counter(
        (site >> 24) as usize % STACK_SHARDS,
        (site & 0x00ff_ffff) as usize,
        lane,
    ) {
        c.bytes.fetch_add(bytes as u64, Relaxed);
        c.blocks.fetch_add(blocks as u64, Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Per-stack counters in lanes.

/// One stack's live bytes and blocks in one lane (wrapping sums across lanes).
struct SiteCounter {
    bytes: AtomicU64,
    blocks: AtomicU64,
}

/// Counters of `CHUNK_SITES` consecutive stacks, lane-major: the lanes of one stack are 16 KiB
/// apart, so two threads in different lanes never write the same cache line.
struct Chunk {
    lanes: [[SiteCounter; CHUNK_SITES]; LANES],
}

/// Per shard, pointers to its counter chunks (null until needed). A chunk is allocated (zeroed)
/// from the system allocator under the shard's lock and never freed, so a published pointer
/// stays valid for the life of the process and can be followed without a lock.
static CHUNKS: [[AtomicPtr<Chunk>; MAX_SITES_PER_SHARD / CHUNK_SITES]; STACK_SHARDS] = [const {
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_SITES_PER_SHARD / CHUNK_SITES]
};
    STACK_SHARDS];

fn chunk(shard: usize, i: usize) -> Option<&'static Chunk> {
    let p = CHUNKS[shard].get(i / CHUNK_SITES)?.load(Acquire);
    // SAFETY: a non-null pointer was stored (Release) after the chunk was fully zero-initialized,
    // and chunks are never freed, so it points to a valid `Chunk` for 'static. All its fields are
    // atomics, so shared references are sound under concurrent updates.
    unsafe { p.as_ref() }
}

fn site_counter(shard: usize, i: usize, lane: usize) -> Option<&'static SiteCounter> {
    chunk(shard, i).map(|c| &c.lanes[lane][i % CHUNK_SITES])
}

/// Makes sure stack `i` of `shard` has counters. Called with the shard's lock held.
fn ensure_chunk(shard: usize, i: usize) -> bool {
    let Some(slot) = CHUNKS[shard].get(i / CHUNK_SITES) else {
        return false;
    };
    if !slot.load(Acquire).is_null() {
        return true;
    }
    let layout = Layout::new::<Chunk>();
    // SAFETY: `layout` has non-zero size. All-zero bytes are a valid `Chunk` (atomic integers).
    // System is called directly, never the global allocator, so this cannot re-enter capture.
    let p = unsafe { System.alloc_zeroed(layout) }.cast::<Chunk>();
    if p.is_null() {
        return false;
    }
    slot.store(p, Release);
    true
}

/// Sums stack `i`'s lanes: (live bytes, live blocks).
fn site_totals(shard: usize, i: usize) -> (u64, u64) {
    let Some(c) = chunk(shard, i) else {
        return (0, 0);
    };
    let (mut bytes, mut blocks) = (0u64, 0u64);
    for lane in &c.lanes {
        let e = &lane[i % CHUNK_SITES];
        bytes = bytes.wrapping_add(e.bytes.load(Relaxed));
        blocks = blocks.wrapping_add(e.blocks.load(Relaxed));
    }
    // A free seen before its allocation's increment (another lane) can make a sum briefly negative.
    if (blocks as i64) < 0 {
        (0, 0)
    } else {
        (bytes, blocks)
    }
}

fn zero_site(shard: usize, i: usize) {
    if let Some(c) = chunk(shard, i) {
        for lane in &c.lanes {
            lane[i % CHUNK_SITES].bytes.store(0, Relaxed);
            lane[i % CHUNK_SITES].blocks.store(0, Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-thread cache of interned stacks.

#[derive(Clone, Copy)]
struct CacheEntry {
    generation: u64,
    hash: u64,
    site: u32,
    len: u32,
    ips: [u64; MAX_FRAMES],
}

const EMPTY_CACHE_ENTRY: CacheEntry = CacheEntry {
    generation: 0,
    hash: 0,
    site: 0,
    len: 0,
    ips: [0; MAX_FRAMES],
};

fn cached_site(h: u64, ips: &[u64], generation: u64) -> Option<u32> {
    CACHE.with(|c| {
        // SAFETY: only this thread touches its cache, and only inside `on_alloc` with `BUSY` set, so
        // no other reference to it is alive (no re-entrancy).
        let e = unsafe { &(*c.get())[h as usize % INTERN_CACHE] };
        (e.generation == generation && e.hash == h && &e.ips[..e.len as usize] == ips)
            .then_some(e.site)
    })
}

fn remember_site(h: u64, ips: &[u64], generation: u64, site: u32) {
    CACHE.with(|c| {
        // SAFETY: as in `cached_site`.
        let e = unsafe { &mut (*c.get())[h as usize % INTERN_CACHE] };
        e.generation = generation;
        e.hash = h;
        e.site = site;
        e.len = ips.len() as u32;
        e.ips[..ips.len()].copy_from_slice(ips);
    })
}

impl StackTable {
    fn find_or_insert(&mut self, h: u64, ips: &[u64]) -> Option<u32> {
        if self.index.len() == 0 && !self.index.fill(256, 0) {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut pos = h as usize & mask;
        loop {
            let slot = self.index.as_slice()[pos];
            if slot == 0 {
                break;
            }
            let e = &self.entries.as_slice()[slot as usize - 1];
            if e.hash == h && &e.ips[..e.len as usize] == ips {
                return Some(slot - 1);
            }
            pos = (pos + 1) & mask;
        }
        let id = self.entries.len();
        if id >= MAX_SITES_PER_SHARD {
            return None; // 1M distinct stacks in one shard: stop recording new ones
        }
        let mut e = StackEntry {
            hash: h,
            len: ips.len() as u32,
            ips: [0; MAX_FRAMES],
            bytes: 0,
            blocks: 0,
        };
        e.ips[..ips.len()].copy_from_slice(ips);
        if !self.entries.push(e) {
            return None;
        }
        self.index.as_mut_slice()[pos] = id as u32 + 1;
        if self.entries.len() * 2 > self.index.len() {
            self.rehash(self.index.len() * 2);
        }
        Some(id as u32)
    }

    fn rehash(&mut self, cap: usize) {
        let mut index = SysVec::new();
        if !index.fill(cap, 0u32) {
            return; // keep the old (fuller) index; lookups stay correct
        }
        let mask = cap - 1;
        for (i, e) in self.entries.as_slice().iter().enumerate() {
            let mut pos = e.hash as usize & mask;
            while index.as_slice()[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            index.as_mut_slice()[pos] = i as u32 + 1;
        }
        self.index = index;
    }
}

// ---------------------------------------------------------------------------------------------
// Block table: address -> (stack id, size), linear probing with backward-shift deletion.

#[derive(Clone, Copy)]
struct BlockEntry {
    addr: usize, // 0 = empty
    site: BlockSite,
}

const EMPTY_BLOCK: BlockEntry = BlockEntry {
    addr: 0,
    site: BlockSite { site: 0, size: 0 },
};

struct BlockTable {
    slots: SysVec<BlockEntry>,
    used: usize,
}

enum Insert {
    New,
    Replaced(BlockSite),
    Failed,
}

static BLOCKS: [Shard<BlockTable>; BLOCK_SHARDS] = [const {
    Shard {
        lock: RawLock::new(),
        table: UnsafeCell::new(BlockTable {
            slots: SysVec::new(),
            used: 0,
        }),
    }
}; BLOCK_SHARDS];

#[inline]
fn addr_hash(addr: usize) -> u64 {
    ((addr as u64) >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn block_shard(addr: usize) -> usize {
    (addr_hash(addr) >> 58) as usize % BLOCK_SHARDS
}

impl BlockTable {
    fn insert(&mut self, addr: usize, site: BlockSite) -> Insert {
        if (self.used + 1) * 2 > self.slots.len() {
            let cap = (self.slots.len() * 2).max(1024);
            if !self.grow(cap) && self.used + 1 >= self.slots.len() {
                return Insert::Failed;
            }
        }
        let mask = self.slots.len() - 1;
        let mut pos = addr_hash(addr) as usize & mask;
        let slots = self.slots.as_mut_slice();
        loop {
            let e = &mut slots[pos];
            if e.addr == 0 {
                *e = BlockEntry { addr, site };
                self.used += 1;
                return Insert::New;
            }
            if e.addr == addr {
                let old = e.site;
                e.site = site;
                return Insert::Replaced(old);
            }
            pos = (pos + 1) & mask;
        }
    }

    fn remove(&mut self, addr: usize) -> Option<BlockSite> {
        if self.used == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let slots = self.slots.as_mut_slice();
        let mut pos = addr_hash(addr) as usize & mask;
        loop {
            let e = slots[pos];
            if e.addr == 0 {
                return None;
            }
            if e.addr == addr {
                break;
            }
            pos = (pos + 1) & mask;
        }
        let found = slots[pos].site;
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        let mut hole = pos;
        let mut next = (pos + 1) & mask;
        loop {
            let e = slots[next];
            if e.addr == 0 {
                break;
            }
            let home = addr_hash(e.addr) as usize & mask;
            // Move `e` into the hole if its home is not cyclically within (hole, next].
            let dist_next = next.wrapping_sub(home) & mask;
            let dist_hole = hole.wrapping_sub(home) & mask;
            if dist_hole < dist_next {
                slots[hole] = e;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        slots[hole] = EMPTY_BLOCK;
        self.used -= 1;
        Some(found)
    }

    fn grow(&mut self, cap: usize) -> bool {
        let mut slots = SysVec::new();
        if !slots.fill(cap, EMPTY_BLOCK) {
            return false;
        }
        let mask = cap - 1;
        for e in self.slots.as_slice() {
            if e.addr != 0 {
                let mut pos = addr_hash(e.addr) as usize & mask;
                while slots.as_slice()[pos].addr != 0 {
                    pos = (pos + 1) & mask;
                }
                slots.as_mut_slice()[pos] = *e;
            }
        }
        self.slots = slots;
        true
    }
}

// ---------------------------------------------------------------------------------------------
// fork safety.

static FORK_HANDLERS: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
fn install_fork_handlers() {
    extern "C" fn prepare() {
        for s in &STACKS {
            s.lock.lock();
        }
        for s in &BLOCKS {
            s.lock.lock();
        }
    }
    extern "C" fn release() {
        for s in &BLOCKS {
            s.lock.unlock();
        }
        for s in &STACKS {
            s.lock.unlock();
        }
    }
    if !FORK_HANDLERS.swap(true, SeqCst) {
        // SAFETY: the handlers are plain functions that only take and release our own locks, which
        // are never held while calling into fork, so `prepare` cannot deadlock against itself.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(release), Some(release));
        }
    }
}

#[cfg(not(unix))]
fn install_fork_handlers() {
    FORK_HANDLERS.store(true, SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(n: u32) -> BlockSite {
        BlockSite {
            site: n,
            size: u64::from(n),
        }
    }

    #[test]
    fn block_table_insert_remove_with_collisions() {
        let mut t = BlockTable {
            slots: SysVec::new(),
            used: 0,
        };
        // Many addresses, including ones that collide in the low bits.
        let addrs: Vec<usize> = (1..5000usize)
            .map(|i| i * 16 * 1024 + (i % 7) * 16)
            .collect();
        for (i, &a) in addrs.iter().enumerate() {
            assert!(matches!(t.insert(a, site(i as u32)), Insert::New));
        }
        assert!(matches!(t.insert(addrs[3], site(99)), Insert::Replaced(s) if s.site == 3));
        for (i, &a) in addrs.iter().enumerate().step_by(2) {
            let want = if i == 3 { 99 } else { i as u32 };
            assert_eq!(t.remove(a).map(|s| s.site), Some(want));
        }
        for (i, &a) in addrs.iter().enumerate() {
            let got = t.remove(a).map(|s| s.site);
            if i % 2 == 0 {
                assert_eq!(got, None);
            } else {
                let want = if i == 3 { 99 } else { i as u32 };
                assert_eq!(got, Some(want), "address {a:#x}");
            }
        }
        assert_eq!(t.used, 0);
    }

    #[test]
    fn stack_table_interns_by_content() {
        let mut t = StackTable {
            entries: SysVec::new(),
            index: SysVec::new(),
        };
        let mut ids = Vec::new();
        for i in 0..2000u64 {
            let ips = [i, i + 1, 7];
            ids.push(t.find_or_insert(hash_ips(&ips), &ips).expect("id"));
        }
        for i in 0..2000u64 {
            let ips = [i, i + 1, 7];
            assert_eq!(
                t.find_or_insert(hash_ips(&ips), &ips),
                Some(ids[i as usize])
            );
        }
        assert_eq!(t.entries.len(), 2000);
        let other = [1u64, 2];
        assert_ne!(t.find_or_insert(hash_ips(&other), &other), Some(ids[1]));
    }
}
