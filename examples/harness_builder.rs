//! The `Harness` builder used directly, outside any test: every knob, and the `Report` it returns
//! (JSON for tools, text for people, SVG for CI artifacts).
//!
//! ```text
//! cargo run --release --example harness_builder
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use leakproof::{Harness, MemoryProbe, Resource};

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A sliding window of the last 200 events: it fills during warm-up, then stays level.
    let mut window: VecDeque<String> = VecDeque::with_capacity(201);
    let mut event = 0u64;

    let report_dir = std::env::temp_dir().join("leakproof-harness-builder");
    let harness = Harness::new()
        .name("sliding_window")
        .iterations(400) // samples before any extension (default 300)
        .max_iterations(4000) // an Inconclusive run may be extended up to here
        .time_budget(Duration::from_secs(10)) // ... and for at most this long
        .probe(MemoryProbe::Auto) // heap with TrackingAlloc installed, else process RSS
        .track_resources(true) // open fds and live threads beside memory (default)
        .capture_sites(true) // on failure, re-run with allocation-site capture (default)
        .report_dir(&report_dir); // <name>.json and <name>.svg, written atomically

    let report = harness.run(|| {
        event += 1;
        window.push_back(format!("event {event:012}"));
        if window.len() > 200 {
            window.pop_front();
        }
    })?;

    println!("{}", report.render_text());
    for r in &report.resources {
        // `None` only for a series too short for an estimate.
        let slope = r
            .analysis
            .slope
            .map_or_else(|| "none yet".to_owned(), |s| format!("{s:+.3}"));
        println!(
            "{:<8} {:<12} slope {slope} per iteration, warm-up {} of {} samples ({})",
            r.resource.name(),
            r.analysis.verdict.to_string(),
            r.analysis.warmup_end,
            r.samples.len(),
            r.source
        );
    }
    if let Some(heap) = report.resource(Resource::Heap) {
        println!("plateau: {:?}", heap.analysis.plateau);
    }
    println!("exit code for this report: {}", report.exit_code());
    println!(
        "artifacts: {} and .svg",
        report_dir.join("sliding_window.json").display()
    );
    let json = serde_json::to_string(&report)?;
    println!(
        "JSON report: {} bytes, verdict field: {:?}",
        json.len(),
        report.verdict.to_string()
    );
    Ok(())
}
