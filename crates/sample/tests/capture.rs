//! Allocation-site capture: exact per-site bytes and blocks, frees on other threads, stopping with
//! live blocks, realloc, and stacks that resolve to the allocating function.

use leakproof_sample::capture::{self, RawSite};
use leakproof_sample::TrackingAlloc;

#[global_allocator]
static GLOBAL: TrackingAlloc = TrackingAlloc::system();

#[inline(never)]
#[allow(clippy::vec_box)] // one heap block per element is the point
fn leaky_function(n: usize) -> Vec<Box<[u8; 100]>> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(Box::new([0u8; 100]));
    }
    v
}

#[inline(never)]
fn other_function() -> Vec<u8> {
    vec![1u8; 555]
}

fn names(site: &RawSite) -> Vec<String> {
    let mut out = Vec::new();
    for &ip in &site.ips {
        backtrace::resolve(
            (ip as usize).wrapping_sub(1) as *mut std::ffi::c_void,
            |s| {
                if let Some(n) = s.name() {
                    out.push(n.to_string());
                }
            },
        );
    }
    out
}

fn site_of<'a>(sites: &'a [RawSite], function: &str) -> Vec<&'a RawSite> {
    sites
        .iter()
        .filter(|s| names(s).iter().any(|n| n.contains(function)))
        .collect()
}

/// Runs without libtest (`harness = false`): libtest's own threads allocate while tests run (its
/// bookkeeping can lag under load), which would make exact counter comparisons flaky.
fn main() {
    capture(); // the default unwinder (cached CFI on x86_64 Linux)
    println!("test capture::capture ... ok");
    capture::use_platform_unwinder(true);
    capture();
    capture::use_platform_unwinder(false);
    println!("test capture::capture_with_platform_unwinder ... ok");
}

fn capture() {
    off_by_default_and_nothing_recorded();
    exact_sites_and_cross_thread_frees();
    stopping_keeps_live_blocks_until_freed();
    realloc_moves_the_record();
    same_stack_on_many_threads();
    threads_already_counting_see_capture_start_and_stop();
}

fn off_by_default_and_nothing_recorded() {
    assert!(!capture::is_capturing());
    let v = leaky_function(3);
    assert_eq!(capture::snapshot().total_blocks, 0);
    drop(v);
}

fn exact_sites_and_cross_thread_frees() {
    capture::clear();
    let g = capture::start();
    assert!(capture::is_capturing());
    let boxes = leaky_function(10);
    let other = other_function();
    let snap = capture::snapshot();
    drop(g);
    assert!(!capture::is_capturing());

    let leaky = site_of(&snap.sites, "leaky_function");
    let leaky_bytes: u64 = leaky.iter().map(|s| s.bytes).sum();
    let leaky_blocks: u64 = leaky.iter().map(|s| s.blocks).sum();
    // 10 boxes of 100 bytes, plus the Vec's buffer (10 pointers).
    assert_eq!(leaky_blocks, 11, "{snap:#?}");
    assert_eq!(leaky_bytes, 1000 + 10 * 8);
    assert_eq!(
        leaky.len(),
        2,
        "the boxes and the buffer are two distinct stacks"
    );
    // The capture machinery's own frames are trimmed from every stack.
    for site in &snap.sites {
        let n = names(site);
        assert!(
            !n.iter().any(|f| f.contains("leakproof_sample::capture")),
            "{n:#?}"
        );
    }
    let other_sites = site_of(&snap.sites, "other_function");
    assert_eq!(other_sites.len(), 1);
    assert_eq!((other_sites[0].bytes, other_sites[0].blocks), (555, 1));
    assert!(snap
        .sites
        .iter()
        .all(|s| !s.ips.is_empty() && s.ips.len() <= capture::MAX_FRAMES));
    assert_eq!(
        snap.total_bytes,
        snap.sites.iter().map(|s| s.bytes).sum::<u64>()
    );

    // Freed on another thread (capture is off by now: the records must still go).
    std::thread::spawn(move || drop(boxes))
        .join()
        .expect("thread");
    let snap = capture::snapshot();
    assert!(
        site_of(&snap.sites, "leaky_function").is_empty(),
        "{snap:#?}"
    );
    assert_eq!(site_of(&snap.sites, "other_function").len(), 1);
    drop(other);
    assert_eq!(capture::snapshot().total_blocks, 0);
    assert_eq!(capture::tracked_blocks(), 0);
}

fn stopping_keeps_live_blocks_until_freed() {
    capture::clear();
    let g = capture::start();
    let kept = other_function();
    drop(g);
    let after_stop = std::hint::black_box(other_function()); // not captured
    let snap = capture::snapshot();
    assert_eq!((snap.total_bytes, snap.total_blocks), (555, 1));
    drop(after_stop);
    assert_eq!(capture::snapshot().total_blocks, 1);
    drop(kept);
    assert_eq!(capture::snapshot().total_blocks, 0);
}

