//! The shared counter region: its layout (`layout.rs`, shared with `leakproof_sample::native`), per-thread
//! counter slots, and the file each process publishes it in.
//!
//! Layout (all little-endian `u64`, offsets in bytes): a 128-byte header, then [`SLOTS`] slots of
//! 128 bytes, then one overflow slot.
//!
//! | offset | header field | written by |
//! |-------:|--------------|------------|
//! | 0      | magic `LKPNAT02` (stored last) | agent |
//! | 8      | pid | agent |
//! | 16     | exited (1 once exit handlers ran) | agent |
//! | 24     | ctl: bit 0 capture sites, bits 1.. sites-dump request counter | reader |
//! | 32     | dumped: the request counter of the last sites file written | agent |
//! | 40     | dropped: allocations not recorded (tables full) | agent |
//! | 48     | opens: bit 0 trace open sites without capturing sites | reader |
//!
//! A slot: owner (`pthread_self`, 0 = free) at 0, allocated bytes at 8, allocated blocks at 16,
//! freed bytes at 24, freed blocks at 32, busy (re-entrancy guard) at 40. Live bytes are the sum
//! over all slots of allocated minus freed bytes (wrapping), so a block freed on another thread
//! than the one that allocated it is still counted exactly.
//!
//! Slots are keyed by `pthread_self()` in a small open-addressing table: no thread-local storage
//! (which in a shared object may call `malloc` on first access after a `dlopen`), no lock, no
//! syscall. A slot is written only by its owner, with a plain load and store. A dead thread's slot
//! keeps its counts; glibc reuses a dead thread's `pthread_t` for a new thread, which then simply
//! continues in that slot. Threads that find no free slot share the overflow slot (atomic adds).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering::*};

pub(crate) use crate::layout::{Header, Region, Slot, MAGIC, REGION_SIZE, SLOTS};

/// Slots tried per thread before it falls back to the overflow slot.
const PROBES: usize = 8;
/// The environment variable naming the directory regions are published in.
pub(crate) const DIR_VAR: &[u8] = b"LEAKPROOF_PRELOAD_DIR\0";
/// Set (to the `LD_PRELOAD` to leave behind, maybe empty) for a process that has the agent for
/// itself only: the constructor then takes the agent out of the environment its children get.
const SELF_VAR: &[u8] = b"LEAKPROOF_PRELOAD_SELF\0";

impl Slot {
    const fn new() -> Slot {
        Slot {
            owner: AtomicU64::new(0),
            alloc_bytes: AtomicU64::new(0),
            alloc_blocks: AtomicU64::new(0),
            free_bytes: AtomicU64::new(0),
            free_blocks: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }
}

impl Region {
    const fn new() -> Region {
        Region {
            header: Header {
                magic: AtomicU64::new(0),
                pid: AtomicU64::new(0),
                exited: AtomicU64::new(0),
                ctl: AtomicU64::new(0),
                dumped: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                opens: AtomicU64::new(0),
            },
            slots: [const { Slot::new() }; SLOTS],
            overflow: Slot::new(),
        }
    }

    /// This thread's slot (claimed on first use), or the overflow slot.
    #[inline(always)]
    pub(crate) fn slot(&self) -> &Slot {
        let me = this_thread();
        let start = (me.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 55) as usize;
        for k in 0..PROBES {
            let s = &self.slots[(start + k) % SLOTS];
            let owner = s.owner.load(Relaxed);
            if owner == me {
                return s;
            }
            if owner == 0 && s.owner.compare_exchange(0, me, Relaxed, Relaxed).is_ok() {
                return s;
            }
        }
        &self.overflow
    }

    /// True for the shared overflow slot (updated atomically, no re-entrancy guard).
    pub(crate) fn is_overflow(&self, s: &Slot) -> bool {
        core::ptr::eq(s, &self.overflow)
    }

