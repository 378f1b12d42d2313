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

mod blocks;
mod cache;
mod lanes;
mod stacks;
mod unwinding;

use blocks::*;
use cache::*;
use lanes::*;
use stacks::*;
use unwinding::*;

pub use unwinding::use_platform_unwinder;

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
