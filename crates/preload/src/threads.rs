//! Threads started while the reader asks for sites: the interposed `pthread_create` records the
//! creating stack in an entry of a fixed table, starts the thread through a trampoline that
//! notes the thread's kernel id and frees the entry when the start routine returns, and marks
//! the entry alive once the thread exists (a thread not yet scheduled is alive, id 0); the
//! interposed `pthread_exit` frees it too. A thread that ends otherwise (cancelled)
//! is found gone by the dump (`tgkill(pid, tid, 0)` fails), which frees its entry. Outside a
//! window `pthread_create` is passed straight through.
//!
//! Lock-free: an entry is claimed by compare-and-swap, written by its creator and then its
//! thread only. A forked child keeps only the entry of the thread that forked (the others'
//! threads do not exist in it).

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering::*};

use crate::opens::{self, line, map_zeroed, Stack};
use crate::real;
use crate::sites::MAX_FRAMES;
use crate::sys::Writer;

/// Threads traced at most at once.
const THREADS: usize = 1024;
const FREE: u64 = 0;
/// Claimed by a `pthread_create` whose thread has not started yet.
const CLAIMED: u64 = 1;
const ALIVE: u64 = 2;

#[repr(C)]
struct ThreadEntry {
    state: AtomicU64,
    start: AtomicU64,
    arg: AtomicU64,
    /// The kernel thread id, once started.
    tid: AtomicU64,
    /// `pthread_self()` of the thread, once started.
    me: AtomicU64,
    stack: Stack,
}

static TABLE: AtomicPtr<ThreadEntry> = AtomicPtr::new(core::ptr::null_mut());
/// Where the next claim starts looking.
static CURSOR: AtomicU64 = AtomicU64::new(0);

/// A thread's start routine. `C-unwind`: `pthread_exit` and cancellation unwind through it.
type Start = unsafe extern "C-unwind" fn(*mut c_void) -> *mut c_void;
type Create = unsafe extern "C" fn(
    *mut libc::pthread_t,
    *const libc::pthread_attr_t,
    Start,
    *mut c_void,
) -> c_int;

/// Interposed `pthread_create`: while tracing, the thread starts through the trampoline.
///
/// # Safety
/// As glibc's `pthread_create`.
#[no_mangle]
pub unsafe extern "C" fn pthread_create(
    out: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    start: Start,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the type is the C declaration of `pthread_create`.
    let Some(create) = (unsafe { real::PTHREAD_CREATE.get::<Create>() }) else {
        return libc::ENOSYS;
    };
    if let Some(e) = claim() {
        e.start.store(start as usize as u64, Relaxed);
        e.arg.store(arg as u64, Relaxed);
        let p = e as *const ThreadEntry as *mut c_void;
        // SAFETY: forwarded to the real function with our start routine, whose argument is the
        // claimed entry, alive for the process (the table is never unmapped).
        let rc = unsafe { create(out, attr, trampoline, p) };
        if rc != 0 {
            e.state.store(FREE, Release);
        } else {
            // Fails when the thread already ended (its entry is free, or someone else's now).
            let _ = e.state.compare_exchange(CLAIMED, ALIVE, Release, Relaxed);
        }
        return rc;
    }
    // SAFETY: forwarded unchanged to the real function.
    unsafe { create(out, attr, start, arg) }
}

/// Interposed `pthread_exit`: the calling thread's entry is freed first.
///
/// # Safety
/// As glibc's `pthread_exit`.
#[no_mangle]
pub unsafe extern "C-unwind" fn pthread_exit(value: *mut c_void) -> ! {
    type Exit = unsafe extern "C-unwind" fn(*mut c_void) -> !;
    if let Some(t) = table_if_mapped() {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as u64;
        if let Some(e) = t
            .iter()
            .find(|e| e.state.load(Acquire) != FREE && e.me.load(Relaxed) == me)
        {
            e.state.store(FREE, Release);
        }
    }
    // SAFETY: the type is the C declaration of `pthread_exit`; it does not return.
    match unsafe { real::PTHREAD_EXIT.get::<Exit>() } {
        // SAFETY: forwarded unchanged to the real function.
        Some(exit) => unsafe { exit(value) },
        // SAFETY: no real pthread_exit (never with glibc): end the thread with the raw syscall.
        None => unsafe {
            libc::syscall(libc::SYS_exit, 0);
            core::hint::unreachable_unchecked()
        },
    }
}

