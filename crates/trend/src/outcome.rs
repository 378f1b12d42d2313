//! The named outcomes of the decision and the sentence each one gives as its reason.

use std::fmt;

use crate::stats::SenFit;
use crate::Verdict;

/// A slope with its confidence interval, in units per sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Slope {
    pub slope: f64,
    pub lo: f64,
    pub hi: f64,
    pub confidence: f64,
}

/// A flat level: its median value and how many samples it has lasted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Level {
    pub value: f64,
    pub samples: usize,
}

/// The part of the series the trend was judged on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Judged {
    /// Samples after the warm-up.
    pub samples: usize,
    /// First sample after the warm-up.
    pub warmup_end: usize,
}

/// Growth a runtime still warming up also shows: not proof of a leak (rule 10, `judge`'s
/// `warming_evidence`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Warming {
    /// The later half of the judged part grows at less than `judge::DECELERATION` of the earlier half.
    Decelerating { early: f64, late: f64 },
    /// The growth spans fewer than `judge::MIN_QUANTA` measurement quanta (pages, for RSS).
    FewQuanta { quanta: f64 },
}

/// Why the series got its verdict: one variant per rule of docs/detection.md that can decide.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Fewer samples than `min_samples` after a fixed warm-up (Inconclusive), with the slope of those
    /// there are when they are enough for an interval.
    TooShort {
        samples: usize,
        needed: usize,
        min_samples: usize,
        offset: usize,
        estimate: Option<Slope>,
    },
    /// Plateau rule: flat for long enough after `growth` samples of growth (Stable). `model` names the
    /// preset of the floor.
    PlateauProven {
        plateau: Level,
        growth: usize,
        slope: Slope,
        floor: f64,
        model: &'static str,
    },
    /// Plateau rule with no growth since the clock started: flat throughout (Stable).
    FlatThroughout {
        plateau: Level,
        slope: Slope,
        floor: f64,
        model: &'static str,
    },
    /// Plateau rule on the baselines of a saw-tooth's last `cycles` full cycles (Stable).
    BaselinesFlat {
        plateau: Level,
        cycles: usize,
        slope: Slope,
        floor: f64,
        model: &'static str,
    },
    /// A measured saw-tooth of a few full cycles whose baselines, weighted by their errors, are flat
    /// within the floor (Stable).
    CyclesFlat {
        plateau: Level,
        cycles: usize,
        slope: Slope,
        floor: f64,
        model: &'static str,
    },
    /// A plateau by the rule whose interval lies strictly above zero, of exact counts: growth below the
    /// floor, but counts that grow are not Stable (Inconclusive).
    RisingWithinFloor {
        plateau: Level,
        slope: Slope,
        floor: f64,
        model: &'static str,
        more: usize,
    },
    /// Trend rule: significant growth whose whole interval clears the floor, still growing (Leaking).
    GrowthProven { slope: Slope, judged: Judged },
    /// A runtime's steady creep whose whole interval lies below the floor over a long run (Stable,
    /// rule 10): the runtime's own bookkeeping, not a leak worth reporting.
    CreepBelowFloor {
        slope: Slope,
        floor: f64,
        judged: Judged,
    },
    /// Growth that clears the floor, of a runtime that may still be warming up: decelerating, or a
    /// few quanta only (Inconclusive, rule 10).
    StillWarming {
        slope: Slope,
        evidence: Warming,
        more: usize,
    },
    /// Flat since a late step, but not yet longer than the level that restarted the growth clock.
    PlateauAfterStep {
        plateau: Level,
        step_at: usize,
        previous: usize,
        need: usize,
    },
    /// Growth that stopped, or a flat level not yet long enough to be proven a plateau.
    PlateauTooShort {
        plateau: Level,
        growth: usize,
        need: usize,
    },
    /// Growth that clears the floor but not significantly in the later half (the persistence rule).
    GrowthFaded {
        slope: Slope,
        judged: Judged,
        more: usize,
    },
    /// Growth with only one or two drops back: a one-off free and a saw-tooth cannot be told apart.
    DropsAmbiguous { slope: Slope, more: usize },
    /// Significant growth above the floor whose interval does not clear it.
    FloorNotCleared {
        slope: Slope,
        judged: Judged,
        floor: f64,
        more: usize,
    },
    /// Significant growth below the floor that has not levelled off.
    GrowthBelowFloor {
        slope: Slope,
        floor: f64,
        more: usize,
    },
    /// No significant trend, but no plateau long enough either.
    NoTrendNoPlateau {
        slope: Slope,
        p_value: f64,
        min_plateau: usize,
        more: usize,
    },
}

