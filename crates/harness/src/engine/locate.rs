//! The locate phase of a run that did not pass: the samplers that can say where their series grew
//! (allocation-site capture, runtime agents' snapshots, new descriptors and threads, memory maps)
//! get a lead-in, a "before" picture, more iterations, and an "after" picture (asked for before
//! the final iteration by the samplers that need the target to run to take it).

use leakproof_trend::Verdict;

use super::{Settings, Slot, Stop, Workload};
use leakproof_report::Report;

/// Iterations run before the "before" picture, so that blocks a fresh iteration allocates and
/// frees in the next one are not counted as growth.
pub(crate) const LEAD_IN: usize = 3;

/// Longest locate phase, in iterations.
const MAX_LOCATE_ITERATIONS: usize = 2000;
/// Wall time the locate phase may take at the measured pace (capture slows allocations further).
const MAX_LOCATE_SECS: f64 = 5.0;

/// Runs the locate protocol over every slot.
pub(super) fn run(
    slots: &mut [Slot],
    workload: &mut dyn Workload,
    report: &mut Report,
    settings: &Settings,
) {
    let wanted: Vec<bool> = slots
        .iter_mut()
        .map(|s| s.sampler.locate_start(report))
        .collect();
    let mut ran = 0;
    if wanted.iter().any(|&w| w) {
        let k = span(report, settings.locate_iterations);
        let mut next = report.iterations + 1;
        let mut phase = |count: usize, ran: &mut usize| -> bool {
            for _ in 0..count {
                if let Err(stop) = workload.iterate(next) {
                    let message = match stop {
                        Stop::Failed(m) | Stop::Finished(m) => m,
                    };
                    report
                        .notes
                        .push(format!("the locate phase stopped: {message}"));
                    return false;
                }
                next += 1;
                *ran += 1;
            }
            true
        };
        if phase(LEAD_IN, &mut ran) {
            slots.iter_mut().for_each(|s| s.sampler.locate_first());
            // The final iteration on its own, after `locate_last`, when another precedes it.
            let last = usize::from(k > 1);
            if phase(k - last, &mut ran) && last == 1 {
                slots.iter_mut().for_each(|s| s.sampler.locate_last());
                phase(last, &mut ran);
            }
        }
    }
    for slot in slots.iter_mut() {
        slot.sampler.locate_finish(report, ran);
    }
}

/// Iterations to locate over, from the first memory series that is not Stable (or `base`).
fn span(report: &Report, base: usize) -> usize {
    match report
        .resources
        .first()
        .filter(|r| r.resource.is_memory() && r.analysis.verdict != Verdict::Stable)
    {
        // A staircase (a buffer that doubles, an arena that grows in chunks) rises only every
        // so often: locate over at least two of its steps, or the pictures may see none.
        Some(memory) => capture_span(
            &memory.samples,
            memory.analysis.warmup_end,
            base,
            report.duration_secs / report.iterations.max(1) as f64,
        ),
        None => base,
    }
}

/// Iterations to locate over: at least `base`. When the series after the warm-up rises only now
/// and then (a staircase), at least twice the longest stretch without a rise and at least as many
/// iterations as have run so far (a capacity that doubles is next reallocated within that many),
/// within [`MAX_LOCATE_ITERATIONS`] and [`MAX_LOCATE_SECS`] at the measured pace.
pub(crate) fn capture_span(
    samples: &[f64],
    warmup_end: usize,
    base: usize,
    secs_per_iteration: f64,
) -> usize {
    let tail = samples.get(warmup_end..).unwrap_or(&[]);
    let rises: Vec<usize> = tail
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] > w[0])
        .map(|(i, _)| i)
        .collect();
    // Rising on most samples: steady growth, which any span sees.
    if tail.len() < 2 || rises.len() * 4 >= tail.len() - 1 {
        return base;
    }
    let longest = rises.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let wanted = (2 * longest + 1).max(samples.len());
    let by_time = if secs_per_iteration > 0.0 {
        (MAX_LOCATE_SECS / secs_per_iteration) as usize
    } else {
        usize::MAX
    };
    wanted.min(MAX_LOCATE_ITERATIONS).min(by_time).max(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_spans_cover_two_steps_of_a_staircase() {
        // Steady growth: the base span is enough.
        let steady: Vec<f64> = (0..300).map(f64::from).collect();
        assert_eq!(capture_span(&steady, 0, 40, 1e-5), 40);
        // A step every 100 samples: two steps' worth, and at least the 300 run so far.
        let stairs: Vec<f64> = (0..300).map(|i| f64::from(i / 100)).collect();
        assert_eq!(capture_span(&stairs, 0, 40, 1e-5), 300);
        let stairs: Vec<f64> = (0..1000).map(|i| f64::from(i / 400)).collect();
        assert_eq!(capture_span(&stairs, 0, 40, 1e-5), 1000);
        // Doubling capacity (steps at 64, 128, 256): the next one comes within as many again.
        let doubling: Vec<f64> = (1..=300u32)
            .map(|i| f64::from(i.next_power_of_two()))
            .collect();
        assert_eq!(capture_span(&doubling, 0, 40, 1e-5), 300);
        // Bounded by the ceiling and by time, never below the base.
        let sparse: Vec<f64> = (0..9000).map(|i| f64::from(i / 2500)).collect();
        assert_eq!(capture_span(&sparse, 0, 40, 1e-5), MAX_LOCATE_ITERATIONS);
        let stairs: Vec<f64> = (0..300).map(|i| f64::from(i / 100)).collect();
        assert_eq!(
            capture_span(&stairs, 0, 40, 0.1),
            50,
            "5 s at 0.1 s per iteration"
        );
        assert_eq!(capture_span(&stairs, 0, 40, 1.0), 40);
    }
}
