//! The decision: saw-tooth handling, segmentation, the plateau rule, the trend and its floor.

use crate::config::{Config, NoiseModel, Warmup};
use crate::segment::{segments, Segment};
use crate::stats::{mad_mut, mann_kendall, median, sen_slope, theil_sen, MannKendall, SenFit};
use crate::{Analysis, Plateau, TrendError, TrendTest, Verdict};

/// MAD to standard deviation for Gaussian noise.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Judges a series of samples (one per iteration or time step).
///
/// Errors: [`TrendError::NonFinite`] for a NaN or infinite sample, [`TrendError::InvalidConfig`] for an
/// out-of-range [`Config`]. A series shorter than [`Config::min_samples`] (after a fixed warm-up) is
/// [`Verdict::Inconclusive`]. Never panics.
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
    let needed = offset.saturating_add(config.min_samples);
    if n < needed {
        return Ok(too_short(samples, config, offset, needed));
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
    let ctx = Ctx {
        config,
        raw,
        n,
        offset,
    };
    let analysis = if drops.len() >= 3 {
        let pts = cycle_minima(y, &drops, offset);
        let sigma = noise_sigma(&pts.y, quantum);
        let cycles = pts.y.len();
        let mut a = judge(&ctx, &pts, sigma, None);
        a.cycles = Some(cycles);
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
        judge(&ctx, &pts, sigma, minima_rise)
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

struct Ctx<'a> {
    config: &'a Config,
    /// The samples after a fixed warm-up.
    raw: &'a [f64],
    n: usize,
    offset: usize,
}

/// Points to judge: each covers samples `[start[k], start[k+1])`, sits at time `t[k]` with value `y[k]`.
struct Points {
    t: Vec<f64>,
    y: Vec<f64>,
    start: Vec<usize>,
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

fn floor_at(config: &Config, level: f64) -> f64 {
    config
        .min_slope
        .max(config.min_relative_slope * level.abs())
}

struct Fit {
    mk: MannKendall,
    sen: SenFit,
}

/// Mann–Kendall runs on at most this many points: longer series are thinned systematically (every k-th
/// point). The test stays valid (it is the test of the thinned series) and loses power only where the
/// effect is tiny compared with the noise; the variance Sen's interval needs is scaled back by
/// (m / m')³, the order of Var S in m (tie groups shrink by the same factor).
pub(crate) const MK_MAX_POINTS: usize = 8192;

/// The persistence check (is the later half still growing?) looks at no more than this many points.
const PERSIST_MAX_POINTS: usize = 2048;
/// How many quantum-step gaps (quantum / slope samples) a flat stretch of quantized data must span
/// before it counts as growth that stopped: a slow leak in 4 KiB pages is flat between its steps.
const STOPPED_STEP_GAPS: f64 = 4.0;

/// Every k-th point, so that at most `max` remain.
fn thin(y: &[f64], max: usize) -> std::borrow::Cow<'_, [f64]> {
    if y.len() <= max {
        std::borrow::Cow::Borrowed(y)
    } else {
        let k = y.len().div_ceil(max);
        std::borrow::Cow::Owned(y.iter().step_by(k).copied().collect())
    }
}

fn fit(t: &[f64], y: &[f64], confidence: f64) -> Fit {
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
fn tail_warmup(pts: &Points, sigma: f64) -> usize {
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

fn judge(ctx: &Ctx, pts: &Points, sigma: f64, minima_rise: Option<bool>) -> Analysis {
    let cfg = ctx.config;
    let m = pts.y.len();
    let n = ctx.n;
    let mut segs = segments(&pts.y, sigma, cfg.min_plateau);
    let seg_mean = |s: &Segment| pts.y[s.a..s.b].iter().sum::<f64>() / (s.b - s.a).max(1) as f64;
    let span = |s: &Segment| {
        let a = pts.start[s.a];
        let b = if s.b < m { pts.start[s.b] } else { n };
        (a, b)
    };
    if matches!(cfg.noise, NoiseModel::Noisy { .. }) && segs.len() > 1 {
        // Measured data: a significant but irrelevant level change (smaller than growth at the floor rate
        // over the two segments would make) is not growth. Exact data keeps every change, so that a drip
        // below the floor still never looks like a plateau.
        let floor = floor_at(cfg, level_of(&pts.y));
        let mut merged: Vec<Segment> = Vec::with_capacity(segs.len());
        for s in segs {
            if let Some(prev) = merged.last_mut() {
                let (pa, pb) = span(prev);
                let (sa, sb) = span(&s);
                let reach = floor * ((pb - pa) + (sb - sa)) as f64 / 2.0;
                if (seg_mean(&s) - seg_mean(prev)).abs() < reach {
                    prev.b = s.b;
                    continue;
                }
            }
            merged.push(s);
        }
        segs = merged;
    }
    let Some(last) = segs.last().copied() else {
        return too_short(&[], cfg, ctx.offset, cfg.min_samples);
    };
    let (p, _) = span(&last);
    let flat_len = n - p;
    // Growth clock: restarts after an earlier plateau that lasted more than twice its start.
    // After such a reset the final plateau must also outlast the plateau that reset the clock, so that a
    // regular staircase with long steps is never Stable.
    let mut clock = ctx.offset;
    let mut clock_level = seg_mean(&segs[0]);
    let mut reset_plateau = 0usize;
    let mut longest_pause = 0usize;
    for s in &segs[..segs.len() - 1] {
        let (a, b) = span(s);
        let len = b - a;
        if len >= cfg.min_plateau && len > 2 * (a - ctx.offset) {
            clock = b;
            clock_level = seg_mean(s);
            reset_plateau = len;
            longest_pause = 0;
        } else {
            longest_pause = longest_pause.max(len);
        }
    }
    let growth = p - clock;
    let plat_t = &pts.t[last.a..];
    let plat_y = &pts.y[last.a..];
    let plat_level = level_of(plat_y);
    let plat_floor = floor_at(cfg, plat_level);
    // The plateau's own fit is only needed when it is long enough to count.
    let plat_fit = (flat_len >= cfg.min_plateau && plat_y.len() >= 2)
        .then(|| fit(plat_t, plat_y, cfg.confidence));
    let plateau_flat = plat_fit.as_ref().is_some_and(|f| f.sen.hi <= plat_floor);
    let total_growth = total_growth(ctx.raw);
    let conf_pct = fmt_pct(cfg.confidence);

    if let Some(plat_fit) = plat_fit.as_ref().filter(|_| {
        plateau_flat
            && flat_len as f64 >= cfg.plateau_margin * growth as f64
            && flat_len > reset_plateau
    }) {
        let s = plat_fit.sen;
        let reason = if growth > 0 {
            format!(
                "flat at {} units for the last {} samples, {} times the {} samples of growth before it \
                 (slope {} units/sample, {} CI {}..{})",
                fmt_num(plat_level),
                flat_len,
                fmt_num(flat_len as f64 / growth as f64),
                growth,
                fmt_num(s.slope),
                conf_pct,
                fmt_num(s.lo),
                fmt_num(s.hi)
            )
        } else {
            format!(
                "flat at {} units over {} samples (slope {} units/sample, {} CI {}..{}, below the floor of {})",
                fmt_num(plat_level),
                flat_len,
                fmt_num(s.slope),
                conf_pct,
                fmt_num(s.lo),
                fmt_num(s.hi),
                fmt_num(plat_floor)
            )
        };
        return Analysis {
            verdict: Verdict::Stable,
            slope: s.slope,
            slope_ci: (s.lo, s.hi),
            confidence: cfg.confidence,
            warmup_end: p,
            plateau: Some(Plateau {
                start: p,
                level: plat_level,
            }),
            trend: TrendTest {
                statistic: plat_fit.mk.z,
                p_value: plat_fit.mk.p_increasing,
            },
            total_growth,
            samples: n,
            more_samples: None,
            floor: plat_floor,
            cycles: None,
            reason,
        };
    }

    // Not proven flat: judge the trend after the warm-up.
    let w = tail_warmup(pts, sigma);
    let post = fit(&pts.t[w..], &pts.y[w..], cfg.confidence);
    let warm = pts.start[w];
    let post_samples = n - warm;
    let level = level_of(&pts.y[w..]);
    let floor = floor_at(cfg, level);
    let alpha = 1.0 - cfg.confidence;
    let s = post.sen;
    let significant = post.mk.p_increasing < alpha && s.slope > 0.0;
    let clears_floor = significant && s.lo > 0.0 && s.lo >= floor;
    // Growth that has stopped: the final flat level (>= min_plateau samples, slope interval below the
    // floor) is longer than every pause seen during the growth. Then the answer is Inconclusive.
    // A noisy plateau too short to prove its slope below the floor also counts when it shows no upward
    // tendency at all (one-sided p >= 0.2) and has lasted at least a quarter of the growth.
    let plateau_quiet =
        plat_fit.as_ref().is_some_and(|f| f.mk.p_increasing >= 0.2) && 4 * flat_len >= growth;
    // Quantized data growing at rate r stays flat for about quantum / r samples between steps, so a flat
    // stretch shows that growth stopped only when it spans several such gaps. r is the rate of the growth
    // before the flat stretch (a cache that filled fast has short gaps; a slow leak in pages, long ones).
    let growth_rate = if growth > 0 {
        (plat_level - clock_level) / growth as f64
    } else {
        0.0
    };
    let step_gap = match cfg.noise {
        NoiseModel::Noisy { quantum } if growth_rate > 0.0 && quantum > 0.0 => {
            quantum / growth_rate
        }
        _ => 0.0,
    };
    let stopped = (plateau_flat || plateau_quiet)
        && flat_len > longest_pause
        && flat_len as f64 > STOPPED_STEP_GAPS * step_gap;
    let ambiguous_drops = minima_rise == Some(false);
    let trend = TrendTest {
        statistic: post.mk.z,
        p_value: post.mk.p_increasing,
    };
    let ci = format!("{} CI {}..{}", conf_pct, fmt_num(s.lo), fmt_num(s.hi));
    let after = if warm > 0 {
        format!(" after a {warm}-sample warm-up")
    } else {
        String::new()
    };

    // The growth must persist: the later half of the judged part must show a significant trend of its
    // own (a noisy fill whose knee the segmentation could not place shows none there).
    let late = w + (m - w) / 2;
    let persists = !clears_floor
        || m - late < 8
        || mann_kendall(&thin(&pts.y[late..], PERSIST_MAX_POINTS)).p_increasing < alpha;
    if clears_floor && !stopped && !ambiguous_drops && persists {
        return Analysis {
            verdict: Verdict::Leaking,
            slope: s.slope,
            slope_ci: (s.lo, s.hi),
            confidence: cfg.confidence,
            warmup_end: warm,
            plateau: None,
            trend,
            total_growth,
            samples: n,
            more_samples: None,
            floor,
            cycles: None,
            reason: format!(
                "grew {} units/sample ({ci}) over {post_samples} samples{after}",
                fmt_num(s.slope)
            ),
        };
    }

    // Inconclusive: say why and estimate what would decide it.
    let plateau_need = ((cfg.plateau_margin * growth as f64).ceil() as usize)
        .max(cfg.min_plateau)
        .max(reset_plateau + 1)
        .saturating_sub(flat_len)
        .max(1);
    let (reason, more) = if (stopped || (plateau_flat && !clears_floor))
        && reset_plateau > 0
        && flat_len <= reset_plateau
    {
        (
            format!(
                "flat at {} units for {flat_len} samples since a step at sample {p}, but the level before \
                 it lasted {reset_plateau} samples; about {plateau_need} more samples would prove a plateau",
                fmt_num(plat_level)
            ),
            plateau_need,
        )
    } else if stopped || (plateau_flat && !clears_floor) {
        (
            format!(
                "flat at {} units for {flat_len} samples after {growth} samples of growth; \
                 about {plateau_need} more samples would prove a plateau",
                fmt_num(plat_level)
            ),
            plateau_need,
        )
    } else if clears_floor && !persists {
        (
            format!(
                "grew {} units/sample ({ci}) over {post_samples} samples{after}, but not significantly in \
                 the later half: the growth may have stopped",
                fmt_num(s.slope)
            ),
            plateau_need.max(post_samples / 2),
        )
    } else if ambiguous_drops && clears_floor {
        (
            format!(
                "grew {} units/sample ({ci}) but memory dropped back once or twice: a one-off free and a \
                 saw-tooth cannot be told apart yet",
                fmt_num(s.slope)
            ),
            n,
        )
    } else if significant && s.slope > floor {
        let half = ((s.hi - s.lo) / 2.0).max(f64::MIN_POSITIVE);
        let ratio = half / (s.slope - floor);
        let target = (post_samples as f64 * ratio.powf(2.0 / 3.0)).ceil();
        let more = if target.is_finite() {
            (target as usize)
                .saturating_sub(post_samples)
                .max(post_samples / 4)
                .max(1)
        } else {
            n
        };
        (
            format!(
                "grew {} units/sample ({ci}) over {post_samples} samples{after}, but the interval does \
                 not clear the floor of {} units/sample",
                fmt_num(s.slope),
                fmt_num(floor)
            ),
            more,
        )
    } else if significant {
        (
            format!(
                "grows {} units/sample ({ci}), below the floor of {} units/sample, and has not levelled off",
                fmt_num(s.slope),
                fmt_num(floor)
            ),
            plateau_need.max(n / 2),
        )
    } else {
        (
            format!(
                "no significant trend (slope {} units/sample, {ci}, p = {}) but no plateau of at least \
                 {} samples either",
                fmt_num(s.slope),
                fmt_p(post.mk.p_increasing),
                cfg.min_plateau
            ),
            plateau_need,
        )
    };
    let more = more.min(n.saturating_mul(10).max(1000));
    Analysis {
        verdict: Verdict::Inconclusive,
        slope: s.slope,
        slope_ci: (s.lo, s.hi),
        confidence: cfg.confidence,
        warmup_end: if plateau_flat { p } else { warm },
        plateau: plateau_flat.then_some(Plateau {
            start: p,
            level: plat_level,
        }),
        trend,
        total_growth,
        samples: n,
        more_samples: Some(more),
        floor,
        cycles: None,
        reason,
    }
}

/// Median level, of at most 4,097 evenly spaced points (the level only scales the relative floor and is
/// reported; an exact median of a million points would cost more than it is worth).
fn level_of(y: &[f64]) -> f64 {
    let step = y.len().div_ceil(4097).max(1);
    if step == 1 {
        return median(y);
    }
    let sample: Vec<f64> = y.iter().step_by(step).copied().collect();
    median(&sample)
}

fn total_growth(y: &[f64]) -> f64 {
    let n = y.len();
    if n == 0 {
        return 0.0;
    }
    let k = (n / 20).clamp(1, 50);
    median(&y[n - k..]) - median(&y[..k])
}

fn too_short(samples: &[f64], config: &Config, offset: usize, needed: usize) -> Analysis {
    let n = samples.len();
    let more = needed.saturating_sub(n).max(1);
    let judged = samples.get(offset..).unwrap_or(&[]);
    Analysis {
        verdict: Verdict::Inconclusive,
        slope: 0.0,
        slope_ci: (0.0, 0.0),
        confidence: config.confidence,
        warmup_end: offset.min(n),
        plateau: None,
        trend: TrendTest {
            statistic: 0.0,
            p_value: 1.0,
        },
        total_growth: total_growth(judged),
        samples: n,
        more_samples: Some(more),
        floor: config.min_slope,
        cycles: None,
        reason: format!(
            "only {n} samples; at least {needed} are needed ({} after a warm-up of {offset})",
            config.min_samples
        ),
    }
}

/// Formats a number for a sentence: about three significant digits, no exponent for ordinary values.
pub(crate) fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0.0".to_string()
    } else if !(1e-4..1e15).contains(&a) {
        format!("{x:.2e}")
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.1}")
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(2, 8) as usize;
        format!("{x:.digits$}")
    }
}

fn fmt_pct(c: f64) -> String {
    let p = c * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_num(8.0), "8.0");
        assert_eq!(fmt_num(1234.4), "1234");
        assert_eq!(fmt_num(0.125), "0.125");
        assert_eq!(fmt_num(0.0), "0.0");
        assert_eq!(fmt_num(-2.5), "-2.5");
        assert_eq!(fmt_pct(0.95), "95%");
        assert_eq!(fmt_pct(0.975), "97.5%");
    }

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
        assert!(a.slope_ci.0 <= 8.0 && 8.0 <= a.slope_ci.1, "{}", a.reason);
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
