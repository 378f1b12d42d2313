//! Edge cases of the allocator's life: allocation before `main`, threads that exit with counts
//! pending, more threads than counter slots, cross-thread frees, allocation in thread-local
//! destructors, and `fork` (`fork` during capture on another thread: tests/fork_capture.rs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use leakproof_sample::{capture, heap_stats, is_tracking, TrackingAlloc};

#[global_allocator]
static GLOBAL: TrackingAlloc = TrackingAlloc::system();

static BEFORE_MAIN_LIVE: AtomicU64 = AtomicU64::new(u64::MAX);

extern "C" fn allocate_before_main() {
    let v = vec![1u8; 777];
    BEFORE_MAIN_LIVE.store(heap_stats().live_bytes, Ordering::SeqCst);
    std::mem::forget(v); // stays live: visible from the test
}

// Runs before `main` (and before libtest allocates anything).
#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = allocate_before_main;

/// Runs without libtest (`harness = false`): libtest's own threads allocate while tests run (its
/// bookkeeping can lag under load), which would make exact counter comparisons flaky.
fn main() {
    lifecycle();
    println!("test lifecycle::lifecycle ... ok");
}

fn lifecycle() {
    before_main_allocation_was_counted();
    threads_exiting_with_pending_counts_and_cross_thread_frees();
    more_threads_than_slots_and_slot_reuse();
    allocation_in_thread_local_destructors();
    fork_child_counts_and_captures();
}

fn before_main_allocation_was_counted() {
    assert!(is_tracking());
    assert!(BEFORE_MAIN_LIVE.load(Ordering::SeqCst) >= 777);
}

fn threads_exiting_with_pending_counts_and_cross_thread_frees() {
    // Warm up what the first spawns initialize lazily (std's process-wide thread bookkeeping).
    for _ in 0..4 {
        std::thread::spawn(|| vec![0u8; 10].len())
            .join()
            .expect("thread");
    }
    let before = heap_stats();
    // Each thread allocates blocks and exits; the main thread frees them (cross-thread frees make
    // the exited threads' slots net-positive and the main thread's net-negative).
    let handles: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || (0..100).map(|j| vec![0u8; 10 + i + j]).collect::<Vec<_>>())
        })
        .collect();
    let mut kept = Vec::new();
    for h in handles {
        kept.push(h.join().expect("thread"));
    }
    let mid = heap_stats();
    let expect: u64 = (0..16u64)
        .map(|i| (0..100u64).map(|j| 10 + i + j).sum::<u64>())
        .sum();
    // Plus the 16 outer Vec<Vec<u8>> buffers (100 * 24 bytes each) and `kept`'s own buffer.
    let outer = 16 * 100 * 24 + (kept.capacity() * 24) as u64;
    assert_eq!(mid.live_bytes - before.live_bytes, expect + outer);
    // Blocks allocated on this thread and freed on others.
    let (tx, rx) = mpsc::channel::<Vec<Vec<u8>>>();
    let freer = std::thread::spawn(move || {
        for v in rx {
            drop(v);
        }
    });
    for v in kept.drain(..) {
        tx.send(v).expect("send");
    }
    drop(tx);
    freer.join().expect("freer");
    drop(kept);
    let after = heap_stats();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
}

fn more_threads_than_slots_and_slot_reuse() {
    let before = heap_stats();
    // 300 live at once: more than the 256 slots, so some share the overflow slot.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = std::sync::Arc::new(Mutex::new(go_rx));
    let handles: Vec<_> = (0..300)
        .map(|i| {
            let go = go_rx.clone();
            std::thread::spawn(move || {
                let v = vec![0u8; 100 + i];
                let _ = go.lock().map(|g| g.recv());
                v.len()
            })
        })
        .collect();
    for _ in 0..300 {
        go_tx.send(()).expect("send");
    }
    let total: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(total, (0..300).map(|i| 100 + i).sum::<usize>());
    drop(go_rx);
    drop(go_tx);
    // Exited threads' counts stay exact after their slots are returned (the slot count itself is
    // checked by a unit test in src/alloc.rs).
    for i in 0..1000 {
        std::thread::spawn(move || std::hint::black_box(vec![i as u8; 16]).len())
            .join()
            .expect("thread");
    }
    let after = heap_stats();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
}

static FROM_TLS_DTORS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

struct AllocatesOnDrop(#[allow(dead_code)] Vec<u8>);
impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        let temporary = vec![1u8; 4096]; // allocated and freed during TLS destruction
        let kept = vec![2u8; 333 + temporary.len() % 2]; // allocated here, freed by the main thread
        if let Ok(mut v) = FROM_TLS_DTORS.lock() {
            v.push(kept);
        }
    }
}

thread_local! {
    static HOLDER: std::cell::RefCell<Option<AllocatesOnDrop>> = const { std::cell::RefCell::new(None) };
}

fn allocation_in_thread_local_destructors() {
    FROM_TLS_DTORS.lock().expect("lock").reserve(64);
    let before = heap_stats();
    for _ in 0..8 {
        std::thread::spawn(|| {
            HOLDER.with(|h| *h.borrow_mut() = Some(AllocatesOnDrop(vec![0u8; 50])))
        })
        .join()
        .expect("thread");
    }
    let mid = heap_stats();
    assert_eq!(mid.live_bytes - before.live_bytes, 8 * 333);
    FROM_TLS_DTORS.lock().expect("lock").clear();
    let after = heap_stats();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
}

/// Forks; the child runs `child` and exits with its return value. Fails after 20 s (a deadlock).
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: fork has no preconditions; the child only runs `child` and then _exit, never returning
    // into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(99);
        // SAFETY: _exit ends the child immediately, skipping the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut status = 0;
        // SAFETY: pid is our child; status is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128
            };
        }
        if Instant::now() > deadline {
            // SAFETY: pid is our child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("forked child hung (deadlock after fork?)");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn fork_child_counts_and_captures() {
    let code = in_child(|| {
        let before = heap_stats();
        let v = std::hint::black_box(vec![0u8; 5000]);
        if heap_stats().live_bytes - before.live_bytes != 5000 {
            return 1;
        }
        drop(v);
        if heap_stats().live_bytes != before.live_bytes {
            return 2;
        }
        capture::clear();
        let g = capture::start();
        let kept = std::hint::black_box(vec![0u8; 4321]);
        drop(g);
        let snap = capture::snapshot();
        if snap.total_bytes != 4321 || snap.total_blocks != 1 {
            return 3;
        }
        drop(kept);
        if capture::snapshot().total_blocks != 0 {
            return 4;
        }
        0
    });
    assert_eq!(code, 0, "child check {code} failed");
}
