//! The decision on prepared points (the samples, or a saw-tooth's cycle minima), in three steps:
//! gathering the evidence (levels, growth clock, plateau, trend after the warm-up), deciding by the
//! rules of docs/detection.md (one function each), and writing the [`Analysis`] with the outcome's reason.

use crate::config::{Config, NoiseModel};
pub(crate) use crate::fits::total_growth;
use crate::fits::{baseline_slope, fit, level_of, tail_warmup, thin, Baselines, Fit, Points};
use crate::outcome::{slope_of, Judged, Level, Outcome, Slope, Warming};
use crate::segment::{segments, Segment};
use crate::short::too_short_analysis;
use crate::stats::{mann_kendall, SenFit};
use crate::{Analysis, Plateau, TrendTest, Verdict};

/// The persistence check (is the later half still growing?) looks at no more than this many points.
const PERSIST_MAX_POINTS: usize = 2048;
/// How many quantum-step gaps (quantum / slope samples) a flat stretch of quantized data must span
/// before it counts as growth that stopped: a slow leak in 4 KiB pages is flat between its steps.
const STOPPED_STEP_GAPS: f64 = 4.0;
/// The fewest full saw-tooth cycles whose baselines can prove a final level flat (rule 3).
const BASELINE_MIN_CYCLES: usize = 8;
/// The fewest full cycles whose baselines' weighted slope can prove a measured saw-tooth flat (rule
/// 3, few cycles): the fit needs a degree of freedom to check their scatter against their errors.
const FEW_CYCLES_MIN: usize = 3;
/// A noisy plateau too short to prove its slope counts as growth that stopped when its one-sided
/// Mann–Kendall p-value is at least this (no upward tendency at all).
const QUIET_P: f64 = 0.2;

/// What the judged series and its settings are: the points, the number of samples `n` and the fixed
/// warm-up `offset` (the first point of `pts` stands for sample `offset`).
pub(crate) struct Input<'a> {
    pub config: &'a Config,
    /// The samples after a fixed warm-up (for the total growth).
    pub raw: &'a [f64],
    pub pts: &'a Points,
    pub sigma: f64,
    /// When `pts` are a saw-tooth's cycle minima: the baselines of its full cycles (with the error
    /// of each) and their noise.
    pub baselines: Option<(&'a Baselines, f64)>,
    pub n: usize,
    pub offset: usize,
}

/// The growth clock (rule 5): where the growth before the final level started.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Clock {
    /// Sample at which the clock (last) started.
    start: usize,
    /// Mean of the level the clock started from.
    level: f64,
    /// Length of the earlier plateau that restarted the clock (0: never restarted).
    reset_plateau: usize,
    /// Longest level between the clock's start and the final level: a pause in the growth.
    longest_pause: usize,
}

/// The measured facts about the final level.
struct PlateauFacts {
    /// Samples in all.
    n: usize,
    /// First sample of the final level.
    start: usize,
    /// Samples the final level has lasted.
    flat_len: usize,
    clock: Clock,
    /// Samples of growth before the final level (since the clock started).
    growth: usize,
    /// Median value of the final level.
    level: f64,
    /// The floor at that level.
    floor: f64,
    /// Points in the final level.
    points: usize,
    /// Mann–Kendall and Theil–Sen on the final level, when it is at least `min_plateau` long.
    fit: Option<Fit>,
}

impl PlateauFacts {
    /// The final level is flat: long enough to count and its whole slope interval at or below the floor.
    fn flat(&self) -> bool {
        self.fit.as_ref().is_some_and(|f| f.sen.hi <= self.floor)
    }
}

/// The measured facts about the trend after the warm-up.
struct TrendFacts {
    judged: Judged,
    fit: Fit,
    /// The floor at the median level after the warm-up.
    floor: f64,
    significant: bool,
    clears_floor: bool,
    /// False only when growth clears the floor but the later half shows no significant trend.
    persists: bool,
    /// Evidence that a warming runtime also produces (only with `Config::warming`).
    warming: Option<Warming>,
}

/// Rule 10 (warming runtimes): the later half's slope below this fraction of the earlier half's (or
/// an interval wholly below the earlier half's) is deceleration.
const DECELERATION: f64 = 0.5;
/// Rule 10 (warming runtimes): a creep judged over at least this many samples, its whole interval
/// below the floor, is Stable without a plateau.
const CREEP_MIN_SAMPLES: usize = 500;

/// Rule 10: a warming runtime's steady creep, proven below the floor over a long run.
fn creeps_below_floor(slope: Slope, t: &TrendFacts) -> bool {
    slope.hi <= t.floor && t.judged.samples >= CREEP_MIN_SAMPLES
}

/// Rule 10 (warming runtimes): a later half proven slower must also be slower than this fraction.
const SLOWER: f64 = 0.8;
/// Rule 10 (warming runtimes): growth of fewer quanta than this is a few page steps, not proof.
const MIN_QUANTA: f64 = 8.0;

