//! A leak that exhausts a kernel limit before the run ends is still called a leak: the samples
//! taken before the workload failed are judged, and the report says so beside the failure.
//! Alone in its own test binary: it lowers this process's descriptor limit.

use leakproof_harness::{Harness, Resource};
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
    assert_eq!(report.exit_code(), 4, "the failure stays the outcome");
    let fds = report.resource(Resource::Fds).expect("fds judged");
    assert_eq!(fds.analysis.verdict, Verdict::Leaking, "{report:?}");
    assert!((fds.analysis.slope.expect("an estimate") - 1.0).abs() < 1e-9);
    let text = report.render_text();
    assert!(
        text.contains("before it failed, fds was leaking: grew 1.00 fds/iteration"),
        "{text}"
    );
}
