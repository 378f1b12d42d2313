//! Cost of one probe sample, robust to a busy machine: the minimum over many batches of the mean
//! time per sample in a batch (the least-disturbed batch approximates an idle machine).
//!
//! `cargo run --release -p leakproof-sample --example probe_cost`

use std::hint::black_box;
use std::time::Instant;

use leakproof_sample::{heap_stats, FdProbe, Probe, RssProbe, ThreadProbe, TrackingAlloc};

#[global_allocator]
static GLOBAL: TrackingAlloc = TrackingAlloc::system();

fn min_per_call(name: &str, batch: u32, mut f: impl FnMut()) {
    let mut best = f64::INFINITY;
    for _ in 0..300 {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / f64::from(batch));
    }
    println!("{name:<28} {:>8.3} us", best * 1e6);
}

fn main() {
    let mut rss = RssProbe::this_process().expect("rss probe");
    let mut fds = FdProbe::this_process().expect("fd probe");
    let mut threads = ThreadProbe::this_process().expect("thread probe");
    min_per_call("heap_stats", 1000, || {
        black_box(heap_stats());
    });
    min_per_call("rss (statm, pread)", 200, || {
        black_box(rss.sample().expect("rss"));
    });
    // The floor under the RSS probe: the same pread with no parsing, and an empty system call.
    let statm = std::fs::File::open("/proc/self/statm").expect("statm");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&statm);
    let mut buf = [0u8; 256];
    min_per_call("raw pread of statm (libc)", 200, || {
        // SAFETY: `fd` is open for the whole loop and `buf` is a valid, writable 256-byte buffer.
        black_box(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) });
    });
    // Any file read at all: the same pread of a small regular file (no /proc generation).
    let path = std::env::temp_dir().join(format!("leakproof-probe-cost-{}", std::process::id()));
    std::fs::write(&path, b"12345 678 90 1 0 2 0\n").expect("temp file");
    let regular = std::fs::File::open(&path).expect("temp file");
    let _ = std::fs::remove_file(&path);
    let rfd = std::os::fd::AsRawFd::as_raw_fd(&regular);
    min_per_call("raw pread of a regular file", 200, || {
        // SAFETY: `rfd` is open for the whole loop and `buf` is a valid, writable 256-byte buffer.
        black_box(unsafe { libc::pread(rfd, buf.as_mut_ptr().cast(), buf.len(), 0) });
    });
    min_per_call("getrusage (peak RSS only)", 200, || {
        // SAFETY: getrusage writes into the zeroed struct we pass.
        black_box(unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru)
        });
    });
    min_per_call("getppid (empty syscall)", 200, || {
        // SAFETY: getppid has no preconditions (a raw syscall, so glibc cannot cache it).
        black_box(unsafe { libc::syscall(libc::SYS_getppid) });
    });
    min_per_call("rss (open + read statm)", 200, || {
        black_box(std::fs::read("/proc/self/statm").expect("statm"));
    });
    min_per_call("fd count (getdents64)", 100, || {
        black_box(fds.sample().expect("fds"));
    });
    min_per_call("thread count (stat, pread)", 200, || {
        black_box(threads.sample().expect("threads"));
    });
    min_per_call("list_fds (readlink each)", 20, || {
        black_box(leakproof_sample::list_fds(None).expect("list"));
    });
    min_per_call("memory_detail (smaps_rollup)", 20, || {
        black_box(leakproof_sample::memory_detail(None).expect("smaps_rollup"));
    });
}