    /// Counts a new block of `size` usable bytes on this thread.
    #[inline(always)]
    pub(crate) fn count_alloc(&self, s: &Slot, size: u64) {
        if self.is_overflow(s) {
            s.alloc_bytes.fetch_add(size, Relaxed);
            s.alloc_blocks.fetch_add(1, Relaxed);
        } else {
            bump_pair(&s.alloc_bytes, &s.alloc_blocks, size);
        }
    }

    /// Counts a freed block of `size` usable bytes on this thread.
    #[inline(always)]
    pub(crate) fn count_free(&self, s: &Slot, size: u64) {
        if self.is_overflow(s) {
            s.free_bytes.fetch_add(size, Relaxed);
            s.free_blocks.fetch_add(1, Relaxed);
        } else {
            bump_pair(&s.free_bytes, &s.free_blocks, size);
        }
    }

    /// Copies every slot's counters from `other` (the early, private region) into this one.
    fn copy_counts_from(&self, other: &Region) {
        for (d, s) in self
            .slots
            .iter()
            .chain([&self.overflow])
            .zip(other.slots.iter().chain([&other.overflow]))
        {
            d.owner.store(s.owner.load(Relaxed), Relaxed);
            d.alloc_bytes.store(s.alloc_bytes.load(Relaxed), Relaxed);
            d.alloc_blocks.store(s.alloc_blocks.load(Relaxed), Relaxed);
            d.free_bytes.store(s.free_bytes.load(Relaxed), Relaxed);
            d.free_blocks.store(s.free_blocks.load(Relaxed), Relaxed);
        }
    }

    /// Live bytes and blocks in this region (for the agent's own tests).
    #[cfg(test)]
    pub(crate) fn live(&self) -> (u64, u64) {
        let (mut b, mut k) = (0u64, 0u64);
        for s in self.slots.iter().chain([&self.overflow]) {
            b = b.wrapping_add(
                s.alloc_bytes
                    .load(Relaxed)
                    .wrapping_sub(s.free_bytes.load(Relaxed)),
            );
            k = k.wrapping_add(
                s.alloc_blocks
                    .load(Relaxed)
                    .wrapping_sub(s.free_blocks.load(Relaxed)),
            );
        }
        (b, k)
    }
}

// `bump_pair` finds a block counter right after its byte counter.
const _: () = assert!(
    core::mem::offset_of!(Slot, alloc_blocks) == core::mem::offset_of!(Slot, alloc_bytes) + 8
        && core::mem::offset_of!(Slot, free_blocks) == core::mem::offset_of!(Slot, free_bytes) + 8
);

/// Adds `size` to an owner-only byte counter and 1 to its block counter, the next word.
#[inline(always)]
fn bump_pair(bytes: &AtomicU64, blocks: &AtomicU64, size: u64) {
    // No lock prefix (only the owner writes), but one read-modify-write *instruction* per
    // counter, not a load and a store: a signal handler that allocates on this thread runs before
    // or after it, never between a load and a store that would then erase the handler's count.
    #[cfg(target_arch = "x86_64")]
    {
        debug_assert!(core::ptr::eq(
            bytes.as_ptr().wrapping_add(1),
            blocks.as_ptr()
        ));
        // SAFETY: `bytes` and `blocks` are adjacent aligned words of a live slot (the assertion
        // above the function); the two `add`s touch nothing else and clobber only the flags,
        // which the block does not claim to preserve. Other threads and processes only read
        // these words, and an aligned 8-byte store is not torn.
        unsafe {
            core::arch::asm!(
                "add qword ptr [{p}], {v}",
                "add qword ptr [{p} + 8], 1",
                p = in(reg) bytes.as_ptr(),
                v = in(reg) size,
                options(nostack),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes.fetch_add(size, Relaxed);
        blocks.fetch_add(1, Relaxed);
    }
}

/// This thread's identity: `pthread_self()` (the thread pointer: no syscall, never 0).
#[inline(always)]
fn this_thread() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
    {
        let me: u64;
        // SAFETY: on x86_64 glibc, `pthread_self()` is the `self` field of the thread control
        // block at %fs:0x10 (glibc's THREAD_SELF); this reads it without a call. No memory of
        // ours is written.
        unsafe {
            core::arch::asm!("mov {}, fs:[0x10]", out(reg) me, options(nostack, readonly, preserves_flags));
        }
        me
    }
    #[cfg(not(all(target_arch = "x86_64", target_env = "gnu")))]
    // SAFETY: pthread_self has no preconditions and touches no memory of ours.
    unsafe {
        libc::pthread_self() as u64
    }
}

/// Counts before the constructor has run (and in the agent's unit tests); copied into the shared
/// region when it is created.
static EARLY: Region = Region::new();

/// The region counted into: `EARLY`, then the shared mapping; null when the agent is off (no
/// directory variable): every call is then passed straight through.
static CURRENT: AtomicPtr<Region> = AtomicPtr::new(&raw const EARLY as *mut Region);

/// The region to count into, if the agent is on.
#[inline(always)]
pub(crate) fn current() -> Option<&'static Region> {
    let p = CURRENT.load(Acquire);
    // SAFETY: CURRENT is null, `&EARLY`, or a MAP_SHARED mapping of REGION_SIZE bytes that is never
    // unmapped while it is current (only a forked child unmaps its parent's, after replacing it).
    unsafe { p.as_ref() }
}

/// The directory from the environment, NUL-terminated, copied at start-up.
struct DirBuf(UnsafeCell<[u8; 512]>);
// SAFETY: written only by the constructor, before any other thread of the process can exist; read
// only afterwards.
unsafe impl Sync for DirBuf {}
static DIR: DirBuf = DirBuf(UnsafeCell::new([0; 512]));
static DIR_LEN: AtomicU64 = AtomicU64::new(0);

/// The publishing directory (without NUL), empty when the agent is off.
pub(crate) fn dir() -> &'static [u8] {
    let n = DIR_LEN.load(Acquire) as usize;
    // SAFETY: the first `n` bytes were written before DIR_LEN was stored (Release) and never change.
    unsafe { &(&*DIR.0.get())[..n] }
}

