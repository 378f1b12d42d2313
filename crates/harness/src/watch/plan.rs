//! How often a watch samples: the interval given, or one chosen from the duration so that a short
//! watch has as many samples as the default one (60 s at 1 s: 61), and whether a plan leaves the
//! judge enough samples for a verdict.

use std::time::Duration;

use leakproof_report::Resource;

use crate::engine::preset;

/// The interval chosen for a watch of a minute or more (the default watch: 60 s at 1 s).
const LONGEST_CHOSEN: Duration = Duration::from_secs(1);
/// A chosen interval divides the duration into this many intervals (61 samples), as the default does.
const CHOSEN_INTERVALS: u32 = 60;
/// The shortest interval chosen: one sample of a process tree (and of a runtime agent's heap,
/// after its collection) takes a few milliseconds.
const SHORTEST_CHOSEN: Duration = Duration::from_millis(10);

/// How a watch samples: every `interval` for `duration`, `samples` samples if the process lives
/// that long. See [`crate::Watch::plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchPlan {
    /// How long the watch lasts.
    pub duration: Duration,
    /// Time between samples.
    pub interval: Duration,
    /// Samples taken over the duration (the first at the start).
    pub samples: usize,
    /// True when no interval was given and this one was chosen from the duration: the duration
    /// divided into 60 intervals, in whole milliseconds, at least 10 ms and at most 1 s (so 1 s for
    /// a watch of a minute or more, 333 ms for 20 s).
    pub chosen: bool,
}

impl WatchPlan {
    /// The plan of a watch of `duration`, with the `interval` given or, when `None`, one chosen.
    pub fn new(duration: Duration, interval: Option<Duration>) -> WatchPlan {
        let chosen = interval.is_none();
        let interval = interval.unwrap_or_else(|| choose(duration));
        let samples = match duration.as_nanos().checked_div(interval.as_nanos()) {
            Some(intervals) => usize::try_from(intervals)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
            None => 0,
        };
        WatchPlan {
            duration,
            interval,
            samples,
            chosen,
        }
    }

    /// The fewest samples for a verdict on every series a watch judges (its tree's RSS, fds and
    /// threads, a runtime agent's heap): the largest `min_samples` of their presets, 30.
    pub fn samples_needed() -> usize {
        let own = [Resource::Rss, Resource::Fds, Resource::Threads].map(preset);
        let agents = leakproof_agents::AGENTS.iter().map(|d| (d.preset)());
        own.into_iter()
            .chain(agents)
            .map(|c| c.min_samples)
            .max()
            .unwrap_or(0)
    }

    /// One line when the plan gives fewer samples than a verdict needs, with the interval or the
    /// duration that would give enough; `None` when it gives enough (or the interval is zero, which
    /// the watch rejects).
    pub fn too_few_samples(&self) -> Option<String> {
        let needed = WatchPlan::samples_needed();
        if self.samples >= needed || self.interval.is_zero() {
            return None;
        }
        let gaps = (needed - 1) as u32;
        let finer = Duration::from_millis((self.duration / gaps).as_millis() as u64);
        let longer = self.interval * gaps;
        let finer = if finer.is_zero() {
            String::new()
        } else {
            format!("sample every {} or less, or ", fmt_duration(finer))
        };
        Some(format!(
            "an interval of {} over {} gives {} sample{}, fewer than the {needed} a verdict needs: \
             {finer}watch for {} or more",
            fmt_duration(self.interval),
            fmt_duration(self.duration),
            self.samples,
            if self.samples == 1 { "" } else { "s" },
            fmt_duration(longer)
        ))
    }

    /// The note a report carries when its interval was chosen and differs from the old fixed 1 s;
    /// `None` otherwise (a watch of a minute or more reads as before).
    pub(crate) fn note(&self) -> Option<String> {
        (self.chosen && self.interval != LONGEST_CHOSEN).then(|| {
            format!(
                "sampled every {}: an interval chosen from the {} duration for {} samples (give \
                 one with --interval or Watch::interval)",
                fmt_duration(self.interval),
                fmt_duration(self.duration),
                self.samples
            )
        })
    }
}

/// The interval of a watch of `duration` that was given none.
fn choose(duration: Duration) -> Duration {
    let even = Duration::from_millis((duration / CHOSEN_INTERVALS).as_millis() as u64);
    even.clamp(SHORTEST_CHOSEN, LONGEST_CHOSEN)
}

/// `333ms`, `1s`, `1.5s`, `20s`, `10m`.
fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_default_watch_is_unchanged_and_longer_ones_keep_one_second() {
        for d in [60, 600, 3600] {
            let plan = WatchPlan::new(secs(d), None);
            assert_eq!(plan.interval, secs(1), "{d} s");
            assert_eq!(plan.samples, d as usize + 1);
            assert_eq!(plan.note(), None);
            assert_eq!(plan.too_few_samples(), None);
        }
    }

    #[test]
    fn a_short_watch_gets_sixty_intervals() {
        let plan = WatchPlan::new(secs(20), None);
        assert_eq!(plan.interval, Duration::from_millis(333));
        assert_eq!(plan.samples, 61);
        assert_eq!(
            plan.note().as_deref(),
            Some(
                "sampled every 333ms: an interval chosen from the 20s duration for 61 samples \
                 (give one with --interval or Watch::interval)"
            )
        );
        assert_eq!(plan.too_few_samples(), None);
        // At least 10 ms: a watch of 100 ms has 11 samples, and says so.
        let tiny = WatchPlan::new(Duration::from_millis(100), None);
        assert_eq!(
            (tiny.interval, tiny.samples),
            (Duration::from_millis(10), 11)
        );
        assert!(tiny.too_few_samples().is_some());
    }

    #[test]
    fn a_coarse_interval_is_warned_about_with_what_would_do() {
        assert_eq!(WatchPlan::samples_needed(), 30);
        let plan = WatchPlan::new(secs(20), Some(secs(1)));
        assert_eq!(plan.samples, 21);
        assert_eq!(
            plan.too_few_samples().as_deref(),
            Some(
                "an interval of 1s over 20s gives 21 samples, fewer than the 30 a verdict needs: \
                 sample every 689ms or less, or watch for 29s or more"
            )
        );
        // What the warning offers is enough.
        assert_eq!(
            WatchPlan::new(secs(20), Some(Duration::from_millis(689))).samples,
            30
        );
        assert_eq!(WatchPlan::new(secs(29), Some(secs(1))).samples, 30);
        assert_eq!(
            WatchPlan::new(secs(29), Some(secs(1))).too_few_samples(),
            None
        );
        assert_eq!(
            WatchPlan::new(secs(20), Some(Duration::ZERO)).too_few_samples(),
            None
        );
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(fmt_duration(Duration::from_millis(333)), "333ms");
        assert_eq!(fmt_duration(secs(1)), "1s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(secs(600)), "10m");
    }
}
