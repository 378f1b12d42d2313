//! Few-cycle saw-tooths (rule 3, few cycles): a measured saw-tooth of 3 to 7 full cycles whose
//! cycle baselines agree on a flat level is Stable; one whose baseline rises visibly never is; the
//! rule only turns what would be Inconclusive into Stable, never a Leaking series.
//!
//! The table in docs/detection.md ("Few cycles"):
//! `cargo test -p leakproof-trend --release --test few_cycles -- --ignored --nocapture few_cycles_table`.

use leakproof_trend::{analyze, Config, Verdict};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod common;

const PAGE: f64 = 4096.0;

fn cfg() -> ProptestConfig {
    common::cases(96)
}

/// A GC-like RSS saw-tooth: `full` whole cycles of `period` samples between a partial first and last
/// one, filling linearly by `amp` bytes, rising by `leak` bytes per sample, under uniform noise of
/// ±`noise` bytes drawn from `seed`, rounded to pages.
fn sawtooth(full: usize, period: usize, amp: f64, leak: f64, noise: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let phase = rng.gen_range(1..period);
    let n = (full + 1) * period + rng.gen_range(1..period);
    (0..n)
        .map(|t| {
            let x = ((t + phase) % period) as f64 / period as f64;
            let jitter = if noise > 0.0 {
                rng.gen_range(-noise..=noise)
            } else {
                0.0
            };
            ((5e7 + amp * x + leak * t as f64 + jitter) / PAGE).round() * PAGE
        })
        .collect()
}

/// The 95% half-width of the baselines' slope from their cycles' noise alone: each baseline the
/// intercept of a cycle's line (standard error about 2σ/√period), `full` of them `period` apart.
fn half_width(full: usize, period: usize, noise: f64) -> f64 {
    let sigma = (noise * noise / 3.0 + PAGE * PAGE / 12.0).sqrt();
    let k = full as f64;
    1.96 * (2.0 * sigma / (period as f64).sqrt())
        / (period as f64 * (k * (k * k - 1.0) / 12.0).sqrt())
}

proptest! {
    #![proptest_config(cfg())]

    /// Regular cycles of 60..80 samples with a flat baseline and noise of at most 1 KiB (and page
    /// rounding) are Stable from 4 cycles on. (3 cycles prove it only when they happen to agree:
    /// their scatter counts 12.7 times at 95%.)
    #[test]
    fn a_few_regular_flat_cycles_are_stable(full in 4usize..8, period in 60usize..80,
                                            pages in 128u32..2048, noise in 0f64..1024.0, seed in any::<u64>()) {
        let s = sawtooth(full, period, f64::from(pages) * PAGE, 0.0, noise, seed);
        let a = analyze(&s, &Config::rss()).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
    }

    /// A baseline rising by the floor plus 5 half-widths (the most few cycles could show) is never
    /// Stable, at any noise of up to 16 KiB.
    #[test]
    fn a_few_cycles_rising_visibly_are_never_stable(full in 3usize..8, period in 40usize..80,
                                                     pages in 128u32..2048, noise in 0f64..16384.0,
                                                     above in 5f64..40.0, seed in any::<u64>()) {
        let floor = Config::rss().min_slope.max(5e7 * Config::rss().min_relative_slope);
        let leak = floor + above * half_width(full, period, noise);
        let s = sawtooth(full, period, f64::from(pages) * PAGE, leak, noise, seed);
        let a = analyze(&s, &Config::rss()).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Stable, "{}", a.reason);
    }
}

/// Stable and false-Stable counts by number of full cycles, published in docs/detection.md.
#[test]
#[ignore]
fn few_cycles_table() {
    println!("| full cycles | flat: Stable | flat: Leaking | leak 2x floor: Stable | leak 4x floor: Stable |");
    println!("|---:|---:|---:|---:|---:|");
    for full in 3..=8usize {
        let mut row = Vec::new();
        for (mult, want) in [
            (0.0, Verdict::Stable),
            (0.0, Verdict::Leaking),
            (2.0, Verdict::Stable),
            (4.0, Verdict::Stable),
        ] {
            let count = (0..300u64)
                .filter(|&seed| {
                    let mut rng = StdRng::seed_from_u64(seed * 7919 + full as u64);
                    let period = rng.gen_range(40..=80usize);
                    let noise = rng.gen_range(4096.0..16384.0f64);
                    let amp = (rng
                        .gen_range((512.0f64 * 1024.0).ln()..=(8.0f64 * 1_048_576.0).ln()))
                    .exp();
                    let s = sawtooth(full, period, amp, mult * 40.96, noise, seed);
                    analyze(&s, &Config::rss()).unwrap().verdict == want
                })
                .count();
            row.push(format!("{count}"));
        }
        println!("| {full} | {} |", row.join(" | "));
    }
    println!("(300 series per row)");
}
