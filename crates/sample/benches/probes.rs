//! Cost of one sample from each probe: the harness takes one per iteration. Each process probe is
//! measured through both backends side by side (`/proc` fast path, `sysinfo`), on this process and
//! on a three-process tree (`sh` with two `sleep`s).
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use leakproof_sample::{
    heap_stats, list_fds, memory_detail, Backend, FdProbe, Probe, RssProbe, ThreadProbe, TreeProbe,
};

const BACKENDS: [(&str, Backend); 2] = [("proc", Backend::Proc), ("sysinfo", Backend::Sysinfo)];

fn probes(c: &mut Criterion) {
    let me = std::process::id();
    let mut g = c.benchmark_group("probe");
    g.bench_function("heap_stats", |b| b.iter(|| black_box(heap_stats())));
    for (name, backend) in BACKENDS {
        let mut rss = RssProbe::with_backend(me, backend).expect("rss");
        g.bench_function(format!("rss_{name}"), |b| {
            b.iter(|| black_box(rss.sample().expect("rss")))
        });
        let mut fds = FdProbe::with_backend(me, backend).expect("fds");
        g.bench_function(format!("fd_count_{name}"), |b| {
            b.iter(|| black_box(fds.sample().expect("fds")))
        });
        let mut threads = ThreadProbe::with_backend(me, backend).expect("threads");
        g.bench_function(format!("thread_count_{name}"), |b| {
            b.iter(|| black_box(threads.sample().expect("threads")))
        });
    }
    g.bench_function("rss_open_read_statm", |b| {
        b.iter(|| black_box(std::fs::read("/proc/self/statm").expect("statm")))
    });
    g.bench_function("list_fds_with_kinds", |b| {
        b.iter(|| black_box(list_fds(None).expect("list")))
    });
    g.bench_function("smaps_rollup_pss_uss", |b| {
        b.iter(|| black_box(memory_detail(None).expect("smaps_rollup")))
    });
    g.finish();
}

/// A tree of three processes in its own process group, killed when the benchmark ends.
fn trees(c: &mut Criterion) {
    let mut sh = std::process::Command::new("sh")
        .args(["-c", "sleep 600 & sleep 600 & wait"])
        .process_group(0)
        .spawn()
        .expect("spawn sh");
    let root = sh.id();
    std::thread::sleep(Duration::from_millis(300)); // both sleeps started
    let mut g = c.benchmark_group("tree3");
    // `drive` looks for new descendants on every sample, `watch` at most every 250 ms.
    for (rescan, every) in [("rescan_each", Duration::ZERO), ("kept", Duration::MAX)] {
        for (name, backend) in BACKENDS {
            let mut tree = TreeProbe::with_backend(root, every, backend).expect("tree");
            assert_eq!(tree.sample().expect("tree").processes, 3);
            g.bench_function(format!("{name}_{rescan}"), |b| {
                b.iter(|| black_box(tree.sample().expect("tree")))
            });
        }
    }
    g.finish();
    // SAFETY: signals the process group spawned above.
    unsafe { libc::kill(-(root as i32), libc::SIGKILL) };
    let _ = sh.wait();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = probes, trees
}
criterion_main!(benches);
