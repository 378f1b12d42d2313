//! The behaviours of issue 3 (list 1–7) as properties. The same behaviours are classes of the labelled
//! suite (tests/labelled.rs), which measures their error rates.

use leakproof_trend::{analyze, Config, NoiseModel, TrendError, Verdict, Warmup};
use proptest::prelude::*;

mod common;

fn cfg() -> ProptestConfig {
    common::cases(96)
}

/// Exact warm-up: rises by `height` over about `len` samples, then joins the trend.
fn warm(t: usize, len: usize, height: f64) -> f64 {
    if len == 0 {
        return 0.0;
    }
    (height * (1.0 - (-(t.min(len) as f64) / (len as f64 / 4.0)).exp())).round()
}

/// Integer-valued series of several shapes, for the invariance properties.
fn shaped() -> impl Strategy<Value = Vec<f64>> {
    (
        0u8..6,
        20usize..400,
        0u32..1_000_000,
        1u32..5000,
        2usize..40,
        any::<u64>(),
    )
        .prop_map(|(kind, n, level, size, k, seed)| {
            let mut x = seed | 1;
            let mut noise = move |amp: f64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x % 2001) as f64 / 1000.0 - 1.0) * amp
            };
            let level = f64::from(level);
            let size = f64::from(size);
            (0..n)
                .map(|t| {
                    let v = match kind {
                        0 => size * t as f64,
                        1 => size * t.min(n / 3) as f64,
                        2 => size * (t / k) as f64,
                        3 => size * (t % k) as f64,
                        4 => noise(size),
                        _ => size * (t as f64).sqrt() + noise(size / 10.0),
                    };
                    (level + v).round()
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(cfg())]

    /// 1. Steady linear growth over >= 100 post-warm-up samples of exact data is Leaking, the slope within
    /// 1% of the truth and the interval containing it.
    #[test]
    fn linear_exact_growth_is_leaking_with_its_slope(
        level in 0u32..10_000_000, slope in 8u32..1_000_000, post in 100usize..400,
        w in 0usize..50, wh in 0u32..200,
    ) {
        let (level, slope) = (f64::from(level), f64::from(slope));
        let height = f64::from(wh) * slope;
        let s: Vec<f64> = (0..w + post)
            .map(|t| level + warm(t, w, height) + if t >= w { slope * (t - w) as f64 } else { 0.0 })
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
        prop_assert!((a.slope.unwrap() - slope).abs() <= 0.01 * slope, "{}", a.reason);
        prop_assert!(a.slope_ci.unwrap().0 <= slope && slope <= a.slope_ci.unwrap().1, "{}", a.reason);
    }

    /// 2. Constant, or constant plus bounded white noise, is Stable.
    #[test]
    fn bounded_noise_is_stable(level in 0u32..100_000_000, amp in 0u32..256, n in 200usize..800,
                               seed in any::<u64>()) {
        let mut x = seed | 1;
        let s: Vec<f64> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                f64::from(level) + ((x % (2 * u64::from(amp) + 1)) as f64 - f64::from(amp))
            })
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
    }

    /// 2. A buffer that grows and is cleared (period under a third of the window) is Stable; with periodic
    /// GC-like drops to a noisy baseline it is never Leaking.
    #[test]
    fn sawtooth_is_stable(level in 0u32..10_000_000, fill in 8u32..100_000, n in 150usize..1000,
                          period_frac in 0.0f64..1.0, phase in 0usize..1000) {
        let period = 3 + ((n / 3 - 4) as f64 * period_frac) as usize;
        let s: Vec<f64> = (0..n)
            .map(|t| f64::from(level) + f64::from(fill) * ((t + phase) % period) as f64)
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Stable, "period {}: {}", period, a.reason);
    }

    /// 3. Warm-up then plateau: never Leaking; Inconclusive while the flat stretch is shorter than the
    /// growth; Stable once it is 1.5 times as long (the documented margin).
    #[test]
    fn warmup_then_plateau(fill in 50usize..300, flat_frac in 0.0f64..3.0, height in 1000u32..10_000_000,
                           level in 0u32..10_000_000, concave in any::<bool>()) {
        let flat = 10 + (flat_frac * fill as f64) as usize;
        let s: Vec<f64> = (0..fill + flat)
            .map(|t| {
                let x = t.min(fill) as f64 / fill as f64;
                let shape = if concave { 1.0 - (1.0 - x) * (1.0 - x) } else { x };
                f64::from(level) + (f64::from(height) * shape).round()
            })
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Leaking, "{}", a.reason);
        if flat < fill {
            prop_assert_eq!(a.verdict, Verdict::Inconclusive, "{}", a.reason);
            prop_assert!(a.more_samples.is_some());
        }
        if flat as f64 >= 1.5 * fill as f64 + 1.0 {
            prop_assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
        }
    }

    /// 3. `more_samples` is honest for a plateau still being proven: extending the flat stretch by that
    /// many samples makes it Stable.
    #[test]
    fn more_samples_proves_a_plateau(fill in 50usize..300, flat_frac in 0.0f64..1.4, height in 1000u32..10_000_000,
                                     level in 0u32..10_000_000) {
        let flat = 10 + (flat_frac * fill as f64) as usize;
        let value = |t: usize| f64::from(level) + (f64::from(height) * t.min(fill) as f64 / fill as f64).round();
        let s: Vec<f64> = (0..fill + flat).map(value).collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assume!(a.verdict == Verdict::Inconclusive);
        let more = a.more_samples.unwrap();
        prop_assert!(more <= 2 * fill, "{} more for a fill of {}", more, fill);
        let longer: Vec<f64> = (0..fill + flat + more).map(value).collect();
        let b = analyze(&longer, &Config::heap()).unwrap();
        prop_assert_eq!(b.verdict, Verdict::Stable, "{} then {}", a.reason, b.reason);
    }

    /// 3. A bounded cache that resized once, late (after a plateau more than twice as long as its fill):
    /// never Leaking (once the new level has lasted 10 samples), Stable once it has outlasted the old one.
    #[test]
    fn a_single_late_resize_is_never_leaking(fill in 10usize..100, old_frac in 2.05f64..6.0,
                                             new_len in 10usize..800, step in 1u32..1_000_000) {
        let old = (old_frac * fill as f64) as usize + 1;
        let at = fill + old;
        let s: Vec<f64> = (0..at + new_len)
            .map(|t| 1e6 + 1000.0 * t.min(fill) as f64 + if t >= at { f64::from(step) } else { 0.0 })
            .collect();
        prop_assume!(s.len() >= 20);
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Leaking, "{}", a.reason);
        if new_len > old && new_len >= 10 {
            prop_assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
        }
    }

    /// 3./4. A staircase that doubles (steps at 1, 2, 4, ..., 256, ...) is never Stable, at any length.
    #[test]
    fn doubling_staircase_is_never_stable(n in 20usize..1100, step in 1u32..1_000_000,
                                          level in 0u32..10_000_000) {
        let s: Vec<f64> = (0..n)
            .map(|t| f64::from(level) + f64::from(step) * (usize::BITS - t.leading_zeros()) as f64)
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Stable, "{}", a.reason);
    }

    /// 4. Regular staircases of any step size, and leaks every k-th sample, are never Stable. (At least two
    /// steps in the window: a single step after a flat start is a one-off resize, Stable once the new
    /// level has outlasted the old one.)
    #[test]
    fn staircases_are_never_stable(k in 1usize..60, step in 1u32..1_000_000, n in 100usize..600,
                                   phase in 0usize..60, level in 0u32..10_000_000) {
        prop_assume!((n - 1 + phase) / k - phase / k >= 2);
        let s: Vec<f64> = (0..n)
            .map(|t| f64::from(level) + f64::from(step) * ((t + phase) / k) as f64)
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Stable, "{}", a.reason);
    }

    /// 5. Growth that only slows (logarithmic, square root) is not Stable within the window.
    #[test]
    fn slowing_growth_is_not_stable(a in 100.0f64..1e6, n in 100usize..1000, log in any::<bool>(),
                                    level in 0u32..10_000_000) {
        let s: Vec<f64> = (0..n)
            .map(|t| {
                let x = t as f64;
                f64::from(level) + (a * if log { (1.0 + x).ln() } else { x.sqrt() }).round()
            })
            .collect();
        let an = analyze(&s, &Config::heap()).unwrap();
        prop_assert_ne!(an.verdict, Verdict::Stable, "{}", an.reason);
    }

    /// 2b. A GC-like saw-tooth on RSS (4 KiB pages, +-4..16 KiB of noise) whose baseline is flat over at
    /// least 10 full cycles of 40..80 samples is Stable, proven by its cycle baselines; the same with its
    /// baseline rising visibly (the floor plus 4 to 32 times h, the 95% half-width of a slope from one
    /// point per cycle with that noise) is never Stable.
    #[test]
    fn rss_sawtooth_is_stable_on_a_flat_baseline(period in 40usize..=80, full in 10usize..=16,
                                                 extra in 0.0f64..1.0, noise in 4096.0f64..16384.0,
                                                 amp_mib in 0.5f64..8.0, phase in 0.0f64..1.0,
                                                 above in 4.0f64..32.0, seed in any::<u64>()) {
        let n = (full + 1) * period + (extra * period as f64) as usize;
        let phase = (phase * period as f64) as usize;
        let sigma = (noise * noise / 3.0 + 4096.0 * 4096.0 / 12.0).sqrt();
        let cycles = (n / period) as f64;
        let h = 1.96 * sigma * 12f64.sqrt() / (cycles.powf(1.5) * period as f64);
        let series = |leak: f64| -> Vec<f64> {
            let mut x = seed | 1;
            (0..n)
                .map(|t| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let u = (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                    let fill = ((t + phase) % period) as f64 / period as f64;
                    let v = 5e7 + amp_mib * 1_048_576.0 * fill + leak * t as f64 + u * noise;
                    (v / 4096.0).round() * 4096.0
                })
                .collect()
        };
        let cfg = Config::rss();
        let a = analyze(&series(0.0), &cfg).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
        let floor = cfg.min_slope.max(cfg.min_relative_slope * 5e7);
        let b = analyze(&series(floor + above * h), &cfg).unwrap();
        prop_assert_ne!(b.verdict, Verdict::Stable, "{}", b.reason);
    }

    /// 6. Page-quantized RSS with noise of a few pages and bursts returned: never Leaking without a trend;
    /// Leaking with >= 2 pages per 100 samples over 1000 samples.
    #[test]
    fn rss_series(base in 5_000u32..50_000, noise in 1.0f64..4.0, pages_per_100 in 2.0f64..64.0,
                  burst_every in 30usize..200, seed in any::<u64>()) {
        let mut x = seed | 1;
        let mut unif = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut gen = |slope_pages: f64| -> Vec<f64> {
            (0..1000)
                .map(|t| {
                    let n: f64 = (0..4).map(|_| unif() * 2.0 - 1.0).sum::<f64>() * noise * 0.87;
                    let burst = if t % burst_every < 3 { 32.0 } else { 0.0 };
                    (f64::from(base) + n + burst + slope_pages * t as f64).round() * 4096.0
                })
                .collect()
        };
        let flat = gen(0.0);
        let a = analyze(&flat, &Config::rss()).unwrap();
        prop_assert_ne!(a.verdict, Verdict::Leaking, "{}", a.reason);
        let leak = gen(pages_per_100 / 100.0);
        let a = analyze(&leak, &Config::rss()).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
    }

    /// 7. Adding a constant does not change the verdict (with absolute floors only).
    #[test]
    fn shift_invariance(s in shaped(), c in -1_000_000_000i64..1_000_000_000) {
        let config = Config::heap().with_min_relative_slope(0.0);
        let shifted: Vec<f64> = s.iter().map(|v| v + c as f64).collect();
        let a = analyze(&s, &config).unwrap();
        let b = analyze(&shifted, &config).unwrap();
        prop_assert_eq!(a.verdict, b.verdict, "{} / {}", a.reason, b.reason);
        prop_assert_eq!(a.warmup_end, b.warmup_end);
    }

    /// 7. Scaling the series and the absolute thresholds by the same positive factor does not change the
    /// verdict (powers of two, so that the scaled series is exact).
    #[test]
    fn scale_invariance(s in shaped(), e in -10i32..20, counts in any::<bool>()) {
        let f = 2f64.powi(e);
        let base = if counts { Config::counts() } else { Config::heap() };
        let scaled_cfg = base.clone().with_min_slope(base.min_slope * f);
        let scaled: Vec<f64> = s.iter().map(|v| v * f).collect();
        let a = analyze(&s, &base).unwrap();
        let b = analyze(&scaled, &scaled_cfg).unwrap();
        prop_assert_eq!(a.verdict, b.verdict, "{} / {}", a.reason, b.reason);
        prop_assert!((a.slope.unwrap() * f - b.slope.unwrap()).abs() <= 1e-9 * b.slope.unwrap().abs().max(1e-300));
    }

    /// 7. A decreasing series is never Leaking.
    #[test]
    fn decreasing_is_never_leaking(mut s in shaped()) {
        s.sort_by(|a, b| b.total_cmp(a));
        for config in [Config::heap(), Config::rss(), Config::counts()] {
            let a = analyze(&s, &config).unwrap();
            prop_assert_ne!(a.verdict, Verdict::Leaking, "{}", a.reason);
        }
    }

    /// 7. Series shorter than the documented minimum are Inconclusive, with how many samples are missing.
    #[test]
    fn short_series_are_inconclusive(s in proptest::collection::vec(-1e12f64..1e12, 0..20)) {
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_eq!(a.verdict, Verdict::Inconclusive);
        prop_assert_eq!(a.more_samples, Some(20 - s.len()));
    }

    /// 7. NaN or infinite samples are a typed error naming the first one.
    #[test]
    fn non_finite_is_an_error(mut s in proptest::collection::vec(-1e9f64..1e9, 1..300), at in any::<prop::sample::Index>(),
                              which in 0u8..3) {
        let i = at.index(s.len());
        s[i] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][usize::from(which)];
        prop_assert_eq!(analyze(&s, &Config::heap()), Err(TrendError::NonFinite { index: i }));
    }

    /// 7. No input panics: arbitrary f64 (NaN, infinities, subnormals, huge), any preset, any warm-up.
    #[test]
    fn no_input_panics(s in proptest::collection::vec(any::<f64>(), 0..400), preset in 0u8..3, w in 0usize..50,
                       fixed in any::<bool>()) {
        let mut config = [Config::heap(), Config::rss(), Config::counts()][usize::from(preset)].clone();
        if fixed {
            config = config.with_warmup(Warmup::Fixed(w));
        }
        let _ = analyze(&s, &config);
    }

    /// 7. No configuration panics either: any field values are either rejected with a typed error or used.
    #[test]
    fn no_config_panics(s in proptest::collection::vec(-1e6f64..1e6, 0..200),
                        confidence in any::<f64>(), min_slope in any::<f64>(), rel in any::<f64>(),
                        quantum in prop_oneof![Just(None), any::<f64>().prop_map(Some)],
                        fixed in prop_oneof![Just(None), any::<usize>().prop_map(Some), (0usize..300).prop_map(Some)],
                        min_samples in prop_oneof![any::<usize>(), 0usize..50],
                        margin in prop_oneof![any::<f64>(), 1.0f64..1e300],
                        min_plateau in prop_oneof![any::<usize>(), 0usize..50]) {
        let config = Config {
            confidence,
            min_slope,
            min_relative_slope: rel,
            noise: quantum.map_or(NoiseModel::Exact, |quantum| NoiseModel::Noisy { quantum }),
            warmup: fixed.map_or(Warmup::Auto, Warmup::Fixed),
            min_samples,
            plateau_margin: margin,
            min_plateau,
            warming: false,
        };
        match analyze(&s, &config) {
            Ok(a) => prop_assert_eq!(a.samples, s.len()),
            Err(e) => prop_assert!(matches!(e, TrendError::InvalidConfig { .. }), "{:?}", e),
        }
    }

    /// 7. No finite input panics either, including extreme magnitudes, and the result is well formed.
    #[test]
    fn finite_inputs_give_well_formed_results(s in proptest::collection::vec(
        prop_oneof![-1e300f64..1e300, -1e3f64..1e3, Just(0.0), Just(f64::MAX), Just(f64::MIN)], 0..400)) {
        let a = analyze(&s, &Config::heap()).unwrap();
        prop_assert_eq!(a.samples, s.len());
        prop_assert!(a.warmup_end <= s.len());
        prop_assert_eq!(a.slope.is_some(), a.slope_ci.is_some());
        if let (Some(slope), Some((lo, hi))) = (a.slope, a.slope_ci) {
            prop_assert!(lo <= slope && slope <= hi, "{:?}", a.slope_ci);
        }
        prop_assert_eq!(a.more_samples.is_some(), a.verdict == Verdict::Inconclusive);
    }
}