/// Judges prepared points. `minima_rise`: with one or two saw-tooth drops, whether the cycle minima
/// strictly rise (`None` without drops or when the points are the cycle minima).
pub(crate) fn judge(input: &Input, minima_rise: Option<bool>) -> Analysis {
    let cfg = input.config;
    let Some(plateau) = plateau_facts(input) else {
        // No points at all (not reached: `analyze` judges at least `min_samples` samples).
        return too_short_analysis(&[], cfg, input.offset);
    };
    if let Some((outcome, fit)) = decide_plateau(&plateau, cfg, false) {
        return plateau_analysis(input, &plateau, fit, outcome);
    }
    if let Some(analysis) = baselines_plateau(input) {
        return analysis;
    }
    let trend = trend_facts(input);
    let outcome = decide_trend(&plateau, &trend, cfg, minima_rise);
    // Rule 3, few cycles: only what would be Inconclusive can still be proven Stable.
    if outcome.verdict() == Verdict::Inconclusive {
        if let Some(analysis) = few_cycles_flat(input) {
            return analysis;
        }
    }
    trend_analysis(input, &plateau, &trend, outcome)
}

// ---- Gathering the evidence ----

/// Levels, growth clock and the final level's fit; `None` when there are no points.
fn plateau_facts(input: &Input) -> Option<PlateauFacts> {
    let (cfg, pts) = (input.config, input.pts);
    let mut segs = segments(&pts.y, input.sigma, cfg.min_plateau);
    if matches!(cfg.noise, NoiseModel::Noisy { .. }) && segs.len() > 1 {
        let floor = floor_at(cfg, level_of(&pts.y));
        segs = merge_irrelevant_levels(segs, pts, input.n, floor);
    }
    let last = *segs.last()?;
    let (start, _) = span(pts, input.n, &last);
    let clock = growth_clock(&segs, pts, input.n, input.offset, cfg.min_plateau);
    let flat_len = input.n - start;
    let (plat_t, plat_y) = (&pts.t[last.a..], &pts.y[last.a..]);
    let level = level_of(plat_y);
    // The final level's own fit is only needed when it is long enough to count.
    let fit = (flat_len >= cfg.min_plateau && plat_y.len() >= 2)
        .then(|| fit(plat_t, plat_y, cfg.confidence));
    Some(PlateauFacts {
        n: input.n,
        start,
        flat_len,
        clock,
        growth: start - clock.start,
        level,
        floor: floor_at(cfg, level),
        points: pts.y.len() - last.a,
        fit,
    })
}

/// The trend after the warm-up (rules 6, 7 and 9).
fn trend_facts(input: &Input) -> TrendFacts {
    let (cfg, pts) = (input.config, input.pts);
    let w = tail_warmup(pts, input.sigma);
    let fit = fit(&pts.t[w..], &pts.y[w..], cfg.confidence);
    let warm = pts.start[w];
    let floor = floor_at(cfg, level_of(&pts.y[w..]));
    let alpha = 1.0 - cfg.confidence;
    let significant = significant_growth(&fit, alpha);
    let clears_floor = significant && clears_floor(fit.sen, floor);
    let late = w + (pts.y.len() - w) / 2;
    let persists = !clears_floor || growth_persists(&pts.y[late..], alpha);
    let warming = (cfg.warming && clears_floor)
        .then(|| warming_evidence(pts, w, fit.sen.slope, cfg))
        .flatten();
    TrendFacts {
        judged: Judged {
            samples: input.n - warm,
            warmup_end: warm,
        },
        fit,
        floor,
        significant,
        clears_floor,
        persists,
        warming,
    }
}

/// Rule 10: deceleration between the halves of all the points (the warm-up included: a runtime's
/// warm-up is where its growth is steepest; Theil–Sen slopes, so a start-up jump of a few samples
/// does not count), or growth (`slope` over the judged points from `w`) of fewer than
/// [`MIN_QUANTA`] quanta.
fn warming_evidence(pts: &Points, w: usize, slope: f64, cfg: &Config) -> Option<Warming> {
    let half = |a: usize, b: usize| fit(&pts.t[a..b], &pts.y[a..b], cfg.confidence).sen;
    let end = pts.y.len();
    let mid = end / 2;
    if mid >= 8 && end - mid >= 8 {
        let (early, late) = (half(0, mid), half(mid, end));
        // Slower by more than half, or beyond doubt (the intervals do not overlap) and by more than
        // a fifth: an exact leak's halves differ by a few percent with intervals that do not overlap.
        let clearly = late.hi < early.lo && late.slope < SLOWER * early.slope;
        if early.slope > 0.0 && (clearly || late.slope < DECELERATION * early.slope) {
            return Some(Warming::Decelerating {
                early: early.slope,
                late: late.slope,
            });
        }
    }
    let quantum = match cfg.noise {
        NoiseModel::Noisy { quantum } if quantum > 0.0 => quantum,
        _ => return None,
    };
    let span = pts.t[end - 1] - pts.t[w];
    let quanta = slope * span / quantum;
    (quanta < MIN_QUANTA).then_some(Warming::FewQuanta { quanta })
}

