//! The notes the engine adds to a finished report from what its resources say together.

use leakproof_report::{Report, Resource};
use leakproof_trend::Verdict;

/// A count leaking while memory is not: say that a memory check alone would miss it.
pub(super) fn cross_resource_notes(report: &mut Report) {
    let mut memory = report.resources.iter().filter(|r| r.resource.is_memory());
    let memory_flat =
        memory.clone().next().is_some() && memory.all(|r| r.analysis.verdict != Verdict::Leaking);
    if !memory_flat {
        return;
    }
    for r in &report.resources {
        let what = match r.resource {
            Resource::Fds => "file descriptor leak: open file descriptors grow",
            Resource::Threads => "thread leak: live threads grow",
            _ => continue,
        };
        if r.analysis.verdict == Verdict::Leaking {
            report.notes.push(format!(
                "{what} while memory does not, so a memory check alone would miss it"
            ));
        }
    }
}

/// A target's own heap (measured by an agent) proven Stable while its RSS grows: the growth is
/// outside the traced heap (interpreter arenas, native buffers, fragmentation), so RSS is reported
/// as advisory and not counted in the verdict, with the evidence in a note. A leak the agent
/// cannot see still fails through fds and threads, and `--agent none` judges RSS alone.
pub(super) fn outside_the_traced_heap(report: &mut Report) {
    let Some(heap) = report
        .resources
        .iter()
        .find(|r| r.resource.is_agent_heap() && r.analysis.verdict == Verdict::Stable)
        .map(|r| r.resource)
    else {
        return;
    };
    let Some(rss) = report
        .resources
        .iter_mut()
        .find(|r| r.resource == Resource::Rss && r.analysis.verdict != Verdict::Stable)
    else {
        return;
    };
    rss.advisory = true;
    let a = &rss.analysis;
    let size = |v: f64| leakproof_diff::format_size(v, true);
    let estimate = match (a.slope, a.slope_ci) {
        (Some(slope), Some((lo, hi))) => {
            format!(
                "{}/iteration, 95% CI {} .. {}",
                size(slope),
                size(lo),
                size(hi)
            )
        }
        _ => "no estimate yet".to_owned(),
    };
    let note = format!(
        "rss is {} ({estimate}) while {heap} is proven stable: the growth is outside the traced \
         heap (runtime arenas, native memory, fragmentation); rss is reported but not counted in \
         the verdict (--agent none judges rss alone)",
        a.verdict,
    );
    report.notes.push(note);
    report.verdict = leakproof_report::overall(&report.resources);
}
