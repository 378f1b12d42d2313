#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Criterion benchmark of `analyze` on 300, 10^4 and 10^6 samples.
//!
//! Run: `cargo bench -p leakproof-trend --bench analyze -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use leakproof_trend::{analyze, Config};

/// A deterministic noisy series: a 10 MB heap with a 30-sample warm-up, then `slope` units per sample
/// plus uniform jitter of +-512 units.
fn series(n: usize, slope: f64) -> Vec<f64> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let jitter = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1024.0;
            let warm = 1e5 * (1.0 - (-(i as f64) / 10.0).exp());
            (10e6 + warm + slope * i as f64 + jitter).round()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    for &n in &[300usize, 10_000, 1_000_000] {
        for (name, slope) in [("leak", 8.0), ("flat", 0.0)] {
            let s = series(n, slope);
            group.bench_with_input(BenchmarkId::new(name, n), &s, |b, s| {
                b.iter(|| analyze(black_box(s), &Config::heap()).map(|a| a.verdict))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
