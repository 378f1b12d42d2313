//! The benchmark loop on `TrackingAlloc` (counting; with `capture` as an argument, site capture on).

#[path = "common/alloc_loop.rs"]
mod alloc_loop;

use leakproof_sample::{capture, heap_stats, TrackingAlloc};

#[global_allocator]
static GLOBAL: TrackingAlloc = TrackingAlloc::system();

fn main() {
    let args = alloc_loop::args();
    let guard = args.capture.then(capture::start);
    alloc_loop::run(
        if args.capture {
            "tracking+capture"
        } else {
            "tracking"
        },
        &args,
    );
    drop(guard);
    let s = heap_stats();
    eprintln!(
        "live_bytes={} total_blocks={}",
        s.live_bytes, s.total_blocks
    );
}
