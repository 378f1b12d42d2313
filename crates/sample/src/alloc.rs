//! The counting global allocator and its counters.
//!
//! # How the counters stay cheap
//!
//! Every thread that allocates claims one of [`SLOTS`] counter slots in a static array. A slot is written
//! only by the thread that owns it, with a plain relaxed load and store (no `lock` prefix), so the hot
//! path costs a thread-local read plus a few ordinary memory operations on a cache line nobody else
//! writes. [`heap_stats`] sums all slots. A block freed on another thread simply raises that other
//! thread's "freed" counters: the sum stays exact.
//!
//! The slot index lives in a `const`-initialized thread-local `Cell<usize>`, which has no destructor,
//! so it is usable before `main`, during thread-local destruction and after `fork`.
//!
//! # One test for every rare case
//!
//! The hot path tests one flag, the slot's `divert`, which sits on the same cache line as its
//! counters: clear means "just count". Site capture sets it in every claimed slot whenever capture
//! starts or a recorded block comes alive ([`divert_all`]), and each owner clears its own again,
//! lazily, in the slow path once capture is off and no recorded block is left. So with capture off
//! the allocator reads no shared flag at all: the thread-local read, this flag and the counters are
//! the whole fast path. A thread without a slot points at a static slot that is always diverted,
//! so the same test covers "no slot yet" too.
//!
//! A slot is returned when its thread exits through a POSIX thread-specific-data key destructor
//! (`pthread_key_create`), not a Rust thread-local destructor: registering a Rust TLS destructor may
//! allocate (it does on platforms without `__cxa_thread_atexit_impl`), which would re-enter the
//! allocator mid-claim. `pthread_setspecific` on one of the first 32 keys allocates nothing on glibc.
//! Key destructors run after the Rust TLS destructors, so allocation in TLS destructors still lands in
//! the thread's own slot; should the thread allocate even later, its index has been switched to the
//! shared overflow slot. The trade-off: a thread that never exits through pthread (the main thread, a
//! thread alive at `fork`) keeps its slot; threads beyond the array's size, and allocations made while
//! a thread claims its slot, use one shared overflow slot updated with `fetch_add`, correct but slower.
//!
//! # Peak
//!
//! An exact peak under concurrency would need one shared counter updated on every call (the cost this
//! design avoids). Instead each slot publishes its net change into a shared estimate (one
//! `fetch_add` + `fetch_max`) whenever its allocated or its freed byte count crosses a multiple of
//! [`PEAK_GRANULE`], so each slot's unpublished change stays below `2 x PEAK_GRANULE`; the peak is
//! the maximum of that estimate and of every exact value [`heap_stats`] computes. So
//! `peak_live_bytes` is within `2 x PEAK_GRANULE` (128 KiB) x (live threads that allocated) of the
//! true peak, and never below any `live_bytes` that `heap_stats` returned. It is exact for a peak
//! that `heap_stats` observed, e.g. when sampling between iterations.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::*};
use std::alloc::System;

use serde::{Deserialize, Serialize};

use crate::capture;

/// Number of per-thread counter slots; threads beyond this share the overflow slot.
pub(crate) const SLOTS: usize = 256;
/// Index of the shared overflow slot (updated with atomic read-modify-write).
const OVERFLOW: usize = SLOTS;
/// This thread has not claimed a slot yet.
const UNCLAIMED: usize = usize::MAX;
/// This thread is claiming a slot right now (re-entrant calls use the overflow slot).
const CLAIMING: usize = usize::MAX - 1;

/// A slot publishes into the shared peak estimate each time its allocated (or freed) byte count
/// crosses a multiple of this (a power of two).
pub const PEAK_GRANULE: u64 = 64 * 1024;