/// The constructor's work: read the environment, publish the region, register the fork handlers.
pub(crate) fn start() {
    // SAFETY: getenv with a NUL-terminated name; the result is read before anything can change the
    // environment (constructors run single-threaded).
    let value = unsafe { libc::getenv(DIR_VAR.as_ptr().cast()) };
    if value.is_null() {
        CURRENT.store(core::ptr::null_mut(), Release);
        return;
    }
    // SAFETY: getenv returned a NUL-terminated string.
    let bytes = unsafe { core::ffi::CStr::from_ptr(value) }.to_bytes();
    // SAFETY: see `DirBuf`: single-threaded start-up, nobody reads DIR before DIR_LEN is set.
    let buf = unsafe { &mut *DIR.0.get() };
    if bytes.is_empty() || bytes.len() >= buf.len() - 64 {
        CURRENT.store(core::ptr::null_mut(), Release);
        return;
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    DIR_LEN.store(bytes.len() as u64, Release);
    for_self_only();
    match publish() {
        Some(r) => {
            r.copy_counts_from(&EARLY);
            CURRENT.store(r as *const Region as *mut Region, Release);
        }
        None => CURRENT.store(core::ptr::null_mut(), Release),
    }
    // SAFETY: the child handler is an `extern "C" fn()` without preconditions. No prepare handler
    // takes the capture lock around `fork`: glibc's own fork then waits for every arena lock, and
    // a thread holding one could be in a signal handler that allocates and waits for ours. The
    // child, single-threaded, drops the tables and frees the lock instead.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_child)) };
}

/// With [`SELF_VAR`] set: restores `LD_PRELOAD` to its value (unset when empty) and removes the
/// agent's variables, so that the processes this one starts run without the agent.
fn for_self_only() {
    // SAFETY: the constructor runs single-threaded, before anything else reads the environment;
    // every name is NUL-terminated, and setenv copies the value before SELF_VAR is removed.
    unsafe {
        let restore = libc::getenv(SELF_VAR.as_ptr().cast());
        if restore.is_null() {
            return;
        }
        let preload = c"LD_PRELOAD".as_ptr();
        if *restore == 0 {
            libc::unsetenv(preload);
        } else {
            libc::setenv(preload, restore, 1);
        }
        libc::unsetenv(SELF_VAR.as_ptr().cast());
        libc::unsetenv(DIR_VAR.as_ptr().cast());
    }
}

/// Creates this process's region file (`DIR/PID`, replacing any older one atomically) and maps it,
/// capturing sites from the start if the reader's `DIR/capture` file exists.
fn publish() -> Option<&'static Region> {
    let ctl = u64::from(crate::sys::exists(b"capture"));
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    let map = crate::sys::create_shared(pid, b"", REGION_SIZE)?;
    // SAFETY: `map` is a fresh, zero-filled, writable MAP_SHARED mapping of REGION_SIZE bytes,
    // page-aligned (so aligned for Region), and all-zero is a valid Region (atomics only).
    let r = unsafe { &*(map as *const Region) };
    r.header.pid.store(pid, Relaxed);
    r.header.ctl.store(ctl, Relaxed);
    r.header.magic.store(MAGIC, Release);
    crate::sys::commit(pid, b"").then_some(r)
}