/// Starts a traced thread: notes who it is, runs the start routine, frees the entry.
unsafe extern "C-unwind" fn trampoline(p: *mut c_void) -> *mut c_void {
    // SAFETY: `p` is the entry `pthread_create` claimed, in the never-unmapped table.
    let e = unsafe { &*p.cast::<ThreadEntry>() };
    // SAFETY: `start` holds the caller's start routine, stored before the thread was created.
    let start: Start =
        unsafe { core::mem::transmute::<usize, Start>(e.start.load(Relaxed) as usize) };
    let arg = e.arg.load(Relaxed) as *mut c_void;
    // SAFETY: gettid and pthread_self have no preconditions.
    let (tid, me) = unsafe {
        (
            libc::syscall(libc::SYS_gettid) as u64,
            libc::pthread_self() as u64,
        )
    };
    e.tid.store(tid, Relaxed);
    e.me.store(me, Relaxed);
    // SAFETY: the caller's start routine with its own argument, as the real pthread_create would.
    let out = unsafe { start(arg) };
    e.state.store(FREE, Release);
    out
}

/// A free entry with this thread's stack, claimed, when tracing.
fn claim() -> Option<&'static ThreadEntry> {
    let (r, window) = opens::tracing()?;
    let mut ips = [0u64; MAX_FRAMES];
    let n = opens::walk(r, &mut ips)?;
    let t = table()?;
    for _ in 0..THREADS {
        let i = CURSOR.fetch_add(1, Relaxed) as usize % THREADS;
        let e = &t[i];
        if e.state
            .compare_exchange(FREE, CLAIMED, Acquire, Relaxed)
            .is_ok()
        {
            e.tid.store(0, Relaxed);
            e.me.store(0, Relaxed);
            e.stack.fill(&ips[..n], window);
            return Some(e);
        }
    }
    opens::DROPPED.fetch_add(1, Relaxed);
    None
}

fn table_if_mapped() -> Option<&'static [ThreadEntry]> {
    let t = TABLE.load(Acquire);
    // SAFETY: a live zero-filled mapping of THREADS entries (atomics only), never unmapped.
    (!t.is_null()).then(|| unsafe { core::slice::from_raw_parts(t, THREADS) })
}

/// The table, mapped on first use (a thread that loses the race unmaps its own).
fn table() -> Option<&'static [ThreadEntry]> {
    if TABLE.load(Acquire).is_null() {
        let size = THREADS * size_of::<ThreadEntry>();
        let fresh = map_zeroed(size)?.cast::<ThreadEntry>();
        let won = TABLE.compare_exchange(core::ptr::null_mut(), fresh, AcqRel, Acquire);
        if won.is_err() {
            // SAFETY: `fresh` is this call's own mapping, never published.
            unsafe { libc::munmap(fresh.cast(), size) };
        }
    }
    table_if_mapped()
}

/// True while kernel thread `tid` of this process exists.
fn alive(tid: u64) -> bool {
    // SAFETY: signal 0 checks existence only; getpid has no preconditions.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid as c_int, 0) == 0 }
}

/// Writes a `thread TID IP...` line per live thread started in `window`, and frees the entries
/// of threads that ended without the agent seeing it.
pub(crate) fn write(w: &mut Writer, window: u64) {
    let Some(t) = table_if_mapped() else {
        return;
    };
    let mut ips = [0u64; MAX_FRAMES];
    for e in t {
        if e.state.load(Acquire) != ALIVE {
            continue;
        }
        let tid = e.tid.load(Relaxed);
        if tid != 0 && !alive(tid) {
            let _ = e.state.compare_exchange(ALIVE, FREE, Relaxed, Relaxed);
            continue;
        }
        if let Some(n) = e.stack.read(window, &mut ips) {
            line(w, b"thread ", tid, &ips[..n]);
        }
    }
}

/// In a forked child (single-threaded): forget every thread but the one that forked.
pub(crate) fn reset_in_child() {
    let Some(t) = table_if_mapped() else {
        return;
    };
    // SAFETY: pthread_self and gettid have no preconditions.
    let (me, tid) = unsafe {
        (
            libc::pthread_self() as u64,
            libc::syscall(libc::SYS_gettid) as u64,
        )
    };
    for e in t {
        if e.state.load(Relaxed) != FREE && e.me.load(Relaxed) == me {
            e.tid.store(tid, Relaxed);
        } else {
            e.state.store(FREE, Relaxed);
        }
    }
}