#[test]
fn eight_bytes_on_ten_megabytes_is_caught() {
    let s: Vec<f64> = (0..300).map(|t| 10_485_760.0 + 8.0 * t as f64).collect();
    let a = analyze(&s, &Config::heap()).unwrap();
    assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
    assert_eq!(a.slope.unwrap(), 8.0);
    assert_eq!(a.slope_ci, Some((8.0, 8.0)));
}

#[test]
fn counts_presets() {
    // +1 every 10th sample is Leaking.
    let s: Vec<f64> = (0..200).map(|t| 12.0 + (t / 10) as f64).collect();
    let a = analyze(&s, &Config::counts()).unwrap();
    assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
    assert!((a.slope.unwrap() - 0.1).abs() < 0.01, "{}", a.reason);
    // A pool of 8 connections opened during the first 20 samples, then flat: Stable once proven.
    let pool =
        |n: usize| -> Vec<f64> { (0..n).map(|t| 5.0 + (t.min(20) * 8 / 20) as f64).collect() };
    assert_eq!(
        analyze(&pool(60), &Config::counts()).unwrap().verdict,
        Verdict::Stable
    );
    assert_eq!(
        analyze(&pool(35), &Config::counts()).unwrap().verdict,
        Verdict::Inconclusive
    );
}

