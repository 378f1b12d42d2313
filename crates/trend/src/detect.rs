//! Preparing a series for the decision: fixed warm-up, noise, bursts, saw-tooth drops, cycle minima and
//! cycle baselines. The fits the rules use are in `fits`; the decision itself in `judge`.

use crate::config::{Config, NoiseModel, Warmup};
use crate::fits::{Baselines, Points};
use crate::judge::{judge, Input};
use crate::short::too_short_analysis;
use crate::stats::mad_mut;
use crate::{Analysis, TrendError};

/// MAD to standard deviation for Gaussian noise.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Judges a series of samples (one per iteration or time step).
///
/// Errors: [`TrendError::NonFinite`] for a NaN or infinite sample, [`TrendError::InvalidConfig`] for an
/// out-of-range [`Config`]. A series shorter than [`Config::min_samples`] (after a fixed warm-up) is
/// [`Verdict::Inconclusive`](crate::Verdict::Inconclusive). Never panics.
pub fn analyze(samples: &[f64], config: &Config) -> Result<Analysis, TrendError> {
    config.validate()?;
    if let Some(index) = samples.iter().position(|v| !v.is_finite()) {
        return Err(TrendError::NonFinite { index });
    }
    let n = samples.len();
    let offset = match config.warmup {
        Warmup::Auto => 0,
        Warmup::Fixed(w) => w,
    };
    if n < offset.saturating_add(config.min_samples) {
        return Ok(too_short_analysis(samples, config, offset));
    }
    let raw = &samples[offset..];
    let quantum = match config.noise {
        NoiseModel::Exact => 0.0,
        NoiseModel::Noisy { quantum } => quantum,
    };
    let sigma = noise_sigma(raw, quantum);
    // Measured (noisy) series: memory allocated and returned within a few samples is a burst, not a
    // level; replace such outliers by the running median before anything else.
    let filtered;
    let y: &[f64] = if matches!(config.noise, NoiseModel::Noisy { .. }) && sigma > 0.0 {
        filtered = hampel(raw, sigma);
        &filtered
    } else {
        raw
    };
    // On the raw samples: a burst's rise and return are sharpest there.
    let lookback = match config.noise {
        NoiseModel::Exact => 1,
        NoiseModel::Noisy { .. } => HAMPEL_HALF,
    };
    let drops = sawtooth_drops(raw, sigma, lookback);
    let input = |pts, sigma, baselines| Input {
        config,
        raw,
        pts,
        sigma,
        baselines,
        n,
        offset,
    };
    let analysis = if drops.len() >= 3 {
        let pts = cycle_minima(y, &drops, offset);
        // On the raw samples: the burst filter's window straddles every drop.
        let baselines = cycle_baselines(raw, &drops, offset, sigma);
        let b_sigma = noise_sigma(&baselines.pts.y, quantum);
        let sigma = noise_sigma(&pts.y, quantum);
        let mut a = judge(&input(&pts, sigma, Some((&baselines, b_sigma))), None);
        a.cycles = Some(pts.y.len());
        a
    } else {
        let pts = Points {
            t: (0..y.len()).map(|i| (offset + i) as f64).collect(),
            start: (0..y.len()).map(|i| offset + i).collect(),
            y: y.to_vec(),
        };
        let minima_rise = if drops.is_empty() {
            None
        } else {
            let c = cycle_minima(y, &drops, offset);
            Some(c.y.windows(2).all(|w| w[1] > w[0]))
        };
        judge(&input(&pts, sigma, None), minima_rise)
    };
    Ok(analysis)
}

/// Robust noise level of one point: from the MAD of second differences (a smooth warm-up curve or a
/// steady trend contributes almost nothing to them; white noise of standard deviation σ gives second
/// differences of standard deviation σ·√6), never below the quantization error of `quantum`.
/// 0 when most second differences are exactly 0 (exact data: runs of equal values or steady steps).
fn noise_sigma(y: &[f64], quantum: f64) -> f64 {
    let mut d2: Vec<f64> = y
        .windows(3)
        .map(|w| (w[2] - w[1]) - (w[1] - w[0]))
        .collect();
    let (_, mad) = mad_mut(&mut d2);
    (MAD_TO_SIGMA * mad / 6f64.sqrt()).max(quantum / 12f64.sqrt())
}

/// Half-width of the running-median window of the burst filter.
const HAMPEL_HALF: usize = 5;

/// Replaces every point further than 3σ from the median of its 11-point window by that median.
fn hampel(y: &[f64], sigma: f64) -> Vec<f64> {
    let n = y.len();
    let mut out = y.to_vec();
    let mut win = [0.0f64; 2 * HAMPEL_HALF + 1];
    for i in 0..n {
        let a = i.saturating_sub(HAMPEL_HALF);
        let b = (i + HAMPEL_HALF + 1).min(n);
        let w = &mut win[..b - a];
        w.copy_from_slice(&y[a..b]);
        let mid = w.len() / 2;
        let med = *w.select_nth_unstable_by(mid, f64::total_cmp).1;
        if (y[i] - med).abs() > 3.0 * sigma {
            out[i] = med;
        }
    }
    out
}

