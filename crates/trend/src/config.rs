//! What the detector is told about the series: confidence, floors, noise model, warm-up.

use serde::{Deserialize, Serialize};

use crate::TrendError;

/// How the samples were measured, which decides how the noise level is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum NoiseModel {
    /// Exact counts (heap bytes from a counting allocator, open fds, threads). When most first differences
    /// are exactly zero, levels are compared exactly: any change is a change.
    Exact,
    /// Measured, quantized and noisy values (process RSS). The noise is estimated from the data and never
    /// taken to be below the quantization error of `quantum` (e.g. 4096 for pages).
    Noisy {
        /// Measurement quantum in units (4096.0 for RSS in bytes); 0 for none.
        quantum: f64,
    },
}

/// Where the warm-up ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Warmup {
    /// Found from the data: the start of the final plateau, or where the series joins its late trend.
    Auto,
    /// The first `n` samples are ignored; the rest is analyzed as with [`Warmup::Auto`].
    Fixed(usize),
}

/// Detector settings. Start from a preset ([`Config::heap`], [`Config::rss`], [`Config::counts`]) and adjust
/// with the `with_*` setters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Two-sided confidence of the slope interval; the trend test is one-sided at `1 - confidence`.
    /// Default 0.95.
    pub confidence: f64,
    /// Smallest growth worth reporting, in units per sample (absolute floor).
    pub min_slope: f64,
    /// Smallest growth worth reporting relative to the level: the floor is
    /// `max(min_slope, min_relative_slope * |level|)` units per sample.
    pub min_relative_slope: f64,
    /// How the samples were measured.
    pub noise: NoiseModel,
    /// Automatic or fixed warm-up.
    pub warmup: Warmup,
    /// Series shorter than this (after a fixed warm-up) are Inconclusive.
    pub min_samples: usize,
    /// Plateau rule: a final flat stretch proves Stable once it is at least `plateau_margin` times as long
    /// as the growth before it. Default 1.5 (factor 1 calls a doubling staircase Stable just before each
    /// next step).
    pub plateau_margin: f64,
    /// A flat stretch shorter than this many samples is never a plateau. Default 10.
    pub min_plateau: usize,
    /// The series comes from a runtime that may still be warming up (an interpreter's heap, the RSS
    /// of a process with no agent): growth that decelerates, or that spans fewer than 8 of its
    /// quanta, is not proof of a leak, and such a series is Inconclusive until more samples decide
    /// it. Off in the presets; see [`Config::with_warming`].
    #[serde(default)]
    pub warming: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::heap()
    }
}

impl Config {
    /// Exact byte counts from a counting allocator: floor 1 unit/sample or 1e-7 of the level per sample
    /// (1 B per sample on a 10 MB heap), 95% confidence, at least 20 samples.
    pub fn heap() -> Config {
        Config {
            confidence: 0.95,
            min_slope: 1.0,
            min_relative_slope: 1e-7,
            noise: NoiseModel::Exact,
            warmup: Warmup::Auto,
            min_samples: 20,
            plateau_margin: 1.5,
            min_plateau: 10,
            warming: false,
        }
    }

    /// Page-quantized, noisy process RSS in bytes: floor 40.96 B/sample (one 4 KiB page per 100 samples)
    /// or 1e-8 of the level per sample, noise never below a page's quantization error, at least 30 samples.
    pub fn rss() -> Config {
        Config {
            confidence: 0.95,
            min_slope: 40.96,
            min_relative_slope: 1e-8,
            noise: NoiseModel::Noisy { quantum: 4096.0 },
            warmup: Warmup::Auto,
            min_samples: 30,
            plateau_margin: 1.5,
            min_plateau: 10,
            warming: false,
        }
    }

    /// Exact small counts (open fds, live threads): any sustained growth is a leak. The floor is 0.02 per
    /// sample (one every 50 samples), so +1 every 10th sample is Leaking; a pool filled during warm-up is
    /// Stable once the plateau rule holds (e.g. filled in 20 samples, Stable from 50 samples on).
    pub fn counts() -> Config {
        Config {
            confidence: 0.95,
            min_slope: 0.02,
            min_relative_slope: 0.0,
            noise: NoiseModel::Exact,
            warmup: Warmup::Auto,
            min_samples: 20,
            plateau_margin: 1.5,
            min_plateau: 10,
            warming: false,
        }
    }