/// One thread's counters, on its own cache lines (128 bytes: adjacent-line prefetch pairs lines).
#[repr(align(128))]
struct Slot {
    alloc_bytes: AtomicU64,
    alloc_blocks: AtomicU64,
    free_bytes: AtomicU64,
    free_blocks: AtomicU64,
    /// Local live bytes (alloc - free, wrapping) at the last publication into `PUBLISHED_LIVE`.
    published: AtomicU64,
    /// Set, it sends the owner's calls to the slow path, which consults site capture's own flags.
    /// Set by any thread ([`divert_all`]); cleared only by the owner
    /// ([`my_own_undiverted_if_idle`]).
    divert: AtomicBool,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            alloc_bytes: AtomicU64::new(0),
            alloc_blocks: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
            free_blocks: AtomicU64::new(0),
            published: AtomicU64::new(0),
            divert: AtomicBool::new(true),
        }
    }
}

static TABLE: [Slot; SLOTS + 1] = [const { Slot::new() }; SLOTS + 1];
/// What `MY_OWN` points to while its thread owns no slot: permanently diverted, never counted into.
static UNOWNED: Slot = Slot::new();
static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
/// One past the highest slot index ever claimed: readers sum only `TABLE[..HIGH_WATER]` and the
/// overflow slot. Claims take the lowest free slot, so this stays near the peak thread count.
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);
/// Shared live-bytes estimate (sum of published slot values plus the overflow slot).
static PUBLISHED_LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static TRACKING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's slot index (`< SLOTS`), `OVERFLOW`, `UNCLAIMED` or `CLAIMING`. No destructor.
    static MY_SLOT: Cell<usize> = const { Cell::new(UNCLAIMED) };
    /// This thread's own slot while it owns one, else [`UNOWNED`] (the hot path's only
    /// thread-local read). Never null. No destructor.
    static MY_OWN: Cell<*const Slot> = const { Cell::new(&raw const UNOWNED) };
}

/// A [`GlobalAlloc`] that delegates to `A` and keeps exact heap counters (see [`heap_stats`]), and can
/// record allocation sites (see [`capture`](crate::capture)).
///
/// ```
/// #[global_allocator]
/// static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();
/// # fn main() {}
/// ```
///
/// All instances share one set of counters (a program has one global allocator).
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackingAlloc<A: GlobalAlloc = System> {
    inner: A,
}

impl TrackingAlloc<System> {
    /// Wraps the system allocator.
    pub const fn system() -> Self {
        TrackingAlloc { inner: System }
    }
}

