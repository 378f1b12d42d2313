//! The fits both the preparation (`detect`) and the decision (`judge`) use: the points judged,
//! Mann–Kendall with Theil–Sen on them, the warm-up before a trend, and the median level. A leaf of the
//! crate's modules: it imports only `stats`, so the modules depend on each other one way
//! (`detect` -> `judge` -> `outcome`, each of them -> `fits` -> `stats`).

use crate::stats::{
    mann_kendall, median, normal_quantile, sen_slope, student_quantile, theil_sen, MannKendall,
    SenFit,
};

/// Points to judge: each covers samples `[start[k], start[k+1])`, sits at time `t[k]` with value `y[k]`.
pub(crate) struct Points {
    pub t: Vec<f64>,
    pub y: Vec<f64>,
    pub start: Vec<usize>,
}

/// The trend test and the slope of the same points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Fit {
    pub mk: MannKendall,
    pub sen: SenFit,
}

/// Mann–Kendall runs on at most this many points: longer series are thinned systematically (every k-th
/// point). The test stays valid (it is the test of the thinned series) and loses power only where the
/// effect is tiny compared with the noise; the variance Sen's interval needs is scaled back by
/// (m / m')³, the order of Var S in m (tie groups shrink by the same factor).
pub(crate) const MK_MAX_POINTS: usize = 8192;

/// Every k-th point, so that at most `max` remain.
pub(crate) fn thin(y: &[f64], max: usize) -> std::borrow::Cow<'_, [f64]> {
    if y.len() <= max {
        std::borrow::Cow::Borrowed(y)
    } else {
        let k = y.len().div_ceil(max);
        std::borrow::Cow::Owned(y.iter().step_by(k).copied().collect())
    }
}

/// Mann–Kendall on at most [`MK_MAX_POINTS`] points and Theil–Sen with its interval at `confidence`.
pub(crate) fn fit(t: &[f64], y: &[f64], confidence: f64) -> Fit {
    let m = y.len();
    let (mk, var_full) = if m > MK_MAX_POINTS {
        let k = m.div_ceil(MK_MAX_POINTS);
        let thin: Vec<f64> = y.iter().step_by(k).copied().collect();
        let mk = mann_kendall(&thin);
        let ratio = m as f64 / thin.len() as f64;
        (mk, mk.var_s * ratio * ratio * ratio)
    } else {
        let mk = mann_kendall(y);
        (mk, mk.var_s)
    };
    let sen = theil_sen(t, y, confidence, var_full);
    Fit { mk, sen }
}

/// Point index where the warm-up ends: the earliest point after which every point stays within the band
/// of residuals around the Theil–Sen line of the second half.
pub(crate) fn tail_warmup(pts: &Points, sigma: f64) -> usize {
    let m = pts.y.len();
    if m < 8 {
        return 0;
    }
    let h = m / 2;
    let slope = sen_slope(&pts.t[h..], &pts.y[h..]);
    let resid = |k: usize| pts.y[k] - slope * pts.t[k];
    let tail: Vec<f64> = (h..m).map(resid).collect();
    let c = median(&tail);
    let spread = tail.iter().fold(0.0f64, |a, &r| a.max((r - c).abs()));
    let scale = pts.y.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
    let band = 1.5 * spread + 3.0 * sigma + 1e-12 * scale;
    let coarse = (0..h)
        .rev()
        .find(|&k| (resid(k) - c).abs() > band)
        .map_or(0, |k| k + 1);
    // A warm-up that approaches the trend slowly stays inside the band while it is still biased: find the
    // last point whose local median residual (11 points) is off the line by more than 4.5 standard errors
    // of such a median, and accept it only when that offset has one sign over (90% of) the whole prefix,
    // as an approach curve has (a staircase's residuals alternate in sign).
    let mut tail_dev: Vec<f64> = tail.iter().map(|r| (r - c).abs()).collect();
    let sigma_r = 1.4826 * median_mut_f(&mut tail_dev);
    if sigma_r <= 0.0 || h < 2 * LOCAL_HALF + 2 {
        return coarse;
    }
    let threshold = 4.5 * sigma_r * 1.2533 / ((2 * LOCAL_HALF + 1) as f64).sqrt();
    let mut win = [0.0f64; 2 * LOCAL_HALF + 1];
    let local = |k: usize, win: &mut [f64; 2 * LOCAL_HALF + 1]| -> f64 {
        let a = k.saturating_sub(LOCAL_HALF);
        let b = (a + 2 * LOCAL_HALF + 1).min(m);
        let w = &mut win[..b - a];
        for (slot, i) in w.iter_mut().zip(a..b) {
            *slot = resid(i) - c;
        }
        let mid = w.len() / 2;
        *w.select_nth_unstable_by(mid, f64::total_cmp).1
    };
    // The running mean of the same window screens candidates in O(1) each; the median decides.
    let upto = (h + LOCAL_HALF + 1).min(m);
    let mut prefix = Vec::with_capacity(upto + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for i in 0..upto {
        acc += resid(i) - c;
        prefix.push(acc);
    }
    let mean = |k: usize| {
        let a = k.saturating_sub(LOCAL_HALF);
        let b = (a + 2 * LOCAL_HALF + 1).min(upto);
        (prefix[b] - prefix[a]) / (b - a) as f64
    };
    let Some(k) = (coarse..h)
        .rev()
        .find(|&k| mean(k).abs() > 0.5 * threshold && local(k, &mut win).abs() > threshold)
    else {
        return coarse;
    };
    let sign = local(k, &mut win).signum();
    let agree = (0..=k).filter(|&i| (resid(i) - c).signum() == sign).count();
    if agree * 10 >= (k + 1) * 9 {
        k + 1
    } else {
        coarse
    }
}

/// Half-width of the local-median window of the warm-up refinement.
const LOCAL_HALF: usize = 5;

fn median_mut_f(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        crate::stats::median_mut(v)
    }
}

