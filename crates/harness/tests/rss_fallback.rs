//! Without TrackingAlloc the harness judges process RSS and says so.

use leakproof_harness::Harness;
use leakproof_report::Resource;
use leakproof_trend::Verdict;

#[test]
fn without_tracking_alloc_rss_is_judged_and_said() {
    assert!(!leakproof_sample::is_tracking());
    // 16 KiB per iteration, touched so that the pages are resident.
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(4000);
    let report = Harness::new()
        .name("rss_leak")
        .run(|| kept.push(vec![1u8; 16 * 1024]))
        .unwrap();
    let text = report.render_text();
    assert_eq!(report.resources[0].resource, Resource::Rss, "{text}");
    assert!(text.contains("TrackingAlloc not installed"), "{text}");
    assert!(report.notes.iter().any(|n| n.contains("RSS")), "{text}");
    assert_eq!(report.verdict, Verdict::Leaking, "{text}");
    assert!(report.sites.is_empty(), "no sites without TrackingAlloc");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("allocation sites unknown")),
        "{text}"
    );
}

#[test]
fn without_tracking_alloc_a_reused_buffer_is_not_leaking() {
    let mut buffer = vec![0u8; 64 * 1024];
    let report = Harness::new()
        .name("rss_stable")
        .run(|| {
            buffer.iter_mut().for_each(|b| *b = b.wrapping_add(1));
        })
        .unwrap();
    assert_ne!(report.verdict, Verdict::Leaking, "{}", report.render_text());
}