/// The samples `[a, b)` a segment of points covers.
fn span(pts: &Points, n: usize, s: &Segment) -> (usize, usize) {
    let a = pts.start[s.a];
    let b = if s.b < pts.y.len() { pts.start[s.b] } else { n };
    (a, b)
}

fn seg_mean(pts: &Points, s: &Segment) -> f64 {
    pts.y[s.a..s.b].iter().sum::<f64>() / (s.b - s.a).max(1) as f64
}

/// The floor at a level: `max(min_slope, min_relative_slope × |level|)` units per sample.
pub(crate) fn floor_at(config: &Config, level: f64) -> f64 {
    config
        .min_slope
        .max(config.min_relative_slope * level.abs())
}

// ---- The rules ----

/// Rule 4 (measured data): neighbouring levels whose difference is smaller than growth at the floor rate
/// would make over the two are one level: significant, but not growth worth reporting. (Exact data keeps
/// every change, so that a drip below the floor never looks like a plateau.)
fn merge_irrelevant_levels(segs: Vec<Segment>, pts: &Points, n: usize, floor: f64) -> Vec<Segment> {
    let mut merged: Vec<Segment> = Vec::with_capacity(segs.len());
    for s in segs {
        if let Some(prev) = merged.last_mut() {
            let (pa, pb) = span(pts, n, prev);
            let (sa, sb) = span(pts, n, &s);
            let reach = floor * ((pb - pa) + (sb - sa)) as f64 / 2.0;
            if (seg_mean(pts, &s) - seg_mean(pts, prev)).abs() < reach {
                prev.b = s.b;
                continue;
            }
        }
        merged.push(s);
    }
    merged
}

/// Rule 5, the growth clock: starts at the first sample and restarts at the end of an earlier level that
/// lasted at least `min_plateau` samples and more than twice its own start (a bounded cache that resized
/// once, late). The levels between the clock and the final level are pauses in the growth.
fn growth_clock(
    segs: &[Segment],
    pts: &Points,
    n: usize,
    offset: usize,
    min_plateau: usize,
) -> Clock {
    let mut clock = Clock {
        start: offset,
        level: seg_mean(pts, &segs[0]),
        reset_plateau: 0,
        longest_pause: 0,
    };
    for s in &segs[..segs.len() - 1] {
        let (a, b) = span(pts, n, s);
        let len = b - a;
        if len >= min_plateau && len > 2 * (a - offset) {
            clock = Clock {
                start: b,
                level: seg_mean(pts, s),
                reset_plateau: len,
                longest_pause: 0,
            };
        } else {
            clock.longest_pause = clock.longest_pause.max(len);
        }
    }
    clock
}

/// Rule 5, the plateau rule: the final level is flat (at least `min_plateau` samples, slope interval at
/// or below the floor), has lasted at least `plateau_margin` × the growth before it, and, after a restart
/// of the clock, longer than the level that restarted it.
fn plateau_proven(f: &PlateauFacts, config: &Config) -> bool {
    f.flat()
        && f.flat_len as f64 >= config.plateau_margin * f.growth as f64
        && f.flat_len > f.clock.reset_plateau
}

/// Whether a plateau whose slope interval lies strictly above zero (proven growth, below the floor) may
/// be Stable: yes for measured data (the floor is the tolerance for drift) and for exact data with a
/// relative floor (heap bytes, where 1% of flat jittered series show such an interval by chance); no
/// for exact data with an absolute floor only (counts of fds or threads, where every unit is a resource
/// and a chance interval above zero is rare).
fn stable_may_grow_below_floor(config: &Config) -> bool {
    !(config.noise == NoiseModel::Exact && config.min_relative_slope == 0.0)
}

/// Rule 7: a significant increasing Mann–Kendall trend (one-sided p below `alpha`) with a positive slope.
fn significant_growth(fit: &Fit, alpha: f64) -> bool {
    fit.mk.p_increasing < alpha && fit.sen.slope > 0.0
}

/// Rule 7: the whole slope interval is above zero and at or above the floor.
fn clears_floor(sen: SenFit, floor: f64) -> bool {
    sen.lo > 0.0 && sen.lo >= floor
}

