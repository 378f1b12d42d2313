//! The Harness in-process on leaking and stable closures, with TrackingAlloc installed.
//!
//! These call `Harness::run` directly, so they share this process with the other tests of this
//! binary; each test takes `SERIAL` so that no other test allocates while one measures. Capturing
//! sites symbolizes them, and the debug-info cache that leaves in the heap (tens of MiB in a debug
//! build) raises the baseline for later tests: small-leak sensitivity is tested in `reexec.rs`,
//! where each leak test has a process of its own, and the named line in `sites.rs`.

use std::fs::File;
use std::sync::{mpsc, Mutex, MutexGuard};

use leakproof_harness::{Harness, MemoryProbe};
use leakproof_report::Resource;
use leakproof_trend::Verdict;

#[global_allocator]
static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn verdict_of(report: &leakproof_report::Report, r: Resource) -> Option<Verdict> {
    report.resource(r).map(|rr| rr.analysis.verdict)
}

#[test]
fn reused_buffers_are_stable() {
    let _g = serial();
    let mut buffer: Vec<u8> = Vec::new();
    let mut n = 0usize;
    let report = Harness::new()
        .name("saw_tooth")
        .run(|| {
            n += 1;
            buffer.extend(std::iter::repeat_n(1u8, 100 + n % 37));
            if buffer.len() > 4096 {
                buffer.clear();
            }
            let scratch = vec![0u8; 1000];
            std::hint::black_box(scratch);
        })
        .unwrap();
    assert_eq!(report.verdict, Verdict::Stable, "{}", report.render_text());
    assert!(report.passed());
    assert!(report.sites.is_empty(), "capture runs only on failure");
    assert_eq!(report.exit_code(), 0);
    assert_eq!(
        report.resources[0].source,
        "live heap bytes (TrackingAlloc)"
    );
}

#[test]
fn a_cache_that_fills_during_warmup_is_stable() {
    let _g = serial();
    let mut cache = std::collections::VecDeque::new();
    let mut n = 0u64;
    let report = Harness::new()
        .name("bounded_cache")
        .run(|| {
            n += 1;
            cache.push_back(format!("entry {n}"));
            if cache.len() > 100 {
                cache.pop_front();
            }
        })
        .unwrap();
    assert_eq!(report.verdict, Verdict::Stable, "{}", report.render_text());
}

#[test]
fn kept_files_are_an_fd_leak_with_their_targets() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::with_capacity(4000);
    let mut n = 0;
    let report = Harness::new()
        .name("kept_files")
        .run(|| {
            n += 1;
            files.push(File::create(dir.path().join(format!("f{n}"))).unwrap());
        })
        .unwrap();
    let text = report.render_text();
    assert_eq!(
        verdict_of(&report, Resource::Fds),
        Some(Verdict::Leaking),
        "{text}"
    );
    assert_eq!(report.verdict, Verdict::Leaking);
    let detail = report
        .resource(Resource::Fds)
        .and_then(|r| r.detail.clone())
        .unwrap_or_default();
    assert!(detail.contains("regular file"), "{text}");
    assert!(detail.contains(&dir.path().display().to_string()), "{text}");
    assert!(text.contains("fds/iteration"), "{text}");
}

#[test]
fn opened_and_closed_files_are_stable() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let report = Harness::new()
        .name("closed_files")
        .run(|| {
            let f = File::create(&path).unwrap();
            drop(f);
        })
        .unwrap();
    assert_eq!(report.verdict, Verdict::Stable, "{}", report.render_text());
    assert_eq!(verdict_of(&report, Resource::Fds), Some(Verdict::Stable));
}

#[test]
fn threads_blocked_forever_are_a_thread_leak() {
    let _g = serial();
    let mut senders = Vec::new();
    let report = Harness::new()
        .name("blocked_threads")
        .iterations(150)
        .run(|| {
            let (tx, rx) = mpsc::channel::<()>();
            std::thread::Builder::new()
                .name("stuck-worker".into())
                .spawn(move || {
                    let _ = rx.recv();
                })
                .unwrap();
            senders.push(tx);
        })
        .unwrap();
    let text = report.render_text();
    // Release the threads before asserting.
    drop(senders);
    assert_eq!(
        verdict_of(&report, Resource::Threads),
        Some(Verdict::Leaking),
        "{text}"
    );
    let detail = report
        .resource(Resource::Threads)
        .and_then(|r| r.detail.clone())
        .unwrap_or_default();
    assert!(detail.contains("stuck-worker"), "{text}");
}

