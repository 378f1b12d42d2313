//! Benchmarks: symbolizing 10^4 distinct addresses of this binary, comparing snapshots of 10^5 sites.
#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`.

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use leakproof_diff::{compare, Frame, GroupBy, Site, Snapshot, Symbolizer};

/// 10^4 distinct addresses inside this binary's text section: function entry points plus offsets.
fn real_ips(n: usize) -> Vec<u64> {
    let bases: Vec<u64> = vec![
        compare as *const () as usize as u64,
        Snapshot::from_json as *const () as usize as u64,
        Snapshot::to_json as *const () as usize as u64,
        leakproof_diff::render_table as *const () as usize as u64,
        leakproof_diff::render_traceback as *const () as usize as u64,
        leakproof_diff::smaps::parse as *const () as usize as u64,
        leakproof_diff::smaps::diff as *const () as usize as u64,
        Snapshot::filter as *const () as usize as u64,
        synthetic as *const () as usize as u64,
        real_ips as *const () as usize as u64,
    ];
    // Functions may sit next to each other: keep adding offsets until n distinct addresses.
    let mut set = BTreeSet::new();
    let mut k = 0u64;
    while set.len() < n {
        for b in &bases {
            set.insert(b + k);
        }
        k += 1;
    }
    set.into_iter().take(n).collect()
}

/// Two snapshots of `n` sites each: 8 frames per site (allocator, std, a dependency, user code),
/// 1000 distinct user lines; the new one has grown at a tenth of the sites.
fn synthetic(n: usize) -> (Snapshot, Snapshot) {
    let site = |i: usize, bytes: u64| Site {
        frames: vec![
            Frame::at("__rust_alloc", "/rustc/h/library/alloc/src/alloc.rs", 90),
            Frame::at(
                "alloc::raw_vec::finish_grow",
                "/rustc/h/library/alloc/src/raw_vec.rs",
                481,
            ),
            Frame::at(
                "dep::Interner::intern",
                "/u/.cargo/registry/src/idx/dep-1.0.0/src/lib.rs",
                (i % 7) as u32,
            ),
            Frame::at(
                &format!("app::module{}::handler", i % 100),
                &format!("src/module{}.rs", i % 100),
                (i % 1000) as u32,
            ),
            Frame::at("app::dispatch", "src/dispatch.rs", (i % 13) as u32),
            Frame::at("app::serve", "src/main.rs", (i / 1000) as u32),
            Frame::at("std::rt::lang_start", "/rustc/h/library/std/src/rt.rs", 1),
            Frame::at("main", "src/main.rs", 1),
        ],
        bytes,
        blocks: bytes / 16 + 1,
    };
    let old = Snapshot::from_sites((0..n).map(|i| site(i, 100 + i as u64 % 50)).collect());
    let new = Snapshot::from_sites(
        (0..n)
            .map(|i| site(i, 100 + i as u64 % 50 + if i % 10 == 0 { 400 } else { 0 }))
            .collect(),
    );
    (old, new)
}

fn bench_symbolize(c: &mut Criterion) {
    let ips = real_ips(10_000);
    assert_eq!(ips.len(), 10_000);
    let mut check = Symbolizer::new();
    let resolved = ips
        .iter()
        .filter(|&&ip| check.resolve(ip, true).iter().any(|f| f.line.is_some()))
        .count();
    eprintln!(
        "{resolved} of {} addresses resolve to a source line",
        ips.len()
    );
    // The rest are padding between functions; most must resolve for the figure to mean anything.
    assert!(resolved * 10 >= ips.len() * 8, "only {resolved} resolve");
    let mut g = c.benchmark_group("symbolize");
    g.sample_size(10);
    g.bench_function("10k_distinct_ips_cold_cache", |b| {
        b.iter_batched(
            Symbolizer::new,
            |mut s| {
                for &ip in &ips {
                    black_box(s.resolve(ip, true));
                }
                s
            },
            BatchSize::PerIteration,
        )
    });
    let mut warm = Symbolizer::new();
    for &ip in &ips {
        warm.resolve(ip, true);
    }
    g.bench_function("10k_distinct_ips_warm_cache", |b| {
        b.iter(|| {
            for &ip in &ips {
                black_box(warm.resolve(ip, true));
            }
        })
    });
    g.finish();
}

fn bench_compare(c: &mut Criterion) {
    let (old, new) = synthetic(100_000);
    let mut g = c.benchmark_group("compare_100k_sites");
    g.sample_size(10);
    for gb in [GroupBy::Line, GroupBy::Function, GroupBy::Traceback] {
        g.bench_function(gb.to_string(), |b| {
            b.iter(|| black_box(compare(&old, &new, gb, false)))
        });
    }
    g.bench_function("line_cumulative", |b| {
        b.iter(|| black_box(compare(&old, &new, GroupBy::Line, true)))
    });
    g.finish();
}

criterion_group!(benches, bench_symbolize, bench_compare);
criterion_main!(benches);