    /// The preset whose noise model and floors this configuration has: `"heap"`, `"rss"`, `"counts"`, or
    /// `"custom"` when the noise model or a floor was changed (confidence, warm-up and plateau settings do
    /// not count). Reasons name it beside the floor.
    pub fn model_name(&self) -> &'static str {
        let same = |p: Config| {
            p.noise == self.noise
                && p.min_slope == self.min_slope
                && p.min_relative_slope == self.min_relative_slope
        };
        if same(Config::heap()) {
            "heap"
        } else if same(Config::rss()) {
            "rss"
        } else if same(Config::counts()) {
            "counts"
        } else {
            "custom"
        }
    }

    /// Sets the confidence level (in (0.5, 1)).
    pub fn with_confidence(mut self, confidence: f64) -> Self {
        self.confidence = confidence;
        self
    }

    /// Sets the absolute floor in units per sample.
    pub fn with_min_slope(mut self, min_slope: f64) -> Self {
        self.min_slope = min_slope;
        self
    }

    /// Sets the floor relative to the level (per sample).
    pub fn with_min_relative_slope(mut self, min_relative_slope: f64) -> Self {
        self.min_relative_slope = min_relative_slope;
        self
    }

    /// Sets the noise model.
    pub fn with_noise(mut self, noise: NoiseModel) -> Self {
        self.noise = noise;
        self
    }

    /// Sets the warm-up.
    pub fn with_warmup(mut self, warmup: Warmup) -> Self {
        self.warmup = warmup;
        self
    }

    /// Sets the minimum number of samples.
    pub fn with_min_samples(mut self, min_samples: usize) -> Self {
        self.min_samples = min_samples;
        self
    }

    /// Sets the plateau margin (>= 1).
    pub fn with_plateau_margin(mut self, plateau_margin: f64) -> Self {
        self.plateau_margin = plateau_margin;
        self
    }

    /// Sets [`Config::warming`]: decelerating growth, or growth of a few quanta, is Inconclusive.
    pub fn with_warming(mut self, warming: bool) -> Self {
        self.warming = warming;
        self
    }

    /// Sets the shortest plateau, in samples.
    pub fn with_min_plateau(mut self, min_plateau: usize) -> Self {
        self.min_plateau = min_plateau;
        self
    }

    /// Checks every field; [`analyze`](crate::analyze) calls this first.
    pub fn validate(&self) -> Result<(), TrendError> {
        let quantum = match self.noise {
            NoiseModel::Noisy { quantum } => quantum,
            _ => 0.0,
        };
        let checks = [
            (ConfigField::Confidence, self.confidence),
            (ConfigField::MinSlope, self.min_slope),
            (ConfigField::MinRelativeSlope, self.min_relative_slope),
            (ConfigField::Quantum, quantum),
            (ConfigField::PlateauMargin, self.plateau_margin),
            (ConfigField::MinSamples, self.min_samples as f64),
            (ConfigField::MinPlateau, self.min_plateau as f64),
        ];
        match checks
            .into_iter()
            .find(|&(field, value)| !field.accepts(value))
        {
            Some((field, value)) => Err(TrendError::InvalidConfig { field, value }),
            None => Ok(()),
        }
    }
}

/// A field of [`Config`] that [`Config::validate`] checks, for [`TrendError::InvalidConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConfigField {
    /// `confidence`: in (0.5, 1).
    Confidence,
    /// `min_slope`: finite and >= 0.
    MinSlope,
    /// `min_relative_slope`: finite and >= 0.
    MinRelativeSlope,
    /// The quantum of [`NoiseModel::Noisy`]: finite and >= 0.
    Quantum,
    /// `plateau_margin`: finite and >= 1.
    PlateauMargin,
    /// `min_samples`: at least 3.
    MinSamples,
    /// `min_plateau`: at least 2.
    MinPlateau,
}

impl ConfigField {
    /// The field's name as written in [`Config`].
    pub fn name(self) -> &'static str {
        match self {
            ConfigField::Confidence => "confidence",
            ConfigField::MinSlope => "min_slope",
            ConfigField::MinRelativeSlope => "min_relative_slope",
            ConfigField::Quantum => "noise quantum",
            ConfigField::PlateauMargin => "plateau_margin",
            ConfigField::MinSamples => "min_samples",
            ConfigField::MinPlateau => "min_plateau",
        }
    }

    /// What the field must be, for people: `in (0.5, 1)`, `finite and >= 0`.
    pub fn rule(self) -> &'static str {
        match self {
            ConfigField::Confidence => "in (0.5, 1)",
            ConfigField::MinSlope | ConfigField::MinRelativeSlope | ConfigField::Quantum => {
                "finite and >= 0"
            }
            ConfigField::PlateauMargin => "finite and >= 1",
            ConfigField::MinSamples => ">= 3",
            ConfigField::MinPlateau => ">= 2",
        }
    }

    fn accepts(self, v: f64) -> bool {
        match self {
            ConfigField::Confidence => v > 0.5 && v < 1.0,
            ConfigField::MinSlope | ConfigField::MinRelativeSlope | ConfigField::Quantum => {
                v.is_finite() && v >= 0.0
            }
            ConfigField::PlateauMargin => v.is_finite() && v >= 1.0,
            ConfigField::MinSamples => v >= 3.0,
            ConfigField::MinPlateau => v >= 2.0,
        }
    }
}
