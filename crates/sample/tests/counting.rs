//! TrackingAlloc as the global allocator: exact counts on one thread, alloc_zeroed, realloc, large
//! alignments, zero-length collections.

use std::alloc::{GlobalAlloc, Layout};

use leakproof_sample::{heap_stats, is_tracking, HeapProbe, Probe, TrackingAlloc, Unit};

#[global_allocator]
static GLOBAL: TrackingAlloc = TrackingAlloc::system();

/// Runs without libtest (`harness = false`): libtest's own threads allocate while tests run (its
/// bookkeeping can lag under load), which would make exact counter comparisons flaky.
fn main() {
    counting_is_exact();
    println!("test counting::counting_is_exact ... ok");
}

fn counting_is_exact() {
    is_tracking_once_installed();
    exact_counts_for_one_vec();
    realloc_grow_shrink_and_zeroed();
    large_alignments_are_honoured_and_counted();
    empty_collections_do_not_allocate();
}

fn is_tracking_once_installed() {
    let _v = std::hint::black_box(vec![1u8; 10]);
    assert!(is_tracking());
    let s = HeapProbe::new().sample().expect("heap probe");
    assert_eq!(s.unit, Unit::Bytes);
    assert!(s.value > 0.0);
}

fn exact_counts_for_one_vec() {
    let before = heap_stats();
    let v = std::hint::black_box(vec![7u8; 1234]);
    let during = heap_stats();
    assert_eq!(during.live_bytes - before.live_bytes, 1234);
    assert_eq!(during.live_blocks - before.live_blocks, 1);
    assert_eq!(during.total_bytes - before.total_bytes, 1234);
    assert_eq!(during.total_blocks - before.total_blocks, 1);
    assert!(during.peak_live_bytes >= during.live_bytes);
    drop(v);
    let after = heap_stats();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
}

fn realloc_grow_shrink_and_zeroed() {
    let before = heap_stats();
    // SAFETY: the layouts are non-zero-sized and valid; each pointer is freed with its layout.
    unsafe {
        let l = Layout::from_size_align(100, 8).expect("layout");
        let p = GLOBAL.alloc_zeroed(l);
        assert!(!p.is_null());
        assert!(std::slice::from_raw_parts(p, 100).iter().all(|&b| b == 0));
        assert_eq!(heap_stats().live_bytes - before.live_bytes, 100);
        let p = GLOBAL.realloc(p, l, 100_000);
        assert!(!p.is_null());
        assert_eq!(heap_stats().live_bytes - before.live_bytes, 100_000);
        let l = Layout::from_size_align(100_000, 8).expect("layout");
        let p = GLOBAL.realloc(p, l, 10);
        assert_eq!(heap_stats().live_bytes - before.live_bytes, 10);
        assert_eq!(heap_stats().live_blocks - before.live_blocks, 1);
        GLOBAL.dealloc(p, Layout::from_size_align(10, 8).expect("layout"));
    }
    let after = heap_stats();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
    // realloc counts as a free plus an allocation in the totals.
    assert_eq!(after.total_blocks - before.total_blocks, 3);
    assert_eq!(after.total_bytes - before.total_bytes, 100 + 100_000 + 10);
}

fn large_alignments_are_honoured_and_counted() {
    let before = heap_stats();
    for align in [1usize, 16, 64, 4096, 8192, 65536] {
        let l = Layout::from_size_align(align * 3, align).expect("layout");
        // SAFETY: non-zero size, valid layout; freed with the same layout.
        unsafe {
            let p = GLOBAL.alloc(l);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0);
            GLOBAL.dealloc(p, l);
        }
    }
    assert_eq!(heap_stats().live_bytes, before.live_bytes);
}

fn empty_collections_do_not_allocate() {
    let before = heap_stats();
    let v: Vec<u64> = Vec::new();
    let s = String::new();
    std::hint::black_box((&v, &s));
    assert_eq!(heap_stats().total_blocks, before.total_blocks);
}