/// Saw-tooth drops: decreases larger than `max(8σ√2, 5% of the range)` that return memory grown
/// gradually. A drop that is more than 60% made of one rise since the previous drop, or of the net rise
/// over the `lookback` samples before it, is a burst returned, not a saw-tooth, and is not counted; nor is
/// a drop of more than twice what accumulated since the previous drop, nor one at the start that nothing
/// visibly accumulated before (a burst under way when sampling began).
fn sawtooth_drops(y: &[f64], sigma: f64, lookback: usize) -> Vec<usize> {
    let (lo, hi) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let range = hi - lo;
    if range.is_nan() || range <= 0.0 {
        return Vec::new();
    }
    let threshold = (8.0 * sigma * std::f64::consts::SQRT_2).max(0.05 * range);
    let mut drops = Vec::new();
    let mut cycle_start = 0;
    let mut max_rise = 0.0f64;
    for i in 1..y.len() {
        let d = y[i] - y[i - 1];
        if d < -threshold {
            let from = (i - 1).saturating_sub(lookback).max(cycle_start);
            let low = y[from..i].iter().copied().fold(f64::INFINITY, f64::min);
            let rise = (y[i - 1] - low).max(max_rise);
            // What is dropped must have accumulated within the visible cycle (of >= 2 samples); the
            // first cycle may have started mid-tooth, so there any growth beyond the noise will do.
            let cycle_low = y[cycle_start..i]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            let accumulated = y[i - 1] - cycle_low;
            let grew = if cycle_start == 0 {
                // ...and late enough that a burst's rise would have been seen.
                i > lookback + 1 && accumulated > 4.0 * sigma * std::f64::consts::SQRT_2
            } else {
                accumulated >= 0.5 * -d
            };
            if rise <= 0.6 * -d && grew && i - cycle_start >= 2 {
                drops.push(i);
            }
            cycle_start = i;
            max_rise = 0.0;
        } else {
            max_rise = max_rise.max(d);
        }
    }
    drops
}

/// The baseline of every full cycle (between two drops): the intercept at the cycle's first sample of
/// the least-squares line through the cycle, and its standard error for samples of noise `sigma`,
/// σ·√(1/L + j̄²/Sxx) ≈ 2σ/√L. It averages the noise of the whole cycle, where a cycle's minimum
/// carries the noise of one sample; the line's slope absorbs the fill (a curved fill biases every
/// cycle's intercept alike when the cycles have the same shape).
fn cycle_baselines(y: &[f64], drops: &[usize], offset: usize, sigma: f64) -> Baselines {
    let mut pts = Points {
        t: Vec::new(),
        y: Vec::new(),
        start: Vec::new(),
    };
    let mut se = Vec::new();
    for w in drops.windows(2) {
        let cycle = &y[w[0]..w[1]];
        let len = cycle.len() as f64;
        let mean_j = (len - 1.0) / 2.0;
        let mean_y = cycle.iter().sum::<f64>() / len;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (j, v) in cycle.iter().enumerate() {
            sxy += (j as f64 - mean_j) * (v - mean_y);
            sxx += (j as f64 - mean_j) * (j as f64 - mean_j);
        }
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        pts.t.push((offset + w[0]) as f64);
        pts.y.push(mean_y - slope * mean_j);
        pts.start.push(offset + w[0]);
        let leverage = if sxx > 0.0 {
            mean_j * mean_j / sxx
        } else {
            0.0
        };
        se.push(sigma * (1.0 / len + leverage).sqrt());
    }
    Baselines { pts, se }
}