#[test]
fn drip_below_the_floor_is_not_stable() {
    // 2 B every 16 iterations: below the 1 B/sample floor, kept from Stable by the plateau rule.
    for n in [300usize, 1000, 3000] {
        let s: Vec<f64> = (0..n).map(|t| 1e7 + 2.0 * (t / 16) as f64).collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        assert_eq!(a.verdict, Verdict::Inconclusive, "n={n}: {}", a.reason);
    }
}

#[test]
fn config_is_validated_and_serde_round_trips() {
    let bad = Config::heap().with_confidence(1.5);
    let err = analyze(&[1.0; 50], &bad).unwrap_err();
    assert_eq!(
        err,
        TrendError::InvalidConfig {
            field: leakproof_trend::ConfigField::Confidence,
            value: 1.5
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid configuration: confidence must be in (0.5, 1), got 1.5"
    );
    let bad = Config::rss().with_noise(NoiseModel::Noisy { quantum: f64::NAN });
    assert!(matches!(
        analyze(&[1.0; 50], &bad),
        Err(TrendError::InvalidConfig { .. })
    ));
    assert_eq!(Config::default(), Config::heap());
    for c in [
        Config::heap(),
        Config::rss(),
        Config::counts().with_warmup(Warmup::Fixed(7)),
    ] {
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), c);
    }
    let a = analyze(
        &(0..100).map(f64::from).collect::<Vec<_>>(),
        &Config::heap(),
    )
    .unwrap();
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["verdict"], "leaking");
    assert_eq!(
        serde_json::from_value::<leakproof_trend::Analysis>(json).unwrap(),
        a
    );
    assert_eq!(Verdict::Inconclusive.to_string(), "inconclusive");
    assert_eq!(
        serde_json::to_string(&Verdict::Stable).unwrap(),
        "\"stable\""
    );
}

