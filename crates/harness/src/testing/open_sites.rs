//! Where a leak test run in-process under nextest leaked its descriptors and threads: only a
//! process started with the preload agent can say, and nextest starts the test's process itself.
//! So when such a run found fds or threads not Stable without their open sites, the test is
//! re-executed once with the agent (the way `cargo test` always runs it) and the open sites of
//! that run are added to the first run's report; its verdicts stay the first run's. A test whose
//! descriptors and threads are Stable is never run again.

use leakproof_agents::NativeAgent;
use leakproof_report::{Report, Resource};
use leakproof_sample::native::{NATIVE_DIR_VAR, NATIVE_OWN_DIR_VAR};

use super::reexec::reexec_with;
use crate::findings::open_sites_known;

/// The handle resources of `report` that grew but whose open sites are unknown.
fn unnamed(report: &Report) -> Vec<Resource> {
    report
        .resources
        .iter()
        .filter(|r| matches!(r.resource, Resource::Fds | Resource::Threads))
        .filter(|r| r.analysis.verdict != leakproof_trend::Verdict::Stable && r.sites.is_empty())
        .map(|r| r.resource)
        .collect()
}

/// `report` (of test `name`, run in-process under nextest) with the open sites of its leaked
/// descriptors and threads, found by one re-execution with the preload agent when it has none.
pub(super) fn with_open_sites(name: &str, mut report: Report) -> Report {
    let wanted = unnamed(&report);
    let preloaded = [NATIVE_DIR_VAR, NATIVE_OWN_DIR_VAR]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if wanted.is_empty() || preloaded || report.failure.is_some() {
        return report;
    }
    let Ok(agent) = NativeAgent::prepare() else {
        return report;
    };
    let Ok(again) = reexec_with(name, Some(agent)) else {
        return report;
    };
    let mut found = false;
    for resource in wanted {
        let sites = again.resource(resource).map(|r| r.sites.clone());
        let Some(r) = report.resources.iter_mut().find(|r| r.resource == resource) else {
            continue;
        };
        r.sites = sites.unwrap_or_default();
        found |= !r.sites.is_empty();
        open_sites_known(r);
    }
    if found {
        report.notes.push(
            "open sites from a second run of this test, re-executed with the preload agent"
                .to_owned(),
        );
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_report::ResourceReport;

    fn judged(resource: Resource, series: &[f64]) -> ResourceReport {
        let config = leakproof_trend::Config::counts();
        let analysis = leakproof_trend::analyze(series, &config).expect("a series");
        ResourceReport::new(resource, "test", series.to_vec(), analysis)
    }

    #[test]
    fn only_grown_handles_without_sites_are_looked_for() {
        let growing: Vec<f64> = (0..100).map(f64::from).collect();
        let mut report = Report::unjudged("t", 100, 1.0);
        report.resources = vec![
            judged(Resource::Fds, &growing),
            judged(Resource::Threads, &[3.0; 100]),
        ];
        assert_eq!(unnamed(&report), vec![Resource::Fds]);
        report.resources[1] = judged(Resource::Threads, &growing);
        assert_eq!(unnamed(&report), vec![Resource::Fds, Resource::Threads]);
        report.resources[0].sites = report.sites.clone();
        report.resources[0]
            .sites
            .push(serde_json::from_str(SITE).expect("a site"));
        assert_eq!(unnamed(&report), vec![Resource::Threads]);
    }

    const SITE: &str = r#"{"key":"a.rs:1","size":1,"size_diff":1,"count":1,"count_diff":1,
        "traceback":[],"user_frame":null}"#;
}
