//! How often a watch may sample an agent attached to a running process: often enough for the
//! plan, but so that the target spends at most [`MAX_SHARE`] of its time in the agent's
//! collections (a full collection under the GIL, or on node's main thread); and the report's line
//! saying how much time it did spend.

use std::time::Duration;

use leakproof_agents::{Agent, Overhead};

/// Largest share of the target's time its agent's collections may take.
pub(crate) const MAX_SHARE: f64 = 0.02;

/// Samples an attached agent takes at once before the watch: its own code warms up (node's grows
/// the heap over its first few dozen requests), and their pauses are not counted.
const WARM_UP: usize = 50;
/// Samples then taken one interval apart (at most [`CALIBRATION_SPACING`]), as the watch will:
/// the costliest is what a collection costs the target (a collection right after another finds
/// little to do).
const CALIBRATION: usize = 5;
/// Longest time between those (a watch of one sample a minute need not wait minutes).
const CALIBRATION_SPACING: Duration = Duration::from_millis(500);
/// Room above that: a collection under load costs more than at rest.
const HEADROOM: f64 = 1.5;

/// The pacing of one attached agent: the interval it gets and the cost it was measured at.
pub(crate) struct Pace {
    /// The interval the watch samples at: the plan's, or longer.
    pub(crate) interval: Duration,
    /// The costliest calibration sample, in seconds.
    pub(crate) cost: f64,
    /// The agent's running total, counted from the watch's first sample.
    pub(crate) overhead: Overhead,
}

impl Pace {
    /// Calibrates `agent` (warm-up samples, then a few one interval apart, as the watch will
    /// take them) and paces it; `None` for an agent that does not say what its samples cost.
    pub(crate) fn calibrate(agent: &mut dyn Agent, wanted: Duration) -> Option<Pace> {
        let overhead = agent.overhead()?;
        for _ in 0..WARM_UP {
            let _ = agent.sample();
        }
        let mut cost: f64 = 0.0;
        for i in 0..CALIBRATION {
            if i > 0 {
                std::thread::sleep(wanted.min(CALIBRATION_SPACING));
            }
            if agent.sample().is_ok() {
                cost = cost.max(overhead.last());
            }
        }
        overhead.reset();
        Some(Pace {
            interval: pace(wanted, cost * HEADROOM),
            cost,
            overhead,
        })
    }

    /// The note when the interval is longer than `wanted`: why.
    pub(crate) fn slowed(&self, wanted: Duration) -> Option<String> {
        (self.interval > wanted).then(|| {
            format!(
                "sampling every {} ms, not {} ms: a collection pauses the target for about {:.1} \
                 ms, kept under {:.0}% of its time",
                self.interval.as_millis(),
                wanted.as_millis(),
                self.cost * 1e3,
                MAX_SHARE * 100.0
            )
        })
    }

    /// The report's line: how much of `wall` seconds the target spent in the collections.
    pub(crate) fn spent(&self, wall: f64) -> Option<String> {
        spent_note(&self.overhead, wall, self.interval)
    }
}

/// The interval that keeps samples costing `cost` seconds each under [`MAX_SHARE`] of the
/// target's time: `wanted`, or longer (to the next 10 ms).
fn pace(wanted: Duration, cost: f64) -> Duration {
    let needed = (cost / MAX_SHARE * 100.0).ceil() / 100.0;
    wanted.max(Duration::from_secs_f64(needed.max(0.0)))
}

fn spent_note(overhead: &Overhead, wall: f64, interval: Duration) -> Option<String> {
    let (total, samples) = overhead.total();
    if samples == 0 || wall <= 0.0 {
        return None;
    }
    Some(format!(
        "the target spent {total:.2} s of {wall:.1} s in leakproof's collections ({:.2}%): {:.1} \
         ms per sample, one every {} ms",
        total / wall * 100.0,
        total / samples as f64 * 1e3,
        interval.as_millis()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_keeps_the_share_under_two_percent() {
        let ms = Duration::from_millis;
        assert_eq!(pace(ms(1000), 0.004), ms(1000));
        assert_eq!(pace(ms(100), 0.007), ms(350));
        assert_eq!(pace(ms(100), 0.0071), ms(360));
        assert_eq!(pace(ms(100), 0.0), ms(100));
    }

    /// An agent whose every sample costs the target `cost` seconds.
    struct Costly(Overhead, f64);

    impl Agent for Costly {
        fn descriptor(&self) -> &'static leakproof_agents::Descriptor {
            &leakproof_agents::AGENTS[0]
        }
        fn sample(&mut self) -> Result<f64, leakproof_agents::AgentError> {
            self.0.record(self.1);
            Ok(1.0)
        }
        fn picture(
            &mut self,
            _: Duration,
        ) -> Result<leakproof_diff::Snapshot, leakproof_agents::AgentError> {
            Ok(leakproof_diff::Snapshot::default())
        }
        fn overhead(&self) -> Option<Overhead> {
            Some(self.0.clone())
        }
    }

    #[test]
    fn calibration_paces_from_the_cost_with_headroom_and_counts_from_zero() {
        let mut agent = Costly(Overhead::default(), 0.004);
        let wanted = Duration::from_millis(10);
        let paced = Pace::calibrate(&mut agent, wanted).unwrap();
        // 4 ms * 1.5 = 6 ms per sample: one every 300 ms keeps it at 2%.
        assert_eq!(paced.interval, Duration::from_millis(300));
        assert_eq!(paced.overhead.total(), (0.0, 0));
        assert_eq!(
            paced.slowed(wanted).unwrap(),
            "sampling every 300 ms, not 10 ms: a collection pauses the target for about 4.0 ms, \
             kept under 2% of its time"
        );
        assert_eq!(paced.spent(10.0), None);
        agent.sample().unwrap();
        agent.sample().unwrap();
        assert_eq!(
            paced.spent(10.0).unwrap(),
            "the target spent 0.01 s of 10.0 s in leakproof's collections (0.08%): 4.0 ms per \
             sample, one every 300 ms"
        );
    }
}