#[test]
fn fixed_warmup_skips_samples() {
    // A cache filling over 100 samples, told to ignore them: Stable as soon as the rest is a plateau.
    let s: Vec<f64> = (0..150).map(|t| 1000.0 * t.min(100) as f64).collect();
    let a = analyze(&s, &Config::heap().with_warmup(Warmup::Fixed(100))).unwrap();
    assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
    assert!(a.warmup_end >= 100);
    let a = analyze(&s[..110], &Config::heap().with_warmup(Warmup::Fixed(100))).unwrap();
    assert_eq!(a.verdict, Verdict::Inconclusive);
    assert_eq!(a.more_samples, Some(10));
}

#[test]
fn long_series_use_the_sampled_paths_correctly() {
    // 20,000 samples: Theil–Sen on sampled pairs, Mann–Kendall on thinned points.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut jitter = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1025) as f64 - 512.0
    };
    let leak: Vec<f64> = (0..20_000)
        .map(|t| 1e7 + 3.0 * t as f64 + jitter())
        .collect();
    let a = analyze(&leak, &Config::heap()).unwrap();
    assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
    assert!(
        a.slope_ci.unwrap().0 <= 3.0 && 3.0 <= a.slope_ci.unwrap().1,
        "{}",
        a.reason
    );
    assert!((a.slope.unwrap() - 3.0).abs() < 0.03, "{}", a.reason);
    let flat: Vec<f64> = (0..20_000).map(|_| 1e7 + jitter()).collect();
    let a = analyze(&flat, &Config::heap()).unwrap();
    assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
    assert!(
        a.slope_ci.unwrap().0 <= 0.0 && 0.0 <= a.slope_ci.unwrap().1,
        "{}",
        a.reason
    );
}