/// Rule 8: growth that stopped. The final level is flat, or quiet (too short to prove its slope, but with
/// no upward tendency at all and at least a quarter of the growth long); it is longer than every pause
/// seen during the growth; and, for quantized data, it spans at least `STOPPED_STEP_GAPS` step gaps.
fn growth_stopped(f: &PlateauFacts, noise: NoiseModel) -> bool {
    (f.flat() || plateau_quiet(f))
        && f.flat_len > f.clock.longest_pause
        && f.flat_len as f64 > STOPPED_STEP_GAPS * step_gap(f, noise)
}

/// Rule 8: a final level with no upward tendency (one-sided p ≥ 0.2) lasting a quarter of the growth.
fn plateau_quiet(f: &PlateauFacts) -> bool {
    f.fit
        .as_ref()
        .is_some_and(|fit| fit.mk.p_increasing >= QUIET_P)
        && 4 * f.flat_len >= f.growth
}

/// Rule 8: quantized data growing at rate r stays flat for about quantum / r samples between steps; r is
/// the rate of the growth before the final level (a cache that filled fast has short gaps, a slow leak
/// in pages long ones). 0 for exact data or without growth.
fn step_gap(f: &PlateauFacts, noise: NoiseModel) -> f64 {
    let rate = if f.growth > 0 {
        (f.level - f.clock.level) / f.growth as f64
    } else {
        0.0
    };
    match noise {
        NoiseModel::Noisy { quantum } if rate > 0.0 && quantum > 0.0 => quantum / rate,
        _ => 0.0,
    }
}

/// Rule 9: the later half of the judged part shows a significant increasing trend of its own (on at most
/// `PERSIST_MAX_POINTS` thinned points); with fewer than 8 points there is nothing to contradict.
fn growth_persists(late: &[f64], alpha: f64) -> bool {
    late.len() < 8 || mann_kendall(&thin(late, PERSIST_MAX_POINTS)).p_increasing < alpha
}

// ---- Deciding ----

/// Stable by the plateau rule (or, for exact counts still rising within the floor, Inconclusive), with
/// the fit that proved the final level flat; `None` when the plateau rule does not hold. `baselines`:
/// the points are saw-tooth cycle baselines, of which the final level must hold `BASELINE_MIN_CYCLES`.
fn decide_plateau<'f>(
    f: &'f PlateauFacts,
    config: &Config,
    baselines: bool,
) -> Option<(Outcome, &'f Fit)> {
    let fit = f.fit.as_ref().filter(|_| plateau_proven(f, config))?;
    if baselines && f.points < BASELINE_MIN_CYCLES {
        return None;
    }
    let slope = slope_of(fit.sen, config.confidence);
    let plateau = Level {
        value: f.level,
        samples: f.flat_len,
    };
    let (floor, model) = (f.floor, config.model_name());
    let outcome = if slope.lo > 0.0 && !stable_may_grow_below_floor(config) {
        Outcome::RisingWithinFloor {
            plateau,
            slope,
            floor,
            model,
            more: f.flat_len,
        }
    } else if baselines {
        Outcome::BaselinesFlat {
            plateau,
            cycles: f.points,
            slope,
            floor,
            model,
        }
    } else if f.growth > 0 {
        Outcome::PlateauProven {
            plateau,
            growth: f.growth,
            slope,
            floor,
            model,
        }
    } else {
        Outcome::FlatThroughout {
            plateau,
            slope,
            floor,
            model,
        }
    };
    Some((outcome, fit))
}

/// Leaking, or why not: the trend rules on a series the plateau rule did not prove Stable.
fn decide_trend(
    f: &PlateauFacts,
    t: &TrendFacts,
    config: &Config,
    minima_rise: Option<bool>,
) -> Outcome {
    let stopped = growth_stopped(f, config.noise);
    // Rule 3: with one or two drops, only cycle minima that strictly rise can be a leak.
    let ambiguous_drops = minima_rise == Some(false);
    let slope = slope_of(t.fit.sen, config.confidence);
    if t.clears_floor && !stopped && !ambiguous_drops && t.persists {
        if let Some(evidence) = t.warming {
            return Outcome::StillWarming {
                slope,
                evidence,
                more: t.judged.samples,
            };
        }
        return Outcome::GrowthProven {
            slope,
            judged: t.judged,
        };
    }
    if config.warming && !t.clears_floor && creeps_below_floor(slope, t) {
        return Outcome::CreepBelowFloor {
            slope,
            floor: t.floor,
            judged: t.judged,
        };
    }
    let need = plateau_need(f, config);
    let plateau = Level {
        value: f.level,
        samples: f.flat_len,
    };
    if stopped || (f.flat() && !t.clears_floor) {
        return if f.clock.reset_plateau > 0 && f.flat_len <= f.clock.reset_plateau {
            Outcome::PlateauAfterStep {
                plateau,
                step_at: f.start,
                previous: f.clock.reset_plateau,
                need,
            }
        } else {
            Outcome::PlateauTooShort {
                plateau,
                growth: f.growth,
                need,
            }
        };
    }
    decide_unproven_growth(f, t, config, slope, ambiguous_drops)
}