impl<A: GlobalAlloc> TrackingAlloc<A> {
    /// Wraps any allocator (jemalloc, mimalloc, ...).
    pub const fn new(inner: A) -> Self {
        TrackingAlloc { inner }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

/// Heap counters of [`TrackingAlloc`], in bytes as requested by `Layout::size()` and in blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HeapStats {
    /// Bytes allocated and not yet freed.
    pub live_bytes: u64,
    /// Blocks allocated and not yet freed.
    pub live_blocks: u64,
    /// Bytes ever allocated (a `realloc` counts as a free plus a new allocation).
    pub total_bytes: u64,
    /// Blocks ever allocated (a `realloc` counts as a free plus a new allocation).
    pub total_blocks: u64,
    /// Highest live bytes seen; within 2 x [`PEAK_GRANULE`] x (live allocating threads) of the true peak,
    /// and never below a `live_bytes` returned earlier (see [`reset_peak`]).
    pub peak_live_bytes: u64,
}

/// True once a [`TrackingAlloc`] has served an allocation: in practice, it is the global allocator.
pub fn is_tracking() -> bool {
    TRACKING.load(Relaxed)
}

/// Reads the counters: sums every thread's slot (a few hundred relaxed loads, well under a
/// microsecond). Exact whenever no other thread is in the middle of an allocation or free.
pub fn heap_stats() -> HeapStats {
    let (mut ab, mut ak, mut fb, mut fk) = (0u64, 0u64, 0u64, 0u64);
    // A slot is counted from its first claim on: HIGH_WATER is raised (SeqCst) before the claiming
    // thread writes to the slot.
    let high = HIGH_WATER.load(SeqCst).min(SLOTS);
    for s in TABLE[..high]
        .iter()
        .chain(core::iter::once(&TABLE[OVERFLOW]))
    {
        ab = ab.wrapping_add(s.alloc_bytes.load(Relaxed));
        ak = ak.wrapping_add(s.alloc_blocks.load(Relaxed));
        fb = fb.wrapping_add(s.free_bytes.load(Relaxed));
        fk = fk.wrapping_add(s.free_blocks.load(Relaxed));
    }
    // A concurrent free on another thread can be seen before its allocation: clamp at zero.
    let live_bytes = (ab.wrapping_sub(fb) as i64).max(0) as u64;
    let live_blocks = (ak.wrapping_sub(fk) as i64).max(0) as u64;
    let peak = PEAK.fetch_max(live_bytes, Relaxed).max(live_bytes);
    HeapStats {
        live_bytes,
        live_blocks,
        total_bytes: ab,
        total_blocks: ak,
        peak_live_bytes: peak,
    }
}

/// Number of per-thread counter slots currently claimed by live threads (threads beyond the
/// array's 256 slots share one slower overflow slot).
#[cfg(test)]
fn claimed_slots() -> usize {
    CLAIMED.iter().filter(|c| c.load(Relaxed)).count()
}

/// Restarts peak tracking from the current live bytes (e.g. before a workload). Returns the new peak.
pub fn reset_peak() -> u64 {
    PEAK.store(0, Relaxed);
    heap_stats().peak_live_bytes
}

#[inline(always)]
fn bump(c: &AtomicU64, v: u64) {
    // Owner-only slot: a plain load + store is enough (no lock prefix). Relaxed atomics keep the
    // concurrent reader free of data races.
    c.store(c.load(Relaxed).wrapping_add(v), Relaxed);
}

/// This thread's counter slot index, or a sentinel above [`SLOTS`] (for spreading per-thread work
/// over lanes: distinct live threads below [`SLOTS`] get distinct values).
#[inline]
pub(crate) fn thread_slot_hint() -> usize {
    MY_SLOT.with(Cell::get)
}

#[inline]
fn slot_index() -> usize {
    let i = MY_SLOT.with(Cell::get);
    if i < SLOTS {
        i
    } else {
        claim_slow(i)
    }
}

#[cold]
#[inline(never)]
fn claim_slow(current: usize) -> usize {
    if current != UNCLAIMED {
        return OVERFLOW; // OVERFLOW for good, or a re-entrant call while claiming
    }
    TRACKING.store(true, Relaxed);
    MY_SLOT.with(|s| s.set(CLAIMING));
    for (i, claimed) in CLAIMED.iter().enumerate() {
        if !claimed.load(Relaxed)
            && claimed
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        {
            // Acquire pairs with the Release in `release_slot`: the previous owner's plain stores are
            // visible before this thread's first load of the slot.
            if !release_on_exit(i) {
                // Without a release hook the slot stays claimed for good, which is still correct.
            }
            HIGH_WATER.fetch_max(i + 1, SeqCst);
            // A slot starts diverted; the first slow-path call clears it if capture is idle.
            TABLE[i].divert.store(true, SeqCst);
            MY_SLOT.with(|s| s.set(i));
            MY_OWN.with(|s| s.set(&TABLE[i]));
            return i;
        }
    }
    MY_SLOT.with(|s| s.set(OVERFLOW));
    OVERFLOW
}

/// Returns slot `i` and publishes its pending drift; called at thread exit.
fn release_slot(i: usize) {
    MY_OWN.with(|s| s.set(&UNOWNED));
    MY_SLOT.with(|s| s.set(OVERFLOW));
    let s = &TABLE[i];
    let local = s
        .alloc_bytes
        .load(Relaxed)
        .wrapping_sub(s.free_bytes.load(Relaxed));
    let diff = local.wrapping_sub(s.published.load(Relaxed)) as i64;
    s.published.store(local, Relaxed);
    PUBLISHED_LIVE.fetch_add(diff, Relaxed);
    CLAIMED[i].store(false, Release);
}

#[cfg(unix)]
mod exit_hook {
    use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering::*};

