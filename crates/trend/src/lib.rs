//! leakproof-trend: is this series of memory samples growing?
//!
//! A workload is repeated and memory (or open file descriptors, or threads) is sampled after each
//! repetition. [`analyze`] judges the series: [`Verdict::Stable`], [`Verdict::Leaking`] (with a slope in
//! units per sample and its confidence interval) or [`Verdict::Inconclusive`] (not yet known; with an
//! estimate of how many more samples would likely decide it, in [`Analysis::more_samples`]).
//!
//! The crate is pure statistics: no I/O, no allocator tricks, no dependency on the rest of leakproof.
//!
//! # How it decides
//! 1. **Noise** is estimated robustly from the second differences (MAD), never below the quantization error
//!    of a [`NoiseModel::Noisy`] series.
//! 2. **Saw-tooths**: drops larger than `max(8σ√2, 5% of the range)` are detected; with three or more, each
//!    cycle is represented by its minimum and the cycle minima are judged instead of the raw samples; when
//!    they prove no plateau, the baselines of at least 8 full cycles (each cycle's fitted line at its
//!    start, which averages the cycle's noise) may; with 3 to 7 full cycles, a baseline slope whose
//!    interval (from the cycles' noise and, by Student's t, from the baselines' scatter) lies below
//!    the floor.
//! 3. **Levels** are segmented (runs of equal values for exact data, binary segmentation otherwise).
//! 4. **Plateau rule**: the series is [`Verdict::Stable`] when its final flat stretch is at least
//!    [`Config::plateau_margin`] (1.5) times as long as the growth before it and its Theil–Sen slope
//!    interval lies below the floor (an interval above zero, growth below the floor, is Stable for the
//!    `heap` and `rss` models, said so in the reason, but not for `counts`). The growth clock restarts after an earlier plateau that lasted more
//!    than twice its start; the final plateau must then also outlast that earlier one.
//! 5. **Trend**: after the warm-up (where the series joins its late trend line), a Mann–Kendall test with
//!    tie correction and a Theil–Sen slope with its confidence interval. [`Verdict::Leaking`] needs a
//!    significant test *and* the whole interval at or above the floor
//!    `max(min_slope, min_relative_slope × level)`, and growth that has not visibly stopped and still
//!    shows in the later half of the series.
//! 6. Anything else is [`Verdict::Inconclusive`].
//!
//! Cost: O(n log n). Theil–Sen is exact up to 512 points and uses sampled pairs above; Mann–Kendall
//! counts inversions with a Fenwick tree on at most 8,192 (systematically thinned) points; 10^4 samples
//! take under a millisecond, 10^6 about 0.1 s.
//!
//! Presets: [`Config::heap`] (exact byte counts, the default), [`Config::rss`] (page-quantized, noisy RSS)
//! and [`Config::counts`] (small exact counts such as open fds). Error rates on a labelled corpus of
//! generated series are published in the repository's `docs/detection.md`.
//!
//! # Example
//! ```
//! use leakproof_trend::{analyze, Config, Verdict};
//!
//! // 30 samples of warm-up, then 8 bytes more after every iteration on a 10 MB heap.
//! let samples: Vec<f64> = (0..300)
//!     .map(|i| 10e6 + if i < 30 { 1000.0 * i as f64 } else { 30_000.0 + 8.0 * (i - 30) as f64 })
//!     .collect();
//! let analysis = analyze(&samples, &Config::heap()).unwrap();
//! assert_eq!(analysis.verdict, Verdict::Leaking);
//! assert_eq!(analysis.slope, Some(8.0));
//! println!("{}", analysis.reason);
//!
//! // A cache that fills over 50 iterations and then stays at its bound.
//! let cache: Vec<f64> = (0..200).map(|i| 4096.0 * (i.min(50) as f64)).collect();
//! assert_eq!(analyze(&cache, &Config::heap()).unwrap().verdict, Verdict::Stable);
//! ```

mod config;
mod detect;
mod fits;
mod infer;
mod judge;
mod outcome;
mod segment;
mod short;
mod stats;

use serde::{Deserialize, Serialize};

pub use config::{Config, ConfigField, NoiseModel, Warmup};
pub use detect::analyze;
pub use infer::{infer_model, ModelChoice};