/// Inconclusive without a flat final level: growth that faded, ambiguous drops, an interval that does
/// not clear the floor, growth below the floor, or no trend at all.
fn decide_unproven_growth(
    f: &PlateauFacts,
    t: &TrendFacts,
    config: &Config,
    slope: Slope,
    ambiguous_drops: bool,
) -> Outcome {
    let judged = t.judged;
    let need = plateau_need(f, config);
    if t.clears_floor && !t.persists {
        Outcome::GrowthFaded {
            slope,
            judged,
            more: need.max(judged.samples / 2),
        }
    } else if ambiguous_drops && t.clears_floor {
        Outcome::DropsAmbiguous { slope, more: f.n }
    } else if t.significant && slope.slope > t.floor {
        Outcome::FloorNotCleared {
            slope,
            judged,
            floor: t.floor,
            more: more_to_clear_floor(slope, t.floor, judged.samples, f.n),
        }
    } else if t.significant {
        Outcome::GrowthBelowFloor {
            slope,
            floor: t.floor,
            more: need.max(f.n / 2),
        }
    } else {
        Outcome::NoTrendNoPlateau {
            slope,
            p_value: t.fit.mk.p_increasing,
            min_plateau: config.min_plateau,
            more: need,
        }
    }
}

/// How many more samples would make the final level long enough for the plateau rule (at least 1).
fn plateau_need(f: &PlateauFacts, config: &Config) -> usize {
    ((config.plateau_margin * f.growth as f64).ceil() as usize)
        .max(config.min_plateau)
        .max(f.clock.reset_plateau + 1)
        .saturating_sub(f.flat_len)
        .max(1)
}

/// How many more samples would likely shrink the slope interval enough to clear the floor: its
/// half-width falls as samples^-1.5, and at least a quarter more is asked for.
fn more_to_clear_floor(slope: Slope, floor: f64, judged: usize, n: usize) -> usize {
    let half = ((slope.hi - slope.lo) / 2.0).max(f64::MIN_POSITIVE);
    let ratio = half / (slope.slope - floor);
    let target = (judged as f64 * ratio.powf(2.0 / 3.0)).ceil();
    if target.is_finite() {
        (target as usize)
            .saturating_sub(judged)
            .max(judged / 4)
            .max(1)
    } else {
        n
    }
}

/// Rule 3, saw-tooth baselines: the plateau rule on the baselines of a saw-tooth's full cycles, whose
/// final level must hold at least `BASELINE_MIN_CYCLES` of them. A cycle's minimum carries the noise of
/// one sample; its baseline, that of the whole cycle averaged.
fn baselines_plateau(input: &Input) -> Option<Analysis> {
    let (baselines, sigma) = input.baselines?;
    let b = Input {
        pts: &baselines.pts,
        sigma,
        baselines: None,
        ..*input
    };
    let f = plateau_facts(&b)?;
    let (outcome, fit) = decide_plateau(&f, input.config, true)?;
    Some(plateau_analysis(&b, &f, fit, outcome))
}

/// Rule 3, few cycles: a saw-tooth of 3 to 7 full cycles is Stable when the least-squares
/// slope of its cycle baselines has its interval at or below the floor (`baseline_slope`: the wider
/// of the interval from the baselines' own errors, each the noise of a whole cycle averaged, and the
/// Student-t interval from their scatter), and the cycles span at least `plateau_margin` times the
/// samples before the first of them. Too few baselines for the plateau rule, but each is precise:
/// 5 regular cycles of 60 samples with ±16 KiB of noise bound the slope to about ±20 B/sample,
/// under the 41 B/sample floor of RSS.
fn few_cycles_flat(input: &Input) -> Option<Analysis> {
    let cfg = input.config;
    let (baselines, _) = input.baselines?;
    let pts = &baselines.pts;
    let cycles = pts.y.len();
    if !(FEW_CYCLES_MIN..BASELINE_MIN_CYCLES).contains(&cycles) {
        return None;
    }
    let start = pts.start[0];
    if ((input.n - start) as f64) < cfg.plateau_margin * (start - input.offset) as f64 {
        return None;
    }
    let (slope, half) = baseline_slope(baselines, cfg.confidence)?;
    let level = level_of(&pts.y);
    let floor = floor_at(cfg, level);
    // Counts that grow are not Stable, even below the floor (rule 5).
    let rising = slope - half > 0.0 && !stable_may_grow_below_floor(cfg);
    if slope + half > floor || rising {
        return None;
    }
    let mut fit = fit(&pts.t, &pts.y, cfg.confidence);
    fit.sen = SenFit {
        slope,
        lo: slope - half,
        hi: slope + half,
    };
    let outcome = Outcome::CyclesFlat {
        plateau: Level {
            value: level,
            samples: input.n - start,
        },
        cycles,
        slope: slope_of(fit.sen, cfg.confidence),
        floor,
        model: cfg.model_name(),
    };
    let plateau = Some(Plateau { start, level });
    Some(analysis(input, outcome, &fit, start, plateau, floor))
}

