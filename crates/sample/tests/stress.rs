//! 8 threads of mixed alloc / alloc_zeroed / realloc / dealloc with random sizes and alignments up to
//! 8192; the live counters return exactly to their start, without and with site capture, and every
//! captured block is forgotten when it is freed.

use std::alloc::{GlobalAlloc, Layout};

use leakproof_sample::{capture, heap_stats, TrackingAlloc};

#[global_allocator]
static GLOBAL: TrackingAlloc = TrackingAlloc::system();

const THREADS: usize = 8;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_layout(rng: &mut Rng) -> Layout {
    // Mostly small blocks, sometimes up to 64 KiB: sizes 1..64 KiB on a log scale.
    let bits = 4 + rng.below(13);
    let size = 1 + rng.below(1 << bits) as usize;
    let align = 1usize << rng.below(14); // 1 ..= 8192
    Layout::from_size_align(size, align).expect("valid layout")
}

struct Block {
    ptr: *mut u8,
    layout: Layout,
    tag: u8,
}

/// Runs `ops` random operations over a working set of up to 64 blocks and frees what is left.
fn churn(seed: u64, ops: usize) {
    let mut rng = Rng(seed | 1);
    let mut live: Vec<Block> = Vec::with_capacity(64);
    for _ in 0..ops {
        let op = rng.below(4);
        if live.len() >= 64 || (op == 3 && !live.is_empty()) {
            let i = rng.below(live.len() as u64) as usize;
            let b = live.swap_remove(i);
            // SAFETY: `b.ptr` was allocated by GLOBAL with `b.layout` and not freed yet.
            unsafe {
                assert_eq!(*b.ptr, b.tag, "block contents were overwritten");
                GLOBAL.dealloc(b.ptr, b.layout);
            }
        } else if op == 2 && !live.is_empty() {
            let i = rng.below(live.len() as u64) as usize;
            let new = random_layout(&mut rng);
            let new = Layout::from_size_align(new.size(), live[i].layout.align()).expect("layout");
            let b = &mut live[i];
            // SAFETY: `b.ptr` was allocated by GLOBAL with `b.layout`; the new size is non-zero.
            let p = unsafe { GLOBAL.realloc(b.ptr, b.layout, new.size()) };
            assert!(!p.is_null());
            assert_eq!(p as usize % new.align(), 0);
            // SAFETY: realloc keeps the first byte (every size is >= 1).
            unsafe { assert_eq!(*p, b.tag) };
            b.ptr = p;
            b.layout = new;
        } else {
            let layout = random_layout(&mut rng);
            let zeroed = op == 1;
            // SAFETY: non-zero size, valid layout.
            let p = unsafe {
                if zeroed {
                    GLOBAL.alloc_zeroed(layout)
                } else {
                    GLOBAL.alloc(layout)
                }
            };
            assert!(!p.is_null());
            assert_eq!(p as usize % layout.align(), 0);
            let tag = rng.next() as u8;
            // SAFETY: p points to layout.size() >= 1 writable bytes.
            unsafe {
                if zeroed {
                    assert_eq!(*p.add(layout.size() - 1), 0);
                }
                *p = tag;
            }
            live.push(Block {
                ptr: p,
                layout,
                tag,
            });
        }
    }
    for b in live {
        // SAFETY: allocated by GLOBAL with this layout, not yet freed.
        unsafe { GLOBAL.dealloc(b.ptr, b.layout) };
    }
}

fn run_threads(ops: usize) {
    let threads: Vec<_> = (0..THREADS)
        .map(|t| std::thread::spawn(move || churn(0x9e37_79b9 * (t as u64 + 1), ops)))
        .collect();
    for t in threads {
        t.join().expect("stress thread panicked");
    }
}

/// Runs without libtest (`harness = false`): libtest's own threads allocate while tests run (its
/// bookkeeping can lag under load), which would make exact counter comparisons flaky.
fn main() {
    counters_return_to_start_without_and_with_capture();
    println!("test stress::counters_return_to_start_without_and_with_capture ... ok");
    capture_switched_on_and_off_while_threads_free_each_others_blocks();
    println!(
        "test stress::capture_switched_on_and_off_while_threads_free_each_others_blocks ... ok"
    );
}

fn counters_return_to_start_without_and_with_capture() {
    // Warm up whatever thread spawning initializes lazily, so it does not count as a difference.
    run_threads(10);
    let before = heap_stats();
    run_threads(1_000_000);
    let after = heap_stats();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
    assert!(after.total_blocks - before.total_blocks >= (THREADS * 1_000_000 / 2) as u64);
    assert!(after.peak_live_bytes >= before.live_bytes);

    capture::clear();
    let guard = capture::start();
    let before = heap_stats();
    run_threads(100_000);
    let after = heap_stats();
    let snap = capture::snapshot();
    drop(guard);
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
    // Every block the stress threads captured was freed, so none of them is still recorded; what
    // remains (if anything) belongs to this thread, which allocated only the snapshot itself.
    assert_eq!(
        snap.total_blocks,
        0,
        "stale sites: {:?}",
        snap.sites.first()
    );
    assert_eq!(capture::tracked_blocks(), 0);
}

/// Allocates vectors and swaps them through a shared pool, so that most blocks are freed by
/// another thread than the one that allocated them.
fn churn_exchanging(seed: u64, ops: usize, pool: &std::sync::Mutex<Vec<Vec<u8>>>) {
    let mut rng = Rng(seed | 1);
    for _ in 0..ops {
        let v = vec![rng.next() as u8; 1 + rng.below(600) as usize];
        let mut pool = pool.lock().expect("pool");
        if pool.len() < 256 {
            pool.push(v);
        } else {
            let i = rng.below(pool.len() as u64) as usize;
            let other = std::mem::replace(&mut pool[i], v);
            drop(pool);
            drop(other); // most likely allocated by another thread, maybe while capture was on
        }
    }
}

/// Capture starts and stops every few hundred microseconds while threads allocate and free each
/// other's blocks: every recorded block's free must still find its record (threads switch between
/// the counting fast path and the capture path as capture comes and goes), and the counters stay
/// exact.
fn capture_switched_on_and_off_while_threads_free_each_others_blocks() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::Duration;

    capture::clear();
    let before = heap_stats();
    let pool = Mutex::new(Vec::with_capacity(512));
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u64)
            .map(|t| {
                let pool = &pool;
                scope.spawn(move || churn_exchanging(0x51ed_2701 * (t + 1), 200_000, pool))
            })
            .collect();
        let toggler = scope.spawn(|| {
            let mut most_recorded = 0;
            while !done.load(Ordering::Relaxed) {
                let guard = capture::start();
                std::thread::sleep(Duration::from_micros(300));
                most_recorded = most_recorded.max(capture::snapshot().total_blocks);
                drop(guard);
                std::thread::sleep(Duration::from_micros(300));
            }
            most_recorded
        });
        for w in workers {
            w.join().expect("worker panicked");
        }
        done.store(true, Ordering::Relaxed);
        let most_recorded = toggler.join().expect("toggler");
        assert!(most_recorded > 0, "capture recorded the workers' blocks");
    });
    drop(pool.into_inner().expect("pool"));
    let after = heap_stats();
    assert_eq!(after.live_bytes, before.live_bytes);
    assert_eq!(after.live_blocks, before.live_blocks);
    let snap = capture::snapshot();
    assert_eq!(
        snap.total_blocks,
        0,
        "records outlived their blocks: {:?}",
        snap.sites.first()
    );
    assert_eq!(capture::tracked_blocks(), 0);
}