fn cycle_minima(y: &[f64], drops: &[usize], offset: usize) -> Points {
    let mut bounds = Vec::with_capacity(drops.len() + 2);
    bounds.push(0);
    bounds.extend_from_slice(drops);
    bounds.push(y.len());
    let mut pts = Points {
        t: Vec::new(),
        y: Vec::new(),
        start: Vec::new(),
    };
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a >= b {
            continue;
        }
        let mut k = a;
        for i in a + 1..b {
            if y[i] < y[k] {
                k = i;
            }
        }
        pts.t.push((offset + k) as f64);
        pts.y.push(y[k]);
        pts.start.push(offset + a);
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;

    #[test]
    fn slow_warmup_tail_does_not_bias_the_slope() {
        // A warm-up that approaches the trend exponentially (time constant 10 samples, 100 kB) under
        // +-512 units of jitter, then 8 units/sample: the interval must still contain 8.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let s: Vec<f64> = (0..300)
            .map(|i| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let jitter = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1024.0;
                (10e6 + 1e5 * (1.0 - (-(i as f64) / 10.0).exp()) + 8.0 * i as f64 + jitter).round()
            })
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        assert_eq!(a.verdict, Verdict::Leaking, "{}", a.reason);
        assert!(
            a.slope_ci.unwrap().0 <= 8.0 && 8.0 <= a.slope_ci.unwrap().1,
            "{}",
            a.reason
        );
        assert!(a.warmup_end >= 45, "{}", a.reason);
    }

    #[test]
    fn a_late_resize_is_stable_once_the_new_level_outlasts_the_old() {
        // A cache that filled over 100 samples, stayed flat for 900, then resized once at 1000.
        let at = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|t| 1e6 + 100.0 * t.min(100) as f64 + if t >= 1000 { 65_536.0 } else { 0.0 })
                .collect()
        };
        let a = analyze(&at(1500), &Config::heap()).unwrap();
        assert_eq!(a.verdict, Verdict::Inconclusive, "{}", a.reason);
        assert_eq!(
            a.reason,
            "flat at 1075536 units for 500 samples since a step at sample 1000, but the level before it \
             lasted 900 samples; about 401 more samples would prove a plateau"
        );
        assert_eq!(a.more_samples, Some(401));
        let b = analyze(&at(1901), &Config::heap()).unwrap();
        assert_eq!(b.verdict, Verdict::Stable, "{}", b.reason);
        assert_eq!(b.warmup_end, 1000);
    }

    #[test]
    fn reason_of_a_leak_after_warmup() {
        let s: Vec<f64> = (0..300)
            .map(|i| {
                if i < 30 {
                    1000.0 * i as f64
                } else {
                    30_000.0 + 8.0 * (i - 30) as f64
                }
            })
            .collect();
        let a = analyze(&s, &Config::heap()).unwrap();
        assert_eq!(a.verdict, Verdict::Leaking);
        assert_eq!(a.warmup_end, 30);
        assert_eq!(
            a.reason,
            "grew 8.0 units/sample (95% CI 8.0..8.0) over 270 samples after a 30-sample warm-up"
        );
    }
}

#[cfg(test)]
mod floor_and_sawtooth_tests {
    use super::*;
    use crate::Verdict;

    /// Uniform numbers in [-0.5, 0.5) from a fixed LCG.
    fn jitter() -> impl FnMut() -> f64 {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        move || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
    }

    #[test]
    fn a_stable_series_growing_below_the_floor_says_so() {
        // Heap: 0.5 B/sample under +-2000 B of jitter on 10 MB (floor 1 B/sample).
        let mut r = jitter();
        let heap: Vec<f64> = (0..1000)
            .map(|t| (1e7 + 0.5 * t as f64 + r() * 4000.0).round())
            .collect();
        let a = analyze(&heap, &Config::heap()).unwrap();
        assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
        assert!(a.slope_ci.unwrap().0 > 0.0, "{:?}", a.slope_ci);
        assert!(
            a.reason
                .ends_with("above zero but below the floor of 1.0 units/sample (heap model)"),
            "{}",
            a.reason
        );
        // RSS: 20 B/sample in pages under +-8 KiB of noise (floor 40.96 B/sample).
        let rss: Vec<f64> = (0..1000)
            .map(|t| ((5e7 + 20.0 * t as f64 + r() * 16384.0) / 4096.0).round() * 4096.0)
            .collect();
        let a = analyze(&rss, &Config::rss()).unwrap();
        assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
        assert!(a.slope_ci.unwrap().0 > 0.0, "{:?}", a.slope_ci);
        assert!(
            a.reason.starts_with("flat within the floor at ")
                && a.reason
                    .ends_with("below the floor of 41.0 units/sample (rss model)"),
            "{}",
            a.reason
        );
    }

    #[test]
    fn a_gc_sawtooth_on_rss_is_stable_from_its_cycle_baselines() {
        // 11 cycles of 40 samples (10 full ones between drops), 4 MiB each, +-16 KiB of noise.
        let mut r = jitter();
        let rss: Vec<f64> = (0..440)
            .map(|t| {
                let x = ((t + 17) % 40) as f64 / 40.0;
                ((5e7 + 4_194_304.0 * x + r() * 32768.0) / 4096.0).round() * 4096.0
            })
            .collect();
        let a = analyze(&rss, &Config::rss()).unwrap();
        assert_eq!(a.verdict, Verdict::Stable, "{}", a.reason);
        assert!(
            a.reason.starts_with("a saw-tooth whose last "),
            "{}",
            a.reason
        );
    }

    #[test]
    fn baselines_are_cycle_intercepts() {
        // Two full cycles rising 10 per sample from 100 and from 120.
        let y: Vec<f64> = (0..30)
            .map(|t| match t {
                0..=9 => 500.0,
                10..=19 => 100.0 + 10.0 * (t - 10) as f64,
                _ => 120.0 + 10.0 * (t - 20) as f64,
            })
            .collect();
        let b = cycle_baselines(&y, &[10, 20, 30], 5, 3.0);
        assert_eq!(b.pts.start, vec![15, 25]);
        assert_eq!(b.pts.t, vec![15.0, 25.0]);
        assert!((b.pts.y[0] - 100.0).abs() < 1e-9 && (b.pts.y[1] - 120.0).abs() < 1e-9);
        // σ·√(1/10 + 4.5²/82.5) for cycles of 10 samples.
        assert!((b.se[0] - 3.0 * (0.1f64 + 20.25 / 82.5).sqrt()).abs() < 1e-12);
    }
}