impl Outcome {
    /// The verdict this outcome gives.
    pub(crate) fn verdict(&self) -> Verdict {
        match self {
            Outcome::PlateauProven { .. }
            | Outcome::FlatThroughout { .. }
            | Outcome::BaselinesFlat { .. }
            | Outcome::CyclesFlat { .. }
            | Outcome::CreepBelowFloor { .. } => Verdict::Stable,
            Outcome::GrowthProven { .. } => Verdict::Leaking,
            _ => Verdict::Inconclusive,
        }
    }

    /// For an Inconclusive outcome, about how many more samples would likely decide it; judged series of
    /// `samples` samples are never told to take more than max(10 × samples, 1000) more.
    pub(crate) fn more_samples(&self, samples: usize) -> Option<usize> {
        let more = match *self {
            Outcome::TooShort {
                samples, needed, ..
            } => return Some(needed.saturating_sub(samples).max(1)),
            Outcome::PlateauProven { .. }
            | Outcome::FlatThroughout { .. }
            | Outcome::BaselinesFlat { .. }
            | Outcome::CyclesFlat { .. }
            | Outcome::GrowthProven { .. }
            | Outcome::CreepBelowFloor { .. } => return None,
            Outcome::PlateauAfterStep { need, .. } | Outcome::PlateauTooShort { need, .. } => need,
            Outcome::RisingWithinFloor { more, .. }
            | Outcome::GrowthFaded { more, .. }
            | Outcome::DropsAmbiguous { more, .. }
            | Outcome::FloorNotCleared { more, .. }
            | Outcome::GrowthBelowFloor { more, .. }
            | Outcome::NoTrendNoPlateau { more, .. }
            | Outcome::StillWarming { more, .. } => more,
        };
        Some(more.min(samples.saturating_mul(10).max(1000)))
    }
}

impl fmt::Display for Slope {
    /// `"95% CI lo..hi"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} CI {}..{}",
            fmt_pct(self.confidence),
            fmt_num(self.lo),
            fmt_num(self.hi)
        )
    }
}

impl fmt::Display for Judged {
    /// `" after a 30-sample warm-up"`, or nothing without a warm-up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.warmup_end > 0 {
            write!(f, " after a {}-sample warm-up", self.warmup_end)
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Outcome {
    /// The reason: one sentence, in neutral units.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::TooShort {
                samples,
                needed,
                min_samples,
                offset,
                estimate,
            } => {
                write!(
                    f,
                    "only {samples} samples; at least {needed} are needed ({min_samples} after a warm-up \
                     of {offset})"
                )?;
                match estimate {
                    Some(slope) => write!(
                        f,
                        "; so far the slope is {} units/sample ({slope})",
                        fmt_num(slope.slope)
                    ),
                    None => f.write_str("; too few for an estimate of the slope"),
                }
            }
            Outcome::BaselinesFlat {
                plateau,
                cycles,
                slope,
                floor,
                model,
            } => {
                write!(
                    f,
                    "a saw-tooth whose last {cycles} full cycles start from a flat baseline (cycle minima \
                     at {} units over {} samples): ",
                    fmt_num(plateau.value),
                    plateau.samples
                )?;
                baseline_slope(f, slope, *floor, model)
            }
            Outcome::CyclesFlat {
                plateau,
                cycles,
                slope,
                floor,
                model,
            } => {
                write!(
                    f,
                    "a saw-tooth of {cycles} full cycles over {} samples whose baselines (each \
                     cycle's fitted start) agree on a flat level at {} units: ",
                    plateau.samples,
                    fmt_num(plateau.value)
                )?;
                baseline_slope(f, slope, *floor, model)
            }
            Outcome::GrowthProven { slope, judged } => write!(
                f,
                "grew {} units/sample ({slope}) over {} samples{judged}",
                fmt_num(slope.slope),
                judged.samples
            ),
            Outcome::PlateauProven { .. } | Outcome::FlatThroughout { .. } => fmt_plateau(self, f),
            Outcome::RisingWithinFloor { .. }
            | Outcome::PlateauAfterStep { .. }
            | Outcome::PlateauTooShort { .. } => fmt_flat_inconclusive(self, f),
            _ => fmt_unproven_growth(self, f),
        }
    }
}

