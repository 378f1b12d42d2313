//! `fork` while another thread is capturing must not deadlock the child. The inner allocator here is
//! a lock-free bump allocator: with glibc malloc, `fork` itself waits for malloc's locks and so
//! tends to catch the other thread outside the capture tables; this one does not, so without the
//! `pthread_atfork` handlers the child would regularly inherit a held table lock.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakproof_sample::{capture, TrackingAlloc};

const ARENA: usize = 1 << 30; // untouched pages cost nothing

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; ARENA]>);

// SAFETY: disjoint ranges are handed out with an atomic bump pointer.
unsafe impl Sync for Arena {}

static MEMORY: Arena = Arena(UnsafeCell::new([0; ARENA]));
static NEXT: AtomicUsize = AtomicUsize::new(0);

struct Bump;

// SAFETY: each allocation is a distinct, suitably aligned range of MEMORY (or null when exhausted);
// memory is never reused, so dealloc has nothing to do.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let base = MEMORY.0.get() as usize;
        let mut cur = NEXT.load(Ordering::Relaxed);
        loop {
            let start = (base + cur).next_multiple_of(l.align()) - base;
            let end = start + l.size();
            if end > ARENA {
                return std::ptr::null_mut();
            }
            match NEXT.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => cur = now,
            }
        }
    }
    unsafe fn dealloc(&self, _p: *mut u8, _l: Layout) {}
}

#[global_allocator]
static GLOBAL: TrackingAlloc<Bump> = TrackingAlloc::new(Bump);

fn main() {
    fork_while_another_thread_captures();
    println!("test fork_capture::fork_while_another_thread_captures ... ok");
}

fn fork_while_another_thread_captures() {
    let guard = capture::start();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let busy = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let v: Vec<Box<u64>> = (0..16).map(Box::new).collect();
            std::hint::black_box(v);
        }
    });
    for round in 0..100 {
        // SAFETY: the child only allocates through GLOBAL, snapshots and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let v = std::hint::black_box(vec![0u8; 100]);
            let snap = capture::snapshot(); // takes every stack-table lock
            drop(v);
            // SAFETY: ends the child.
            unsafe { libc::_exit(i32::from(snap.sites.is_empty())) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut status = 0;
            // SAFETY: pid is our child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                assert!(
                    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                    "round {round}"
                );
                break;
            }
            if Instant::now() > deadline {
                // SAFETY: pid is our child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("forked child deadlocked in round {round}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().expect("busy thread");
    drop(guard);
}
