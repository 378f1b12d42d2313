//! Cost of one sample from each probe (this process): the harness takes one per iteration.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use leakproof_sample::{
    heap_stats, list_fds, memory_detail, FdProbe, Probe, RssProbe, ThreadProbe, TreeProbe,
};

fn probes(c: &mut Criterion) {
    let mut g = c.benchmark_group("probe");
    g.bench_function("heap_stats", |b| b.iter(|| black_box(heap_stats())));
    let mut rss = RssProbe::this_process().expect("rss");
    g.bench_function("rss_statm_pread", |b| {
        b.iter(|| black_box(rss.sample().expect("rss")))
    });
    g.bench_function("rss_open_read_statm", |b| {
        b.iter(|| black_box(std::fs::read("/proc/self/statm").expect("statm")))
    });
    let mut fds = FdProbe::this_process().expect("fds");
    g.bench_function("fd_count_getdents", |b| {
        b.iter(|| black_box(fds.sample().expect("fds")))
    });
    let mut threads = ThreadProbe::this_process().expect("threads");
    g.bench_function("thread_count_stat_pread", |b| {
        b.iter(|| black_box(threads.sample().expect("threads")))
    });
    g.bench_function("list_fds_with_kinds", |b| {
        b.iter(|| black_box(list_fds(None).expect("list")))
    });
    g.bench_function("smaps_rollup_pss_uss", |b| {
        b.iter(|| black_box(memory_detail(None).expect("smaps_rollup")))
    });
    let mut tree = TreeProbe::new(std::process::id()).expect("tree");
    g.bench_function("tree_self_no_children", |b| {
        b.iter(|| black_box(tree.sample_tree().expect("tree")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = probes
}
criterion_main!(benches);
