//! A series too short to judge: Inconclusive, with the estimate so far when there is one.

use crate::config::Config;
use crate::fits::{fit, min_estimate_points, total_growth};
use crate::outcome::{slope_of, Outcome};
use crate::{Analysis, TrendTest};

/// The analysis of a series too short to judge (`samples` are all the samples given, the first
/// `offset` a fixed warm-up): Inconclusive, with the slope of the samples after the warm-up and its
/// interval when there are enough of them for one ([`min_estimate_points`]), never a zero that was
/// not measured.
pub(crate) fn too_short_analysis(samples: &[f64], config: &Config, offset: usize) -> Analysis {
    let n = samples.len();
    let judged = samples.get(offset..).unwrap_or(&[]);
    let estimate = (judged.len() >= min_estimate_points(config.confidence)).then(|| {
        let t: Vec<f64> = (offset..n).map(|i| i as f64).collect();
        fit(&t, judged, config.confidence)
    });
    let outcome = Outcome::TooShort {
        samples: n,
        needed: offset.saturating_add(config.min_samples),
        min_samples: config.min_samples,
        offset,
        estimate: estimate.map(|e| slope_of(e.sen, config.confidence)),
    };
    Analysis {
        verdict: outcome.verdict(),
        slope: estimate.map(|e| e.sen.slope),
        slope_ci: estimate.map(|e| (e.sen.lo, e.sen.hi)),
        confidence: config.confidence,
        warmup_end: offset.min(n),
        plateau: None,
        trend: estimate.map_or(
            TrendTest {
                statistic: 0.0,
                p_value: 1.0,
            },
            |e| TrendTest {
                statistic: e.mk.z,
                p_value: e.mk.p_increasing,
            },
        ),
        total_growth: total_growth(judged),
        samples: n,
        more_samples: outcome.more_samples(n),
        floor: config.min_slope,
        cycles: None,
        reason: outcome.to_string(),
    }
}
