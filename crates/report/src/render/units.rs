//! Units in reports: slopes and rates in a resource's own unit. Sizes go through the one size
//! formatter of leakproof, [`leakproof_diff::format_size`].

use crate::resource::Resource;
use leakproof_trend::Analysis;

use crate::model::ResourceReport;

/// A rate in the resource's unit: `64.1 KiB`, `0.25 fds` (`+` on positive values with `signed`).
pub(crate) fn format_rate(resource: Resource, value: f64, signed: bool) -> String {
    resource.format_rate(value, signed)
}

/// A series' slope with its interval, in the resource's unit per `per` (the analysis' slopes are per
/// sample; `scale` is how many `per` one sample is): `+8 B/iteration (95% CI +7.9 B .. +8.1 B)`,
/// signed with `signed`. A series too short for any estimate says so instead of showing a slope it
/// never measured: `no estimate yet (2 samples, 30 needed)`.
pub(crate) fn format_estimate(
    resource: Resource,
    a: &Analysis,
    scale: f64,
    per: &str,
    signed: bool,
) -> String {
    let rate = |v: f64| format_rate(resource, v / scale, signed);
    match (a.slope, a.slope_ci) {
        (Some(slope), Some((lo, hi))) => format!(
            "{}/{per} ({:.0}% CI {} .. {})",
            rate(slope),
            a.confidence * 100.0,
            rate(lo),
            rate(hi)
        ),
        _ => no_estimate(a),
    }
}

impl ResourceReport {
    /// For a series too short for any slope estimate, what every front end prints instead of a
    /// slope: `no estimate yet (2 samples, 30 needed)`; `None` when the series has its estimate.
    pub fn no_estimate(&self) -> Option<String> {
        self.analysis
            .slope
            .is_none()
            .then(|| no_estimate(&self.analysis))
    }
}

/// `no estimate yet (2 samples, 30 needed)`: a series with too few samples for a slope, and how
/// many would give it a verdict (and with it an estimate).
fn no_estimate(a: &Analysis) -> String {
    let needed = a.samples + a.more_samples.unwrap_or(0);
    format!(
        "no estimate yet ({} sample{}, {needed} needed)",
        a.samples,
        if a.samples == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_speak_the_resource_unit() {
        assert_eq!(format_rate(Resource::Heap, 1024.0, true), "+1.0 KiB");
        assert_eq!(format_rate(Resource::Rss, 8.5, true), "+8.5 B");
        assert_eq!(format_rate(Resource::Heap, 0.0, true), "0 B");
        assert_eq!(format_rate(Resource::Fds, 0.1, true), "+0.10 fds");
        assert_eq!(format_rate(Resource::Threads, 0.0, true), "0.00 threads");
        assert_eq!(format_rate(Resource::Fds, 1.0, false), "1.00 fds");
    }

    #[test]
    fn an_estimate_has_its_interval_and_no_estimate_says_what_is_missing() {
        let mut a = leakproof_trend::analyze(
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            &leakproof_trend::Config::counts(),
        )
        .expect("finite");
        assert_eq!(
            format_estimate(Resource::Fds, &a, 0.5, "s", true),
            "+2.00 fds/s (95% CI +2.00 fds .. +2.00 fds)"
        );
        a = leakproof_trend::analyze(&[1.0, 2.0], &leakproof_trend::Config::counts())
            .expect("finite");
        assert_eq!(
            format_estimate(Resource::Fds, &a, 1.0, "iteration", true),
            "no estimate yet (2 samples, 20 needed)"
        );
    }
}