/// The reasons of the plateau rule's Stable outcomes.
fn fmt_plateau(outcome: &Outcome, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match outcome {
        Outcome::PlateauProven {
            plateau,
            growth,
            slope,
            floor,
            model,
        } => {
            let times = fmt_num(plateau.samples as f64 / *growth as f64);
            if slope.lo > 0.0 {
                write!(
                    f,
                    "flat within the floor at {} units for the last {} samples, {times} times the \
                     {growth} samples of growth before it: ",
                    fmt_num(plateau.value),
                    plateau.samples
                )?;
                return below_floor(f, "it grows", slope, *floor, model);
            }
            write!(
                f,
                "flat at {} units for the last {} samples, {times} times the {growth} samples of \
                 growth before it (slope {} units/sample, {slope})",
                fmt_num(plateau.value),
                plateau.samples,
                fmt_num(slope.slope),
            )
        }
        Outcome::FlatThroughout {
            plateau,
            slope,
            floor,
            model,
        } => {
            if slope.lo > 0.0 {
                write!(
                    f,
                    "flat within the floor at {} units over {} samples: ",
                    fmt_num(plateau.value),
                    plateau.samples
                )?;
                return below_floor(f, "it grows", slope, *floor, model);
            }
            write!(
                f,
                "flat at {} units over {} samples (slope {} units/sample, {slope}, below the floor \
                 of {})",
                fmt_num(plateau.value),
                plateau.samples,
                fmt_num(slope.slope),
                fmt_num(*floor)
            )
        }
        // Not reached: `Outcome::fmt` sends only the outcomes above here.
        other => write!(f, "{other}"),
    }
}

/// The rest of a saw-tooth's reason: its baselines' slope, below the floor, or above zero but
/// below it.
fn baseline_slope(
    f: &mut fmt::Formatter<'_>,
    slope: &Slope,
    floor: f64,
    model: &str,
) -> fmt::Result {
    if slope.lo > 0.0 {
        return below_floor(f, "the baseline grows", slope, floor, model);
    }
    write!(
        f,
        "baseline slope {} units/sample ({slope}), below the floor of {}",
        fmt_num(slope.slope),
        fmt_num(floor)
    )
}

/// `"<what> 22.2 units/sample (95% CI 18.8..25.5), above zero but below the floor of 41.0 units/sample
/// (rss model)"`: a Stable reason must say so when its interval lies above zero.
fn below_floor(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    slope: &Slope,
    floor: f64,
    model: &str,
) -> fmt::Result {
    write!(
        f,
        "{what} {} units/sample ({slope}), above zero but below the floor of {} units/sample ({model} \
         model)",
        fmt_num(slope.slope),
        fmt_num(floor)
    )
}

/// The reasons of the Inconclusive outcomes with a flat final level that is not (yet) a plateau.
fn fmt_flat_inconclusive(outcome: &Outcome, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match outcome {
        Outcome::RisingWithinFloor {
            plateau,
            slope,
            floor,
            model,
            more,
        } => {
            write!(
                f,
                "flat within the floor at {} units for {} samples, but ",
                fmt_num(plateau.value),
                plateau.samples
            )?;
            below_floor(f, "still growing", slope, *floor, model)?;
            write!(
                f,
                ": counts that grow are not Stable; about {more} more samples would show whether it levels \
                 off"
            )
        }
        Outcome::PlateauAfterStep {
            plateau,
            step_at,
            previous,
            need,
        } => write!(
            f,
            "flat at {} units for {} samples since a step at sample {step_at}, but the level before it \
             lasted {previous} samples; about {need} more samples would prove a plateau",
            fmt_num(plateau.value),
            plateau.samples
        ),
        Outcome::PlateauTooShort {
            plateau,
            growth,
            need,
        } => write!(
            f,
            "flat at {} units for {} samples after {growth} samples of growth; about {need} more samples \
             would prove a plateau",
            fmt_num(plateau.value),
            plateau.samples
        ),
        // Not reached: `Outcome::fmt` sends only the outcomes above here.
        other => write!(f, "{other}"),
    }
}