fn realloc_moves_the_record() {
    capture::clear();
    let g = capture::start();
    let mut v: Vec<u8> = Vec::with_capacity(16);
    v.extend_from_slice(&[1; 16]);
    v.reserve_exact(100_000); // realloc: the record follows the new block and size
    let snap = capture::snapshot();
    assert_eq!(snap.total_blocks, 1, "{snap:#?}");
    assert_eq!(snap.total_bytes, v.capacity() as u64);
    drop(g);
    v.shrink_to_fit(); // realloc with capture off: the record is dropped, not moved
    assert_eq!(capture::snapshot().total_blocks, 0);
    drop(v);
    // Nested guards: capture stays on until the last one goes.
    let a = capture::start();
    let b = capture::start();
    drop(a);
    assert!(capture::is_capturing());
    drop(b);
    assert!(!capture::is_capturing());
}

/// Threads allocating from one stack update different counter lanes; a snapshot sums them, frees on
/// another thread subtract, and `clear` forgets the stack ids each thread remembers.
fn same_stack_on_many_threads() {
    for round in 0..2 {
        capture::clear();
        let g = capture::start();
        let held: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| leaky_function(50)))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let snap = capture::snapshot();
        let leaky = site_of(&snap.sites, "leaky_function");
        let blocks: u64 = leaky.iter().map(|s| s.blocks).sum();
        let bytes: u64 = leaky.iter().map(|s| s.bytes).sum();
        assert_eq!(blocks, 4 * 51, "round {round}: {snap:#?}");
        assert_eq!(bytes, 4 * (50 * 100 + 50 * 8), "round {round}");
        assert!(
            leaky.iter().any(|s| (s.bytes, s.blocks) == (20_000, 200)),
            "the boxes of all four threads share one stack: {leaky:#?}"
        );
        // This thread now allocates from a stack it remembers; after the first round's `clear`,
        // the remembered id must not be reused.
        let mine = other_function();
        let snap = capture::snapshot();
        let other_sites = site_of(&snap.sites, "other_function");
        assert_eq!(other_sites.len(), 1, "round {round}");
        assert_eq!((other_sites[0].bytes, other_sites[0].blocks), (555, 1));
        drop(g);
        drop(held); // freed on this thread, allocated on the others
        drop(mine);
        assert!(site_of(&capture::snapshot().sites, "leaky_function").is_empty());
        assert!(site_of(&capture::snapshot().sites, "other_function").is_empty());
    }
}

/// A thread that has been allocating on the fast path (its slot undiverted) before capture starts:
/// its allocations during capture are recorded, and after capture stops its free of a block
/// recorded on another thread still removes the record.
fn threads_already_counting_see_capture_start_and_stop() {
    use std::sync::mpsc;
    capture::clear();
    let (to_worker, work) = mpsc::channel::<Option<Vec<Box<[u8; 100]>>>>();
    let (to_main, done) = mpsc::channel::<Vec<Box<[u8; 100]>>>();
    let worker = std::thread::spawn(move || {
        // Fast path before capture: allocate and free a while.
        for _ in 0..1000 {
            drop(std::hint::black_box(vec![0u8; 64]));
        }
        to_main.send(Vec::new()).expect("main");
        while let Ok(msg) = work.recv() {
            match msg {
                None => to_main.send(leaky_function(7)).expect("main"),
                Some(blocks) => {
                    drop(blocks);
                    to_main.send(Vec::new()).expect("main");
                }
            }
        }
    });
    done.recv().expect("worker warmed up");
    let g = capture::start();
    to_worker.send(None).expect("worker");
    let from_worker = done.recv().expect("worker allocated");
    let mine = leaky_function(5);
    drop(g);
    let snap = capture::snapshot();
    let blocks: u64 = site_of(&snap.sites, "leaky_function")
        .iter()
        .map(|s| s.blocks)
        .sum();
    assert_eq!(blocks, 8 + 6, "the worker's blocks are recorded: {snap:#?}");
    // The worker frees this thread's recorded blocks after capture stopped.
    to_worker.send(Some(mine)).expect("worker");
    done.recv().expect("worker freed");
    drop(from_worker);
    assert!(site_of(&capture::snapshot().sites, "leaky_function").is_empty());
    drop(to_worker);
    worker.join().expect("worker");
    drop(done); // the channels' own blocks were recorded too
    assert_eq!(capture::tracked_blocks(), 0, "{:#?}", capture::snapshot());
}