/// The judgement on a series.
///
/// Ordered by severity, `Stable < Inconclusive < Leaking`, so that the verdict of several series is
/// their maximum (a leak anywhere outweighs a doubt, a doubt outweighs proof of stability).
///
/// Not `#[non_exhaustive]`: the three answers are the contract (each has its own exit code, see
/// [`Verdict::exit_code`]) and callers are meant to match all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Proven not to grow by more than the floor: a final plateau, long enough.
    Stable,
    /// Not yet known: more samples are needed (see [`Analysis::more_samples`]).
    Inconclusive,
    /// Growing by at least the floor per sample, with the stated confidence.
    Leaking,
}

impl Verdict {
    /// The lower-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Stable => "stable",
            Verdict::Leaking => "leaking",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// The process exit code of this verdict, the one source of these codes: 0 Stable, 1 Leaking,
    /// 3 Inconclusive (2 is bad usage or input and 4 a failed workload, which are not verdicts).
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Stable => 0,
            Verdict::Leaking => 1,
            Verdict::Inconclusive => 3,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final flat stretch of a series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    /// Index of the first sample of the plateau.
    pub start: usize,
    /// Median level of the plateau (of the cycle minima for a saw-tooth), in units.
    pub level: f64,
}

/// The Mann–Kendall trend test on the judged part of the series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendTest {
    /// Continuity-corrected, tie-corrected z score of Kendall's S.
    pub statistic: f64,
    /// One-sided p-value for an increasing trend.
    pub p_value: f64,
}

/// Everything [`analyze`] found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Stable, Leaking or Inconclusive.
    pub verdict: Verdict,
    /// Theil–Sen slope in units per sample, of the plateau when Stable, otherwise of the part after the
    /// warm-up. A series too short to judge still has its estimate (of all its samples after a fixed
    /// warm-up); `None` only when there are too few of them for a confidence interval (fewer than 5 at
    /// 95%): no estimate, rather than a zero that was not measured.
    pub slope: Option<f64>,
    /// Confidence interval of `slope` at `confidence` (`None` exactly when `slope` is).
    pub slope_ci: Option<(f64, f64)>,
    /// The confidence level of `slope_ci` (the trend test is one-sided at `1 - confidence`).
    pub confidence: f64,
    /// Index of the first sample after the warm-up.
    pub warmup_end: usize,
    /// The final plateau, when the series ends flat.
    pub plateau: Option<Plateau>,
    /// Mann–Kendall test on the same part as `slope`.
    pub trend: TrendTest,
    /// Level at the end minus level at the start (medians of the first and last 5% of the samples,
    /// 1 to 50 samples each), in units.
    pub total_growth: f64,
    /// Number of samples given.
    pub samples: usize,
    /// For Inconclusive: about how many more samples would likely decide it.
    pub more_samples: Option<usize>,
    /// The floor used: the smallest growth worth reporting, in units per sample.
    pub floor: f64,
    /// Number of saw-tooth cycles when the series was judged on its cycle minima.
    pub cycles: Option<usize>,
    /// One sentence saying why, in neutral units.
    pub reason: String,
}

/// Why a series could not be analyzed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum TrendError {
    /// A sample is NaN or infinite.
    #[error("sample {index} is not a finite number")]
    NonFinite {
        /// Index of the first such sample.
        index: usize,
    },
    /// A configuration field is out of range.
    #[error("invalid configuration: {} must be {}, got {value}", field.name(), field.rule())]
    InvalidConfig {
        /// The field.
        field: ConfigField,
        /// Its value (counts as a number).
        value: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::Verdict;

    #[test]
    fn verdicts_order_by_severity_and_have_exit_codes() {
        assert!(Verdict::Stable < Verdict::Inconclusive);
        assert!(Verdict::Inconclusive < Verdict::Leaking);
        assert_eq!(Verdict::Stable.max(Verdict::Leaking), Verdict::Leaking);
        let codes: Vec<u8> = [Verdict::Stable, Verdict::Leaking, Verdict::Inconclusive]
            .map(Verdict::exit_code)
            .to_vec();
        assert_eq!(codes, [0, 1, 3]);
    }
}