    const NONE: u8 = 0;
    const BUSY: u8 = 1;
    const READY: u8 = 2;
    const FAILED: u8 = 3;
    static STATE: AtomicU8 = AtomicU8::new(NONE);
    static KEY: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn on_thread_exit(value: *mut libc::c_void) {
        let i = (value as usize).wrapping_sub(1);
        if i < super::SLOTS {
            super::release_slot(i);
        }
    }

    /// Arranges for slot `i` to be released when this thread exits. False if that is impossible.
    pub(super) fn register(i: usize) -> bool {
        let mut state = STATE.load(Acquire);
        if state == NONE && STATE.compare_exchange(NONE, BUSY, Acquire, Acquire).is_ok() {
            let mut key: libc::pthread_key_t = 0;
            // SAFETY: `key` is a valid out-pointer and `on_thread_exit` has the destructor signature
            // pthread expects. pthread_key_create allocates nothing through Rust's allocator.
            let rc = unsafe { libc::pthread_key_create(&mut key, Some(on_thread_exit)) };
            if rc == 0 {
                KEY.store(key as usize, Relaxed);
                STATE.store(READY, Release);
                state = READY;
            } else {
                STATE.store(FAILED, Release);
                state = FAILED;
            }
        }
        if state != READY {
            return false; // another thread is creating the key (rare) or it failed: keep the slot
        }
        let key = KEY.load(Relaxed) as libc::pthread_key_t;
        // SAFETY: `key` was created by pthread_key_create above and is never deleted; the value is an
        // integer cookie, never dereferenced.
        unsafe { libc::pthread_setspecific(key, (i + 1) as *const libc::c_void) == 0 }
    }
}

#[cfg(unix)]
fn release_on_exit(i: usize) -> bool {
    exit_hook::register(i)
}

#[cfg(not(unix))]
fn release_on_exit(_i: usize) -> bool {
    false
}

/// Sends every claimed slot's owner through the slow path (and so past site capture's flags) from
/// its next call on. Called after capture's flag is set (`SeqCst`): a slot claimed concurrently
/// either is below the `HIGH_WATER` read here or starts diverted anyway.
pub(crate) fn divert_all() {
    let high = HIGH_WATER.load(SeqCst).min(SLOTS);
    for s in &TABLE[..high] {
        s.divert.store(true, SeqCst);
    }
}

/// This thread's own slot, if it has one, on entry to a slow path: if site capture is idle, the
/// slot's divert flag is cleared so that later calls take the fast path again. The flags are read
/// again after clearing (all `SeqCst`): a [`divert_all`] racing with this either comes after the
/// clear, or its flag store is seen by the second read.
#[inline] // called only from the cold paths; inlined there it costs capture one call less
fn my_own_undiverted_if_idle() -> Option<&'static Slot> {
    let s = my_own()?;
    if !capture::capturing_fast() && !capture::tracked_fast() {
        s.divert.store(false, SeqCst);
        if capture::capturing_fast() || capture::tracked_fast() {
            s.divert.store(true, SeqCst);
        }
    }
    Some(s)
}

/// The slot `MY_OWN` points to: this thread's own, or [`UNOWNED`].
#[inline(always)]
fn my_slot() -> &'static Slot {
    let p = MY_OWN.with(Cell::get);
    // SAFETY: `MY_OWN` only ever holds `&UNOWNED` or `&TABLE[i]`, both statics.
    unsafe { &*p }
}

