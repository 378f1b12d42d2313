//! An undecided series reports its estimate: a series too short for a verdict still has the
//! Theil–Sen slope of its samples and an interval that covers the true slope at least as often as
//! its confidence says; below 5 samples (at 95%) it has none, and says so. Never a zero it did not
//! measure.

use leakproof_trend::{analyze, Config, Verdict, Warmup};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod common;

fn cfg() -> ProptestConfig {
    common::cases(96)
}

/// The median of all pairwise slopes of `y` against its index: the Theil–Sen slope, computed here
/// independently of the crate.
fn median_pairwise_slope(y: &[f64]) -> f64 {
    let mut slopes = Vec::new();
    for i in 0..y.len() {
        for j in i + 1..y.len() {
            slopes.push((y[j] - y[i]) / (j - i) as f64);
        }
    }
    slopes.sort_by(f64::total_cmp);
    let m = slopes.len();
    if m % 2 == 1 {
        slopes[m / 2]
    } else {
        slopes[m / 2 - 1] + (slopes[m / 2] - slopes[m / 2 - 1]) / 2.0
    }
}

fn preset(which: u8) -> Config {
    match which {
        0 => Config::heap(),
        1 => Config::rss(),
        _ => Config::counts(),
    }
}

proptest! {
    #![proptest_config(cfg())]

    /// A series too short for a verdict has the Theil–Sen slope of its samples inside its interval
    /// from 5 samples on, and neither below; its reason says which.
    #[test]
    fn a_short_series_has_its_estimate_from_five_samples(
        s in proptest::collection::vec(-1e9f64..1e9, 0..30), which in 0u8..3,
    ) {
        let config = preset(which);
        prop_assume!(s.len() < config.min_samples);
        let a = analyze(&s, &config).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Inconclusive);
        prop_assert_eq!(a.slope.is_some(), s.len() >= 5, "{}", a.reason);
        prop_assert_eq!(a.slope.is_some(), a.slope_ci.is_some());
        match (a.slope, a.slope_ci) {
            (Some(slope), Some((lo, hi))) => {
                let expected = median_pairwise_slope(&s);
                prop_assert!((slope - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                    "{} vs {}", slope, expected);
                prop_assert!(lo <= slope && slope <= hi, "{:?}", a.slope_ci);
                prop_assert!(a.reason.contains("; so far the slope is "), "{}", a.reason);
            }
            _ => prop_assert!(a.reason.ends_with("too few for an estimate of the slope"), "{}", a.reason),
        }
    }

    /// Samples that only ever rise are never reported as a slope of zero: the estimate and its whole
    /// interval lie above zero (the 20-sample watch of a growing heap).
    #[test]
    fn a_short_rising_series_has_a_positive_estimate(
        start in 0f64..1e7, steps in proptest::collection::vec(1f64..1e6, 5..29),
    ) {
        let s: Vec<f64> = steps.iter().scan(start, |v, d| { *v += d.round(); Some(*v) }).collect();
        let a = analyze(&s, &Config::rss()).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Inconclusive);
        let (lo, _) = a.slope_ci.unwrap();
        prop_assert!(a.slope.unwrap() > 0.0 && lo > 0.0, "{:?} {:?}", a.slope, a.slope_ci);
    }

    /// The interval of a short series covers the true slope at least as often as its confidence
    /// says: of 1,000 noisy lines of 5..29 samples, at least 92% are covered at 95% (a 95% interval
    /// falls below 92% in 1,000 draws with probability under 1e-5).
    #[test]
    fn a_short_interval_covers_the_true_slope(seed in any::<u64>(), slope in -1e4f64..1e4,
                                              sigma in 1f64..1e4) {
        let mut rng = StdRng::seed_from_u64(seed);
        let config = Config::heap().with_min_samples(30);
        let mut covered = 0;
        for _ in 0..1000 {
            let n = rng.gen_range(5..30);
            // Gaussian noise from the sum of 12 uniforms.
            let s: Vec<f64> = (0..n)
                .map(|t| {
                    let z: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
                    1e6 + slope * t as f64 + sigma * z
                })
                .collect();
            let (lo, hi) = analyze(&s, &config).unwrap().slope_ci.unwrap();
            covered += usize::from(lo <= slope && slope <= hi);
        }
        prop_assert!(covered >= 920, "covered {} of 1000", covered);
    }

    /// A fixed warm-up is left out of the estimate: the slope is that of the samples after it.
    #[test]
    fn the_estimate_leaves_out_a_fixed_warmup(w in 0usize..10, n in 0usize..30, slope in 1u32..1000) {
        let config = Config::counts().with_warmup(Warmup::Fixed(w));
        let s: Vec<f64> = (0..w + n)
            .map(|t| if t < w { 1e6 } else { f64::from(slope) * t as f64 })
            .collect();
        prop_assume!(n < config.min_samples);
        let a = analyze(&s, &config).unwrap();
        prop_assert_eq!(a.slope, (n >= 5).then_some(f64::from(slope)), "{}", a.reason);
    }
}

#[test]
fn the_reason_of_a_short_series_gives_its_estimate() {
    let s: Vec<f64> = (0..21).map(|t| 36_000.0 + 230_000.0 * t as f64).collect();
    let a = analyze(&s, &Config::rss()).unwrap();
    assert_eq!(a.slope, Some(230_000.0));
    assert_eq!(a.slope_ci, Some((230_000.0, 230_000.0)));
    assert_eq!(a.more_samples, Some(9));
    assert_eq!(
        a.reason,
        "only 21 samples; at least 30 are needed (30 after a warm-up of 0); so far the slope is \
         230000 units/sample (95% CI 230000..230000)"
    );
    let a = analyze(&s[..4], &Config::rss()).unwrap();
    assert_eq!((a.slope, a.slope_ci), (None, None));
    assert_eq!(
        a.reason,
        "only 4 samples; at least 30 are needed (30 after a warm-up of 0); too few for an estimate \
         of the slope"
    );
}

/// The coverage of a short series' interval by its length, published in docs/detection.md:
/// `cargo test -p leakproof-trend --release --test estimate -- --ignored --nocapture coverage_table`.
#[test]
#[ignore]
fn coverage_table() {
    let mut rng = StdRng::seed_from_u64(7);
    let config = Config::heap().with_min_samples(30);
    println!("| samples | covered (of 20,000) |\n|---:|---:|");
    for n in [5usize, 6, 8, 10, 15, 20, 29] {
        let mut covered = 0;
        for _ in 0..20_000 {
            let s: Vec<f64> = (0..n)
                .map(|t| {
                    let z: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
                    1e6 + 3.0 * t as f64 + 100.0 * z
                })
                .collect();
            let (lo, hi) = analyze(&s, &config).unwrap().slope_ci.unwrap();
            covered += usize::from(lo <= 3.0 && 3.0 <= hi);
        }
        println!("| {n} | {:.1}% |", covered as f64 / 200.0);
    }
}
