//! The second phase names the line that allocates: a binary of its own, with TrackingAlloc.

use leakproof_harness::Harness;
use leakproof_report::Resource;
use leakproof_trend::Verdict;

#[global_allocator]
static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();

#[test]
fn a_growing_vec_is_leaking_and_its_line_is_named() {
    let mut kept: Vec<Box<[u8; 64]>> = Vec::new();
    let report = Harness::new()
        .name("growing_vec")
        .run(|| kept.push(Box::new([7u8; 64])))
        .unwrap();
    let text = report.render_text();
    assert_eq!(report.verdict, Verdict::Leaking, "{text}");
    assert_eq!(verdict_of(&report, Resource::Heap), Some(Verdict::Leaking));
    let (slope, (lo, hi)) = (report.slope.unwrap(), report.slope_ci.unwrap());
    assert!(slope >= 64.0, "{text}");
    assert!(lo <= slope && slope <= hi);
    assert!(text.contains("LEAKING (heap)"), "{text}");
    assert!(text.contains("B/iteration"), "{text}");
    // The second phase names this file as the user frame of the top site.
    assert!(!report.sites.is_empty(), "{text}");
    let named = report.sites.iter().any(|s| {
        s.user_frame
            .and_then(|u| s.traceback.get(u))
            .and_then(|f| f.file.as_deref())
            .is_some_and(|f| f.ends_with("tests/sites.rs"))
    });
    assert!(named, "{text}");
    assert!(text.contains("sites.rs:"), "{text}");
    assert_eq!(report.exit_code(), 1);
}

fn verdict_of(report: &leakproof_report::Report, r: Resource) -> Option<Verdict> {
    report.resource(r).map(|rr| rr.analysis.verdict)
}
