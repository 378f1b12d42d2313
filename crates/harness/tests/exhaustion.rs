//! A leak that exhausts a kernel limit before the run ends is still called a leak: the samples
//! taken before the workload failed are judged, the leak leads the report (exit code 1) and the
//! failure follows, linked to it.
//! Alone in its own test binary: it lowers this process's descriptor limit.

use leakproof_harness::Harness;
use leakproof_report::{FailureLink, Resource};
use leakproof_trend::Verdict;
use nix::sys::resource::{getrlimit, setrlimit, Resource as Limit};

#[test]
fn a_descriptor_leak_that_hits_the_limit_is_judged_before_the_failure() {
    let (_, hard) = getrlimit(Limit::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Limit::RLIMIT_NOFILE, 128, hard).expect("setrlimit");
    let mut kept = Vec::new();
    let report = Harness::new()
        .name("watcher")
        .iterations(300)
        .capture_sites(false)
        .run(|| kept.push(std::fs::File::open("/dev/null").expect("open /dev/null")))
        .expect("a report");
    let failure = report.failure.clone().unwrap_or_default();
    assert!(failure.contains("Too many open files"), "{failure}");
    assert_eq!(report.exit_code(), 1, "the leak leads: {report:?}");
    let lead = report
        .leak_before_failure
        .expect("the leak leads the failure");
    assert_eq!(
        (lead.resource, lead.link),
        (Resource::Fds, FailureLink::Exhausted)
    );
    assert_eq!(lead.iteration, report.iterations + 1);
    let fds = report.resource(Resource::Fds).expect("fds judged");
    assert_eq!(fds.analysis.verdict, Verdict::Leaking, "{report:?}");
    assert!((fds.analysis.slope.expect("an estimate") - 1.0).abs() < 1e-9);
    let text = report.render_text();
    assert!(
        text.starts_with("leak test `watcher`: LEAKING (fds)\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "the fds leak exhausted the descriptor limit at iteration {}; the workload failed: ",
            lead.iteration
        )),
        "{text}"
    );
    let json = serde_json::to_value(&report).expect("serialize");
    assert_eq!(
        json["leak_before_failure"]["link"], "exhausted",
        "{}",
        json["leak_before_failure"]
    );
}