/// Median level, of at most 4,097 evenly spaced points (the level only scales the relative floor and is
/// reported; an exact median of a million points would cost more than it is worth).
pub(crate) fn level_of(y: &[f64]) -> f64 {
    let step = y.len().div_ceil(4097).max(1);
    if step == 1 {
        return median(y);
    }
    let sample: Vec<f64> = y.iter().step_by(step).copied().collect();
    median(&sample)
}

/// The fewest points whose slope gets a confidence interval at `confidence`. The interval from the
/// lowest to the highest pairwise slope misses the true slope exactly when the residuals around it
/// are in increasing or decreasing order, which exchangeable noise gives with probability 2/n!; the
/// smallest n with 2/n! ≤ 1 − confidence is 5 at 95% (4 points: 2/24 = 8.3%) and 6 at 99%. Sen's
/// interval is never wider than that one, so it too holds from there on. Fewer points: no estimate.
pub(crate) fn min_estimate_points(confidence: f64) -> usize {
    let alpha = 1.0 - confidence;
    let (mut n, mut factorial) = (2usize, 2.0f64);
    while 2.0 / factorial > alpha && n < 20 {
        n += 1;
        factorial *= n as f64;
    }
    n
}

/// The baselines of a saw-tooth's full cycles (one point per cycle, at its first sample) and the
/// standard error each has from the noise of the samples of its cycle.
pub(crate) struct Baselines {
    pub pts: Points,
    pub se: Vec<f64>,
}

/// The least-squares slope of a few saw-tooth baselines and the half-width of its interval at
/// `confidence`, valid whichever error dominates: z · SE from the baselines' own errors (the noise
/// of their cycles, averaged), or Student's t with k − 2 degrees of freedom · SE from the scatter of
/// the baselines around the line (cycles that differ in shape or height, noise that is not white),
/// whichever is wider. With 3 baselines the scatter counts 12.7 times its standard error, with 5
/// 3.2 times: few cycles prove a flat baseline only when they agree. `None` with fewer than 3.
pub(crate) fn baseline_slope(b: &Baselines, confidence: f64) -> Option<(f64, f64)> {
    let (t, y) = (&b.pts.t, &b.pts.y);
    let k = t.len().min(y.len()).min(b.se.len());
    if k < 3 {
        return None;
    }
    let n = k as f64;
    let (tm, ym) = (
        t[..k].iter().sum::<f64>() / n,
        y[..k].iter().sum::<f64>() / n,
    );
    let sxx: f64 = t[..k].iter().map(|v| (v - tm).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = (0..k).map(|i| (t[i] - tm) * (y[i] - ym)).sum::<f64>() / sxx;
    let scatter: f64 = (0..k)
        .map(|i| (y[i] - ym - slope * (t[i] - tm)).powi(2))
        .sum::<f64>()
        / (n - 2.0);
    let noise = b.se[..k].iter().map(|s| s * s).sum::<f64>() / n;
    let z = normal_quantile(0.5 + confidence / 2.0);
    let half = (z * noise.sqrt()).max(student_quantile(confidence, k - 2) * scatter.sqrt());
    Some((slope, half / sxx.sqrt()))
}

/// Level at the end minus level at the start: medians of the first and last 5% (1 to 50 samples each).
pub(crate) fn total_growth(y: &[f64]) -> f64 {
    let n = y.len();
    if n == 0 {
        return 0.0;
    }
    let k = (n / 20).clamp(1, 50);
    median(&y[n - k..]) - median(&y[..k])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baselines(y: &[f64], se: f64) -> Baselines {
        Baselines {
            pts: Points {
                t: (0..y.len()).map(|k| 100.0 * k as f64).collect(),
                y: y.to_vec(),
                start: (0..y.len()).map(|k| 100 * k).collect(),
            },
            se: vec![se; y.len()],
        }
    }

    #[test]
    fn a_baseline_slope_takes_the_wider_of_noise_and_scatter() {
        // On a line: no scatter, the baselines' own errors decide: 1.96 · 10 / √20000.
        let (slope, half) = baseline_slope(&baselines(&[0.0, 100.0, 200.0], 10.0), 0.95).unwrap();
        assert!((slope - 1.0).abs() < 1e-12);
        assert!(
            (half - 1.959_964 * 10.0 / 20_000f64.sqrt()).abs() < 1e-6,
            "{half}"
        );
        // Scattered, exact errors: Student's t with 1 degree of freedom on the residuals.
        let (slope, half) = baseline_slope(&baselines(&[0.0, 30.0, 0.0], 0.0), 0.95).unwrap();
        assert_eq!(slope, 0.0);
        let residual = 600f64.sqrt(); // residuals -10, 20, -10 over 1 degree of freedom
        assert!(
            (half - 12.706 * residual / 20_000f64.sqrt()).abs() < 1e-2,
            "{half}"
        );
        assert!(baseline_slope(&baselines(&[1.0, 2.0], 1.0), 0.95).is_none());
    }

    #[test]
    fn five_points_are_needed_for_an_interval_at_95_percent() {
        assert_eq!(min_estimate_points(0.95), 5);
        assert_eq!(min_estimate_points(0.99), 6);
        assert_eq!(min_estimate_points(0.5), 3);
    }
}