/// Marks the region as belonging to a process that has run its exit handlers.
pub(crate) fn finish() {
    if let Some(r) = current() {
        r.header.exited.store(1, Release);
    }
}

/// In a forked child: count from zero into a region of its own (the parent's mapping is shared and
/// must not be written), and forget the parent's recorded sites.
extern "C" fn after_fork_child() {
    crate::sites::reset_in_child();
    crate::threads::reset_in_child();
    let Some(old) = current() else {
        return;
    };
    let new = publish();
    let new_ptr = new.map_or(core::ptr::null_mut(), |r| r as *const Region as *mut Region);
    CURRENT.store(new_ptr, Release);
    if !core::ptr::eq(old, &EARLY) {
        // SAFETY: `old` is the parent's MAP_SHARED region of REGION_SIZE bytes; this child is
        // single-threaded here and CURRENT no longer points to it, so nothing can use it again.
        unsafe { libc::munmap(old as *const Region as *mut libc::c_void, REGION_SIZE) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_documented_offsets() {
        assert_eq!(size_of::<Header>(), 128);
        assert_eq!(size_of::<Slot>(), 128);
        assert_eq!(REGION_SIZE, 128 + SLOTS * 128 + 128);
        let r = Region::new();
        let base = &r as *const Region as usize;
        assert_eq!(&r.header.ctl as *const AtomicU64 as usize - base, 24);
        assert_eq!(&r.header.dumped as *const AtomicU64 as usize - base, 32);
        assert_eq!(
            &r.slots[1].free_bytes as *const AtomicU64 as usize - base,
            128 + 128 + 24
        );
    }

    #[test]
    fn the_thread_identity_is_pthread_self() {
        // SAFETY: pthread_self has no preconditions.
        assert_eq!(this_thread(), unsafe { libc::pthread_self() } as u64);
        let other = std::thread::spawn(this_thread).join().expect("thread");
        assert_ne!(other, this_thread());
    }

    #[test]
    fn counts_on_several_threads_add_up() {
        let r: &'static Region = Box::leak(Box::new(Region::new()));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let slot = r.slot();
                        r.count_alloc(slot, 32);
                    }
                });
            }
        });
        for _ in 0..1000 {
            let slot = r.slot();
            r.count_free(slot, 32);
        }
        assert_eq!(r.live(), (3 * 1000 * 32, 3000));
    }
}
