//! leakproof-preload: an `LD_PRELOAD` agent that gives leakproof the exact live heap of any
//! dynamically linked C, C++ or Rust process, and its allocation sites on request.
//!
//! Built as `libleakproof_preload.so`. Preloaded with `LEAKPROOF_PRELOAD_DIR` set to a private
//! directory, it interposes `malloc`, `free`, `calloc`, `realloc`, `posix_memalign`,
//! `aligned_alloc`, `memalign`, `valloc` and `pvalloc`, forwards each to glibc's own
//! implementation (`__libc_malloc` and friends: no `dlsym` bootstrap problem), and counts live
//! bytes by usable size (`malloc_usable_size`) in per-thread slots of a small shared region,
//! `DIR/PID`, that leakproof maps and sums between iterations (`leakproof_sample::native`).
//! Without the variable it is a pure pass-through.
//!
//! When leakproof asks (a word in the region), the agent records the stack of every allocation
//! and, on a second request, writes the live sites to `DIR/PID.sites` (see `sites`). A forked
//! child publishes a region of its own and counts from zero; an exec'd child inherits the
//! preload and the variable and publishes anew.
//!
//! While sites are asked for, it also records the stack that opened each descriptor (`fds`:
//! `open`, `socket`, `accept`, `pipe`, `dup`, `eventfd`, `fopen` and the rest, forwarded to the
//! real functions found with `dlsym(RTLD_NEXT)`, see `real`) until it is closed, and the stack
//! that started each thread (`threads`: `pthread_create`) while it lives, and writes the ones
//! still open or alive beside each sites dump, as `DIR/PID.open` (see `opens`).
//!
//! Rules this crate keeps: nothing on the allocation path allocates, takes a lock (but site
//! capture's, which a forked child frees), makes a system call while counting, uses
//! thread-local storage (which may itself call `malloc` in a shared object), or can panic.
//!
//! The region layout is documented in `region.rs` and mirrored by `leakproof_sample::native`.
//!
//! Linux with glibc only; elsewhere the crate is empty.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use core::ffi::{c_int, c_void};

mod dump;
mod fds;
mod layout;
mod opens;
mod real;
mod region;
mod sites;
mod sys;
mod threads;

use region::{Region, Slot};

extern "C" {
    fn __libc_malloc(size: usize) -> *mut c_void;
    fn __libc_free(p: *mut c_void);
    fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
    fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
    fn __libc_valloc(size: usize) -> *mut c_void;
    fn __libc_pvalloc(size: usize) -> *mut c_void;
}

/// Usable size of a live block from glibc's malloc.
#[inline(always)]
fn usable(p: *mut c_void) -> u64 {
    // SAFETY: `p` is a non-null block returned by glibc's malloc family and not yet freed.
    unsafe { libc::malloc_usable_size(p) as u64 }
}

/// Counts the new block `p` (if any) on this thread; returns it.
#[inline(always)]
fn counted(p: *mut c_void) -> *mut c_void {
    if !p.is_null() {
        if let Some(r) = region::current() {
            count_new(r, r.slot(), p);
        }
    }
    p
}

#[inline(always)]
fn count_new(r: &Region, s: &Slot, p: *mut c_void) {
    let size = usable(p);
    r.count_alloc(s, size);
    if !sites::idle(r) {
        sites::after_alloc(r, s, p, size);
    }
}

/// Interposed `malloc`.
///
/// # Safety
/// As glibc's `malloc`.
#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded unchanged to glibc's implementation.
    counted(unsafe { __libc_malloc(size) })
}

/// Interposed `calloc`.
///
/// # Safety
/// As glibc's `calloc`.
#[no_mangle]
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded unchanged to glibc's implementation.
    counted(unsafe { __libc_calloc(n, size) })
}

/// Interposed `free`.
///
/// # Safety
/// As glibc's `free`: `p` is null or a live block from this malloc family.
#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    if !p.is_null() {
        if let Some(r) = region::current() {
            let (s, size) = (r.slot(), usable(p));
            if !sites::idle(r) {
                sites::before_free(r, s, p);
            }
            r.count_free(s, size);
        }
    }
    // SAFETY: forwarded unchanged to glibc's implementation.
    unsafe { __libc_free(p) }
}

/// Interposed `realloc`: a free of the old block and an allocation of the new one.
///
/// # Safety
/// As glibc's `realloc`.
#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    let Some(r) = region::current().filter(|_| !p.is_null()) else {
        // SAFETY: forwarded unchanged to glibc's implementation.
        return counted(unsafe { __libc_realloc(p, size) });
    };
    let (s, old) = (r.slot(), usable(p));
    let record = if sites::idle(r) {
        None
    } else {
        sites::before_free(r, s, p)
    };
    // SAFETY: forwarded unchanged to glibc's implementation.
    let q = unsafe { __libc_realloc(p, size) };
    if q.is_null() {
        if size == 0 {
            r.count_free(s, old); // glibc's realloc(p, 0) frees p
        } else if let Some(info) = record {
            sites::restore(r, s, p, info); // failed: p is still alive
        }
        return q;
    }
    r.count_free(s, old);
    count_new(r, s, q);
    q
}

/// Interposed `memalign`.
///
/// # Safety
/// As glibc's `memalign`.
#[no_mangle]
pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded unchanged to glibc's implementation.
    counted(unsafe { __libc_memalign(align, size) })
}

/// Interposed `aligned_alloc` (glibc's `memalign`).
///
/// # Safety
/// As glibc's `aligned_alloc`.
#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    // SAFETY: forwarded unchanged to glibc's implementation.
    counted(unsafe { __libc_memalign(align, size) })
}

/// Interposed `posix_memalign`.
///
/// # Safety
/// As glibc's `posix_memalign`: `out` is valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % size_of::<usize>() != 0 {
        return libc::EINVAL;
    }
    // SAFETY: forwarded to glibc's implementation with a valid alignment.
    let p = counted(unsafe { __libc_memalign(align, size) });
    if p.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { out.write(p) };
    0
}

/// Interposed `valloc`.
///
/// # Safety
/// As glibc's `valloc`.
#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded unchanged to glibc's implementation.
    counted(unsafe { __libc_valloc(size) })
}

/// Interposed `pvalloc`.
///
/// # Safety
/// As glibc's `pvalloc`.
#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    // SAFETY: forwarded unchanged to glibc's implementation.
    counted(unsafe { __libc_pvalloc(size) })
}

extern "C" fn on_load() {
    sites::find_own_range();
    real::resolve_all();
    region::start();
}

extern "C" fn on_unload() {
    region::finish();
}

/// Runs when the shared object is loaded (before the program's own constructors).
#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;

/// Runs at normal process exit.
#[used]
#[link_section = ".fini_array"]
static ON_UNLOAD: extern "C" fn() = on_unload;