// ---- Writing the analysis ----

/// The analysis of a proven plateau: slope and trend test of the fit that proved it flat, the warm-up
/// ends where it starts.
fn plateau_analysis(input: &Input, f: &PlateauFacts, fit: &Fit, outcome: Outcome) -> Analysis {
    analysis(
        input,
        outcome,
        fit,
        f.start,
        Some(Plateau {
            start: f.start,
            level: f.level,
        }),
        f.floor,
    )
}

/// A Leaking or Inconclusive analysis: slope and trend test of the part after the warm-up.
fn trend_analysis(input: &Input, f: &PlateauFacts, t: &TrendFacts, outcome: Outcome) -> Analysis {
    let leaking = outcome.verdict() == Verdict::Leaking;
    let flat = !leaking && f.flat();
    analysis(
        input,
        outcome,
        &t.fit,
        if flat { f.start } else { t.judged.warmup_end },
        flat.then_some(Plateau {
            start: f.start,
            level: f.level,
        }),
        t.floor,
    )
}

fn analysis(
    input: &Input,
    outcome: Outcome,
    fit: &Fit,
    warmup_end: usize,
    plateau: Option<Plateau>,
    floor: f64,
) -> Analysis {
    Analysis {
        verdict: outcome.verdict(),
        slope: Some(fit.sen.slope),
        slope_ci: Some((fit.sen.lo, fit.sen.hi)),
        confidence: input.config.confidence,
        warmup_end,
        plateau,
        trend: TrendTest {
            statistic: fit.mk.z,
            p_value: fit.mk.p_increasing,
        },
        total_growth: total_growth(input.raw),
        samples: input.n,
        more_samples: outcome.more_samples(input.n),
        floor,
        cycles: None,
        reason: outcome.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::MannKendall;

    fn points(y: &[f64]) -> Points {
        Points {
            t: (0..y.len()).map(|i| i as f64).collect(),
            start: (0..y.len()).collect(),
            y: y.to_vec(),
        }
    }

    fn seg(a: usize, b: usize) -> Segment {
        Segment { a, b }
    }

    fn fit_of(lo: f64, hi: f64, p_increasing: f64) -> Fit {
        Fit {
            mk: MannKendall {
                s: 0.0,
                var_s: 1.0,
                z: 0.0,
                p_increasing,
            },
            sen: SenFit {
                slope: (lo + hi) / 2.0,
                lo,
                hi,
            },
        }
    }

    /// A final level of `flat_len` samples after `growth` samples of growth from level 0 to 100.
    fn facts(flat_len: usize, growth: usize, fit: Option<Fit>) -> PlateauFacts {
        PlateauFacts {
            n: growth + flat_len,
            start: growth,
            flat_len,
            clock: Clock {
                start: 0,
                level: 0.0,
                reset_plateau: 0,
                longest_pause: 0,
            },
            growth,
            level: 100.0,
            floor: 1.0,
            points: flat_len,
            fit,
        }
    }

    const NOISY: NoiseModel = NoiseModel::Noisy { quantum: 4096.0 };

    #[test]
    fn measured_levels_closer_than_floor_growth_are_merged() {
        // Two levels of 10 samples each: growth at 1 unit/sample over them reaches 10 units.
        let y: Vec<f64> = (0..20).map(|i| if i < 10 { 0.0 } else { 9.0 }).collect();
        let pts = points(&y);
        let merged = merge_irrelevant_levels(vec![seg(0, 10), seg(10, 20)], &pts, 20, 1.0);
        assert_eq!(merged, vec![seg(0, 20)]);
        let y: Vec<f64> = (0..20).map(|i| if i < 10 { 0.0 } else { 11.0 }).collect();
        let kept = merge_irrelevant_levels(vec![seg(0, 10), seg(10, 20)], &points(&y), 20, 1.0);
        assert_eq!(kept.len(), 2);
    }

    #[test]
    fn the_growth_clock_restarts_after_a_long_early_plateau() {
        // Growth over 0..5, a plateau 5..40 (35 > 2 * 5), one more step, then the final level.
        let y: Vec<f64> = (0..60)
            .map(|i| match i {
                0..=4 => i as f64,
                5..=39 => 5.0,
                40..=44 => 6.0,
                _ => 7.0,
            })
            .collect();
        let pts = points(&y);
        let segs = [seg(0, 1), seg(1, 2), seg(2, 3), seg(3, 4), seg(4, 5)];
        let mut all = segs.to_vec();
        all.extend([seg(5, 40), seg(40, 45), seg(45, 60)]);
        let clock = growth_clock(&all, &pts, 60, 0, 10);
        assert_eq!(clock.start, 40);
        assert_eq!(clock.level, 5.0);
        assert_eq!(clock.reset_plateau, 35);
        assert_eq!(clock.longest_pause, 5);
        // Without the long plateau the clock stays at the first sample; levels are pauses.
        let clock = growth_clock(&segs, &pts, 60, 0, 10);
        assert_eq!(
            (clock.start, clock.reset_plateau, clock.longest_pause),
            (0, 0, 1)
        );
    }

    #[test]
    fn the_plateau_rule_needs_flatness_margin_and_to_outlast_a_restart() {
        let cfg = Config::heap();
        let flat = Some(fit_of(-0.5, 0.5, 0.5));
        assert!(plateau_proven(&facts(150, 100, flat), &cfg));
        assert!(!plateau_proven(&facts(149, 100, flat), &cfg));
        // Interval above the floor: not flat.
        assert!(!plateau_proven(
            &facts(150, 100, Some(fit_of(0.5, 1.5, 0.5))),
            &cfg
        ));
        // Too short to have a fit.
        assert!(!plateau_proven(&facts(150, 100, None), &cfg));
        let mut after_reset = facts(150, 100, flat);
        after_reset.clock.reset_plateau = 150;
        assert!(!plateau_proven(&after_reset, &cfg));
    }

    #[test]
    fn proven_growth_below_the_floor_is_stable_except_for_counts() {
        assert!(stable_may_grow_below_floor(&Config::heap()));
        assert!(stable_may_grow_below_floor(&Config::rss()));
        assert!(!stable_may_grow_below_floor(&Config::counts()));
        let rising = Some(fit_of(0.2, 0.6, 0.01));
        let f = facts(150, 100, rising);
        let (heap, _) = decide_plateau(&f, &Config::heap(), false).unwrap();
        assert_eq!(heap.verdict(), Verdict::Stable);
        assert!(heap.to_string().ends_with(
            "it grows 0.400 units/sample (95% CI 0.200..0.600), above zero but below the floor of 1.0 \
             units/sample (heap model)"
        ));
        let (counts, _) = decide_plateau(&f, &Config::counts(), false).unwrap();
        assert!(matches!(
            counts,
            Outcome::RisingWithinFloor { more: 150, .. }
        ));
        assert_eq!(counts.verdict(), Verdict::Inconclusive);
        // An interval reaching zero is no proof of growth: Stable with either.
        let f = facts(150, 100, Some(fit_of(0.0, 0.6, 0.01)));
        let (counts, _) = decide_plateau(&f, &Config::counts(), false).unwrap();
        assert_eq!(counts.verdict(), Verdict::Stable);
    }

    #[test]
    fn cycle_baselines_need_eight_cycles_in_the_final_level() {
        let flat = Some(fit_of(-0.5, 0.5, 0.5));
        let mut f = facts(150, 0, flat);
        f.points = 7;
        assert_eq!(decide_plateau(&f, &Config::rss(), true), None);
        f.points = 8;
        let (o, _) = decide_plateau(&f, &Config::rss(), true).unwrap();
        assert!(matches!(o, Outcome::BaselinesFlat { cycles: 8, .. }));
        assert_eq!(o.verdict(), Verdict::Stable);
    }

    #[test]
    fn leaking_needs_significance_and_the_whole_interval_above_the_floor() {
        assert!(significant_growth(&fit_of(1.0, 3.0, 0.01), 0.05));
        assert!(!significant_growth(&fit_of(1.0, 3.0, 0.06), 0.05));
        assert!(!significant_growth(&fit_of(-3.0, 0.0, 0.01), 0.05));
        assert!(clears_floor(fit_of(1.0, 3.0, 0.0).sen, 1.0));
        assert!(!clears_floor(fit_of(0.9, 3.0, 0.0).sen, 1.0));
        assert!(!clears_floor(fit_of(0.0, 3.0, 0.0).sen, 0.0));
    }

    #[test]
    fn growth_stopped_when_the_final_level_outlasts_every_pause() {
        let flat = Some(fit_of(-0.5, 0.5, 0.5));
        let mut f = facts(20, 100, flat);
        assert!(growth_stopped(&f, NoiseModel::Exact));
        f.clock.longest_pause = 20;
        assert!(!growth_stopped(&f, NoiseModel::Exact));
        // Not flat and not quiet (an upward tendency): not stopped.
        let f = facts(20, 100, Some(fit_of(0.5, 5.0, 0.1)));
        assert!(!growth_stopped(&f, NoiseModel::Exact));
    }

    #[test]
    fn a_quiet_level_has_no_upward_tendency_and_a_quarter_of_the_growth() {
        let loud = Some(fit_of(-5.0, 5.0, 0.19));
        let quiet = Some(fit_of(-5.0, 5.0, 0.2));
        assert!(plateau_quiet(&facts(25, 100, quiet)));
        assert!(!plateau_quiet(&facts(24, 100, quiet)));
        assert!(!plateau_quiet(&facts(25, 100, loud)));
        assert!(!plateau_quiet(&facts(25, 100, None)));
    }

    #[test]
    fn quantized_growth_is_flat_between_steps() {
        // Growth of 100 units over 100 samples in quanta of 4096: a step every 4096 samples.
        let f = facts(20, 100, Some(fit_of(-0.5, 0.5, 0.5)));
        assert_eq!(step_gap(&f, NOISY), 4096.0);
        assert_eq!(step_gap(&f, NoiseModel::Exact), 0.0);
        assert!(!growth_stopped(&f, NOISY));
        assert!(growth_stopped(&f, NoiseModel::Exact));
        assert_eq!(step_gap(&facts(20, 0, None), NOISY), 0.0);
    }

    #[test]
    fn growth_persists_when_the_later_half_still_rises() {
        let rising: Vec<f64> = (0..50).map(f64::from).collect();
        let flat = vec![3.0; 50];
        assert!(growth_persists(&rising, 0.05));
        assert!(!growth_persists(&flat, 0.05));
        assert!(growth_persists(&flat[..7], 0.05));
    }

    #[test]
    fn more_samples_estimates() {
        let cfg = Config::heap();
        assert_eq!(plateau_need(&facts(20, 100, None), &cfg), 130);
        assert_eq!(plateau_need(&facts(2, 0, None), &cfg), 8);
        assert_eq!(plateau_need(&facts(500, 100, None), &cfg), 1);
        // Interval half-width 1 around 3 against a floor of 1: (1/2)^(2/3) x 100 samples is fewer than
        // there are, so a quarter more.
        let s = slope_of(fit_of(2.0, 4.0, 0.0).sen, 0.95);
        assert_eq!(more_to_clear_floor(s, 1.0, 100, 120), 25);
        // Half-width 21.25 around 1.25 against 1: 85^(2/3) x 100 samples in all.
        let wide = Slope {
            slope: 1.25,
            lo: -20.0,
            hi: 22.5,
            confidence: 0.95,
        };
        assert_eq!(more_to_clear_floor(wide, 1.0, 100, 120), 1834);
        // On the floor itself no number of samples would do: as many again as there are.
        assert_eq!(more_to_clear_floor(wide, 1.25, 100, 120), 120);
    }

    #[test]
    fn decisions_name_their_outcome() {
        let cfg = Config::heap();
        let flat = Some(fit_of(-0.5, 0.5, 0.5));
        let decide = |f: &PlateauFacts| decide_plateau(f, &cfg, false).map(|(o, _)| o);
        let proven = decide(&facts(150, 100, flat));
        assert!(matches!(
            proven,
            Some(Outcome::PlateauProven { growth: 100, .. })
        ));
        let throughout = decide(&facts(150, 0, flat));
        assert!(matches!(throughout, Some(Outcome::FlatThroughout { .. })));
        assert_eq!(decide(&facts(100, 100, flat)), None);

        let trend = |clears: bool, persists: bool| TrendFacts {
            judged: Judged {
                samples: 200,
                warmup_end: 0,
            },
            fit: fit_of(2.0, 4.0, 0.001),
            floor: 1.0,
            significant: true,
            clears_floor: clears,
            persists,
            warming: None,
        };
        let rising = facts(5, 195, None);
        let d = |t: &TrendFacts, rise| decide_trend(&rising, t, &cfg, rise);
        // Rule 10: proven growth with a warming runtime's evidence is Inconclusive.
        let mut warming = trend(true, true);
        warming.warming = Some(Warming::FewQuanta { quanta: 3.0 });
        assert!(matches!(
            d(&warming, None),
            Outcome::StillWarming { more: 200, .. }
        ));
        assert!(matches!(
            d(&trend(true, true), None),
            Outcome::GrowthProven { .. }
        ));
        assert!(matches!(
            d(&trend(true, false), None),
            Outcome::GrowthFaded { .. }
        ));
        assert!(matches!(
            d(&trend(true, true), Some(false)),
            Outcome::DropsAmbiguous { .. }
        ));
        assert!(matches!(
            d(&trend(true, true), Some(true)),
            Outcome::GrowthProven { .. }
        ));
        assert!(matches!(
            d(&trend(false, true), None),
            Outcome::FloorNotCleared { .. }
        ));
        let stopped = facts(100, 100, flat);
        assert!(matches!(
            decide_trend(&stopped, &trend(true, true), &cfg, None),
            Outcome::PlateauTooShort { need: 50, .. }
        ));
    }
}