/// The reasons of the Inconclusive outcomes of growth not proven.
fn fmt_unproven_growth(outcome: &Outcome, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match outcome {
        Outcome::GrowthFaded { slope, judged, .. } => write!(
            f,
            "grew {} units/sample ({slope}) over {} samples{judged}, but not significantly in the later \
             half: the growth may have stopped",
            fmt_num(slope.slope),
            judged.samples
        ),
        Outcome::DropsAmbiguous { slope, .. } => write!(
            f,
            "grew {} units/sample ({slope}) but memory dropped back once or twice: a one-off free and a \
             saw-tooth cannot be told apart yet",
            fmt_num(slope.slope)
        ),
        Outcome::FloorNotCleared {
            slope,
            judged,
            floor,
            ..
        } => write!(
            f,
            "grew {} units/sample ({slope}) over {} samples{judged}, but the interval does not clear the \
             floor of {} units/sample",
            fmt_num(slope.slope),
            judged.samples,
            fmt_num(*floor)
        ),
        Outcome::GrowthBelowFloor { slope, floor, .. } => write!(
            f,
            "grows {} units/sample ({slope}), below the floor of {} units/sample, and has not levelled off",
            fmt_num(slope.slope),
            fmt_num(*floor)
        ),
        Outcome::CreepBelowFloor {
            slope,
            floor,
            judged,
        } => write!(
            f,
            "creeps {} units/sample ({slope}) over {} samples{judged}, wholly below the floor of {} \
             units/sample: a runtime's own bookkeeping, not a leak worth reporting",
            fmt_num(slope.slope),
            judged.samples,
            fmt_num(*floor)
        ),
        Outcome::StillWarming {
            slope, evidence, ..
        } => fmt_still_warming(slope, evidence, f),
        Outcome::NoTrendNoPlateau {
            slope,
            p_value,
            min_plateau,
            ..
        } => write!(
            f,
            "no significant trend (slope {} units/sample, {slope}, p = {}) but no plateau of at least \
             {min_plateau} samples either",
            fmt_num(slope.slope),
            fmt_p(*p_value)
        ),
        // Not reached: `Outcome::fmt` sends only the outcomes above here.
        other => write!(f, "{other}"),
    }
}

/// Rule 10's reason: growth that a runtime still warming up would show.
fn fmt_still_warming(slope: &Slope, evidence: &Warming, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match evidence {
        Warming::Decelerating { early, late } => write!(
            f,
            "grows {} units/sample ({slope}) but decelerating ({} units/sample in the earlier \
             half, {} in the later): a runtime still warming up looks like this, not proof",
            fmt_num(slope.slope),
            fmt_num(*early),
            fmt_num(*late)
        ),
        Warming::FewQuanta { quanta } => write!(
            f,
            "grows {} units/sample ({slope}) but only {} quanta in all: a runtime still warming \
             up looks like this, not proof",
            fmt_num(slope.slope),
            fmt_num(*quanta)
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

pub(crate) fn slope_of(sen: SenFit, confidence: f64) -> Slope {
    Slope {
        slope: sen.slope,
        lo: sen.lo,
        hi: sen.hi,
        confidence,
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

    fn slope(slope: f64, lo: f64, hi: f64) -> Slope {
        Slope {
            slope,
            lo,
            hi,
            confidence: 0.95,
        }
    }

    #[test]
    fn verdicts_and_more_samples_of_outcomes() {
        let proven = Outcome::GrowthProven {
            slope: slope(8.0, 8.0, 8.0),
            judged: Judged {
                samples: 270,
                warmup_end: 30,
            },
        };
        assert_eq!(proven.verdict(), Verdict::Leaking);
        assert_eq!(proven.more_samples(300), None);
        assert_eq!(
            proven.to_string(),
            "grew 8.0 units/sample (95% CI 8.0..8.0) over 270 samples after a 30-sample warm-up"
        );
        let short = Outcome::TooShort {
            samples: 5,
            needed: 5020,
            min_samples: 20,
            offset: 5000,
            estimate: None,
        };
        // Too short: exactly what is missing, never capped.
        assert_eq!(short.more_samples(5), Some(5015));
        let faded = Outcome::GrowthFaded {
            slope: slope(2.0, 1.5, 2.5),
            judged: Judged {
                samples: 100,
                warmup_end: 0,
            },
            more: 5000,
        };
        assert_eq!(faded.verdict(), Verdict::Inconclusive);
        assert_eq!(faded.more_samples(100), Some(1000));
        assert_eq!(faded.more_samples(300), Some(3000));
    }
}
