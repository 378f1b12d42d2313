//! Rule 10 as properties: with `Config::warming` (the series of a runtime that may still be warming
//! up), growth that decelerates or spans a few pages is Inconclusive, never Leaking, while a steady
//! leak is still Leaking.

use leakproof_trend::{analyze, Config, Verdict};
use proptest::prelude::*;

mod common;

fn cfg() -> ProptestConfig {
    common::cases(96)
}

/// A runtime heap's warm-up: `total` bytes over `n` samples, rising like a square root (most of
/// it early), with +-`noise` bytes of jitter from a fixed pattern.
fn concave(n: usize, total: f64, noise: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let jitter = noise * (((i * 7919) % 13) as f64 / 6.0 - 1.0);
            4e6 + total * ((i + 1) as f64 / n as f64).sqrt() + jitter
        })
        .collect()
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn decelerating_growth_of_a_warming_runtime_is_never_leaking(
        n in 150usize..600,
        total in 20_000f64..2_000_000.0,
        noise in 0f64..200.0,
    ) {
        let series = concave(n, total, noise);
        let config = Config::heap().with_min_slope(16.0).with_warming(true);
        let a = analyze(&series, &config).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Leaking, "{}", a.reason);
        // The same series without the rule: the early part of a warm-up reads as a leak.
        let plain = analyze(&series, &Config::heap().with_min_slope(16.0)).unwrap();
        prop_assert!(plain.verdict != Verdict::Stable);
    }

    #[test]
    fn a_steady_leak_is_still_leaking_with_the_rule(
        n in 150usize..600,
        slope in 32f64..10_000.0,
        noise in 0f64..16.0,
    ) {
        let series: Vec<f64> = (0..n)
            .map(|i| 4e6 + slope * i as f64 + noise * (((i * 31) % 7) as f64 / 3.0 - 1.0))
            .collect();
        let config = Config::heap().with_min_slope(16.0).with_warming(true);
        let a = analyze(&series, &config).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
    }

    #[test]
    fn rss_growth_of_a_few_pages_is_not_proof(
        steps in 1usize..7,
        n in 200usize..800,
    ) {
        // `steps` pages gained at even intervals: a rank test calls it significant.
        let series: Vec<f64> = (0..n)
            .map(|i| 3e7 + 4096.0 * ((i * (steps + 1)) / n) as f64)
            .collect();
        let a = analyze(&series, &Config::rss().with_warming(true)).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Leaking, "{}", a.reason);
    }

    #[test]
    fn rss_growth_of_many_pages_at_a_steady_rate_is_leaking(n in 200usize..800, every in 2usize..6) {
        let series: Vec<f64> = (0..n).map(|i| 3e7 + 4096.0 * (i / every) as f64).collect();
        let a = analyze(&series, &Config::rss().with_warming(true)).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
    }
}

#[test]
fn a_long_creep_below_the_floor_is_stable_for_a_warming_runtime_only() {
    // node's V8 heap after full collections: ~100 B per request for thousands of requests.
    let series: Vec<f64> = (0..1500)
        .map(|i| 5.8e6 + 100.0 * i as f64 + 300.0 * (((i * 7919) % 13) as f64 / 6.0 - 1.0))
        .collect();
    let floor = Config::heap()
        .with_noise(leakproof_trend::NoiseModel::Noisy { quantum: 0.0 })
        .with_min_slope(128.0);
    let a = analyze(&series, &floor.clone().with_warming(true)).unwrap();
    assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
    assert!(a.reason.contains("wholly below the floor"), "{}", a.reason);
    let plain = analyze(&series, &floor).unwrap();
    assert_eq!(plain.verdict, Verdict::Inconclusive, "{}", plain.reason);
    // Too short a run proves nothing yet.
    let short = analyze(&series[..300], &floor.with_warming(true)).unwrap();
    assert_eq!(short.verdict, Verdict::Inconclusive, "{}", short.reason);
}