/// This thread's own slot, if it has one.
#[inline(always)]
fn my_own() -> Option<&'static Slot> {
    let s = my_slot();
    (!core::ptr::eq(s, &UNOWNED)).then_some(s)
}

/// This thread's own slot if its calls may take the fast path (claimed and not diverted): one
/// test, since [`UNOWNED`] is always diverted.
#[inline(always)]
fn fast_slot() -> Option<&'static Slot> {
    let s = my_slot();
    (!s.divert.load(Relaxed)).then_some(s)
}

/// Counts an allocation on the slow path (no slot yet, overflow slot, or diverted).
#[inline(always)]
fn count_alloc(size: u64) {
    match my_own() {
        Some(s) => owned_alloc(s, size),
        None => count_alloc_slow(size),
    }
}

#[inline(always)]
fn owned_alloc(s: &Slot, size: u64) {
    let old = s.alloc_bytes.load(Relaxed);
    let ab = old.wrapping_add(size);
    s.alloc_bytes.store(ab, Relaxed);
    bump(&s.alloc_blocks, 1);
    // Publish whenever this thread's allocated volume crosses a PEAK_GRANULE boundary: no extra
    // loads on the common path, and the unpublished drift stays below PEAK_GRANULE.
    if (old ^ ab) >= PEAK_GRANULE {
        publish(s);
    }
}

#[cold]
#[inline(never)]
fn count_alloc_slow(size: u64) {
    let i = slot_index();
    if i < SLOTS {
        owned_alloc(&TABLE[i], size);
    } else {
        count_overflow_alloc(size);
    }
}

#[inline(always)]
fn count_free(size: u64) {
    match my_own() {
        Some(s) => owned_free(s, size),
        None => count_free_slow(size),
    }
}

#[inline(always)]
fn owned_free(s: &Slot, size: u64) {
    let old = s.free_bytes.load(Relaxed);
    let fb = old.wrapping_add(size);
    s.free_bytes.store(fb, Relaxed);
    bump(&s.free_blocks, 1);
    if (old ^ fb) >= PEAK_GRANULE {
        publish(s);
    }
}

#[cold]
#[inline(never)]
fn count_free_slow(size: u64) {
    let i = slot_index();
    if i < SLOTS {
        owned_free(&TABLE[i], size);
    } else {
        count_overflow_free(size);
    }
}

/// The slow path of a new block: count it, then capture it if capture is on. (The capture call is
/// a tail call in optimized builds, so this function adds no frame to captured stacks.)
#[cold]
#[inline(never)]
fn on_alloc_slow(p: *mut u8, size: usize) {
    match my_own_undiverted_if_idle() {
        Some(s) => owned_alloc(s, size as u64),
        None => count_alloc_slow(size as u64),
    }
    if capture::capturing_fast() {
        capture::on_alloc(p, size);
    }
}

/// The slow path of a free: forget the block's site (before the memory can be handed out again),
/// then count it.
#[cold]
#[inline(never)]
fn on_free_slow(p: *mut u8, size: usize) {
    let own = my_own_undiverted_if_idle();
    if capture::tracked_fast() {
        capture::on_free(p);
    }
    match own {
        Some(s) => owned_free(s, size as u64),
        None => count_free_slow(size as u64),
    }
}

#[cold]
#[inline(never)]
fn publish(s: &Slot) {
    let local = s
        .alloc_bytes
        .load(Relaxed)
        .wrapping_sub(s.free_bytes.load(Relaxed));
    let drift = local.wrapping_sub(s.published.load(Relaxed)) as i64;
    s.published.store(local, Relaxed);
    let now = PUBLISHED_LIVE.fetch_add(drift, Relaxed).wrapping_add(drift);
    if now > 0 {
        PEAK.fetch_max(now as u64, Relaxed);
    }
}

