//! Allocator overhead on the loop (a working set of 256 live blocks of 8..512 bytes, each
//! operation freeing one and allocating a new one), calling each allocator's `GlobalAlloc` methods
//! directly so all of them run in one process: the system allocator, an out-of-line control (the
//! same calls, not inlined), TrackingAlloc counting, TrackingAlloc with site capture, and dhat-rs
//! heap profiling. The stand-alone `alloc_loop_*` examples measure the same loop with each one
//! installed as the global allocator (see docs/performance.md).
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leakproof_sample::{capture, TrackingAlloc};

const OPS: u64 = 10_000;

struct WorkingSet {
    blocks: Vec<(*mut u8, usize)>,
    x: u64,
}

impl WorkingSet {
    fn new() -> Self {
        WorkingSet {
            blocks: vec![(std::ptr::null_mut(), 0); 256],
            x: 0x9e37_79b9_7f4a_7c15,
        }
    }

    #[inline(never)]
    fn churn<A: GlobalAlloc>(&mut self, a: &A, ops: u64) {
        for _ in 0..ops {
            self.x ^= self.x << 13;
            self.x ^= self.x >> 7;
            self.x ^= self.x << 17;
            let size = 8 + (self.x % 505) as usize;
            let slot = ((self.x >> 20) % 256) as usize;
            let (old, old_size) = self.blocks[slot];
            // SAFETY: every block was allocated by `a` with align 1 and its recorded size; sizes
            // are non-zero.
            unsafe {
                if !old.is_null() {
                    a.dealloc(old, Layout::from_size_align_unchecked(old_size, 1));
                }
                let p = a.alloc(Layout::from_size_align_unchecked(size, 1));
                assert!(!p.is_null());
                p.write_bytes(self.x as u8, size); // like vec![x; size]
                self.blocks[slot] = (black_box(p), size);
            }
        }
    }

    fn free_all<A: GlobalAlloc>(&mut self, a: &A) {
        for (p, size) in self.blocks.iter_mut() {
            if !p.is_null() {
                // SAFETY: allocated by `a` with this layout.
                unsafe { a.dealloc(*p, Layout::from_size_align_unchecked(*size, 1)) };
                *p = std::ptr::null_mut();
            }
        }
    }
}

struct OutOfLine;

// SAFETY: pure delegation to System.
unsafe impl GlobalAlloc for OutOfLine {
    #[inline(never)]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    #[inline(never)]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(p, l) }
    }
}

fn bench_one<A: GlobalAlloc>(c: &mut Criterion, group: &str, name: &str, a: &A) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(OPS));
    let mut ws = WorkingSet::new();
    ws.churn(a, 1000);
    g.bench_function(name, |b| b.iter(|| ws.churn(a, OPS)));
    ws.free_all(a);
    g.finish();
}

fn counting(c: &mut Criterion) {
    bench_one(c, "counting", "system", &System);
    bench_one(c, "counting", "out_of_line_control", &OutOfLine);
    bench_one(c, "counting", "tracking_alloc", &TrackingAlloc::system());
}

fn capture_vs_dhat(c: &mut Criterion) {
    bench_one(c, "capture", "system", &System);
    {
        let _guard = capture::start();
        bench_one(
            c,
            "capture",
            "tracking_alloc_capture",
            &TrackingAlloc::system(),
        );
        capture::use_platform_unwinder(true);
        bench_one(
            c,
            "capture",
            "tracking_alloc_capture_platform_unwinder",
            &TrackingAlloc::system(),
        );
        capture::use_platform_unwinder(false);
    }
    capture::clear();
    let out = std::env::temp_dir().join("leakproof-dhat-criterion.json");
    let profiler = dhat::Profiler::builder().file_name(out).build();
    bench_one(c, "capture", "dhat", &dhat::Alloc);
    drop(profiler);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = counting, capture_vs_dhat
}
criterion_main!(benches);