#[test]
fn joined_threads_are_stable() {
    let _g = serial();
    let report = Harness::new()
        .name("joined_threads")
        .iterations(150)
        .run(|| {
            std::thread::spawn(|| std::hint::black_box(vec![1u8; 100]))
                .join()
                .unwrap();
        })
        .unwrap();
    assert_eq!(report.verdict, Verdict::Stable, "{}", report.render_text());
}

#[test]
fn allocations_on_a_spawned_thread_count() {
    let _g = serial();
    let kept = std::sync::Arc::new(Mutex::new(Vec::new()));
    let report = Harness::new()
        .name("leak_on_thread")
        .capture_sites(false)
        .run(|| {
            let kept = kept.clone();
            std::thread::spawn(move || kept.lock().unwrap().push(vec![0u8; 32]))
                .join()
                .unwrap();
        })
        .unwrap();
    assert_eq!(
        verdict_of(&report, Resource::Heap),
        Some(Verdict::Leaking),
        "{}",
        report.render_text()
    );
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let _g = serial();
    let mut n = 0;
    let report = Harness::new()
        .name("panics")
        .capture_sites(false)
        .run(|| {
            n += 1;
            if n == 10 {
                panic!("request 10 failed");
            }
        })
        .unwrap();
    let failure = report.failure.clone().unwrap_or_default();
    assert!(failure.contains("request 10 failed"), "{failure}");
    assert_eq!(report.exit_code(), 4);
    assert!(report.render_text().contains("request 10 failed"));
}

#[test]
fn resources_can_be_opted_out() {
    let _g = serial();
    let report = Harness::new()
        .name("heap_only")
        .iterations(50)
        .track_resources(false)
        .run(|| {})
        .unwrap();
    assert_eq!(report.resources.len(), 1);
    assert!(report.resource(Resource::Fds).is_none());
}

#[test]
fn the_rss_probe_can_be_forced_and_says_so() {
    let _g = serial();
    let report = Harness::new()
        .name("rss")
        .iterations(50)
        .probe(MemoryProbe::Rss)
        .run(|| {})
        .unwrap();
    assert_eq!(report.resources[0].resource, Resource::Rss);
    assert!(report.resources[0].source.contains("RSS"));
}

#[test]
fn an_inconclusive_run_is_extended_within_its_ceiling() {
    let _g = serial();
    // Grows for 250 iterations then stops: at 100 iterations it is still climbing.
    let mut kept = Vec::with_capacity(1000);
    let mut n = 0;
    let report = Harness::new()
        .name("late_plateau")
        .iterations(100)
        .max_iterations(1500)
        .capture_sites(false)
        .run(|| {
            n += 1;
            if n <= 250 {
                kept.push(Box::new([0u8; 48]));
            }
        })
        .unwrap();
    let text = report.render_text();
    assert!(report.iterations <= 1500, "{text}");
    if report.verdict != Verdict::Leaking {
        // Whatever the detector decided, it had more than the initial 100 samples when it was not
        // sure at 100.
        assert!(
            report.iterations > 100 || report.verdict == Verdict::Stable,
            "{text}"
        );
    }
    assert_eq!(report.samples.len(), report.iterations);
}

#[test]
fn artifacts_are_written_and_an_unwritable_dir_is_only_a_warning() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let report = Harness::new()
        .name("tests::artifacts")
        .iterations(40)
        .report_dir(dir.path())
        .run(|| {})
        .unwrap();
    let json = std::fs::read_to_string(dir.path().join("tests__artifacts.json")).unwrap();
    let back: leakproof_report::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let svg = std::fs::read_to_string(dir.path().join("tests__artifacts.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");

    // A file where the directory should be: writing fails, the run still reports.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let report = Harness::new()
        .name("blocked")
        .iterations(40)
        .report_dir(blocker.join("sub"))
        .run(|| {})
        .unwrap();
    assert!(report.failure.is_none());
}