#[cold]
#[inline(never)]
fn count_overflow_alloc(size: u64) {
    let s = &TABLE[OVERFLOW];
    s.alloc_bytes.fetch_add(size, Relaxed);
    s.alloc_blocks.fetch_add(1, Relaxed);
    let now = PUBLISHED_LIVE
        .fetch_add(size as i64, Relaxed)
        .wrapping_add(size as i64);
    if now > 0 {
        PEAK.fetch_max(now as u64, Relaxed);
    }
}

#[cold]
#[inline(never)]
fn count_overflow_free(size: u64) {
    let s = &TABLE[OVERFLOW];
    s.free_bytes.fetch_add(size, Relaxed);
    s.free_blocks.fetch_add(1, Relaxed);
    PUBLISHED_LIVE.fetch_sub(size as i64, Relaxed);
}

// SAFETY: every method delegates to `inner` with the caller's arguments unchanged and returns its
// result unchanged; the bookkeeping around it touches only static counters and the capture tables,
// which never allocate through the global allocator, so the GlobalAlloc contract of `A` carries over.
unsafe impl<A: GlobalAlloc> GlobalAlloc for TrackingAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            match fast_slot() {
                Some(s) => owned_alloc(s, layout.size() as u64),
                None => on_alloc_slow(p, layout.size()),
            }
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            match fast_slot() {
                Some(s) => owned_alloc(s, layout.size() as u64),
                None => on_alloc_slow(p, layout.size()),
            }
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match fast_slot() {
            Some(s) => owned_free(s, layout.size() as u64),
            None => on_free_slow(ptr, layout.size()),
        }
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if let Some(s) = fast_slot() {
            // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::realloc`'s contract.
            let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                owned_free(s, layout.size() as u64);
                owned_alloc(s, new_size as u64);
            }
            return p;
        }
        let _ = my_own_undiverted_if_idle(); // counted below through `count_free` / `count_alloc`
        let old_site = if capture::tracked_fast() {
            capture::on_free(ptr)
        } else {
            None
        };
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::realloc`'s contract.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if p.is_null() {
            // The old block is still alive: keep its record.
            if let Some(site) = old_site {
                capture::restore(ptr, site);
            }
        } else {
            count_free(layout.size() as u64);
            count_alloc(new_size as u64);
            if capture::capturing_fast() {
                capture::on_alloc(p, new_size);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit tests drive the counting functions directly (TrackingAlloc is not the global
    /// allocator here); they share the counters, so they take turns.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn slot_counts_are_summed_and_peak_follows() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let before = heap_stats();
        count_alloc(1000);
        count_alloc(24);
        let mid = heap_stats();
        assert_eq!(mid.total_bytes - before.total_bytes, 1024);
        assert_eq!(mid.total_blocks - before.total_blocks, 2);
        assert!(mid.peak_live_bytes >= mid.live_bytes);
        count_free(1000);
        count_free(24);
        let after = heap_stats();
        assert_eq!(after.live_bytes, before.live_bytes);
        assert_eq!(after.live_blocks, before.live_blocks);
    }

    #[test]
    fn large_drift_publishes_into_peak() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        reset_peak();
        let big = 10 * PEAK_GRANULE;
        count_alloc(big);
        // The publication happened inside count_alloc, before any heap_stats call.
        assert!(PEAK.load(Relaxed) >= big - 2 * PEAK_GRANULE);
        count_free(big);
        assert!(heap_stats().peak_live_bytes >= big - 2 * PEAK_GRANULE);
    }

    #[test]
    fn exited_threads_return_their_slots() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let before = claimed_slots();
        // 1000 short-lived threads in sequence: without the exit hook they would claim every slot.
        for _ in 0..1000 {
            std::thread::spawn(|| {
                count_alloc(16);
                count_free(16);
            })
            .join()
            .expect("thread");
        }
        // Other tests' threads (at most one per core) may hold a slot meanwhile.
        let after = claimed_slots();
        assert!(
            after <= before + 4,
            "{before} slots claimed before, {after} after"
        );
    }
}
