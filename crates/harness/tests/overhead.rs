//! Fixtures for `crates/harness/benches/overhead.sh` (ignored in normal runs): the same 10 µs workload
//! run bare 300 times, as a passing leak test, and as a failing one (capture phase included).

use std::time::{Duration, Instant};

use leakproof_harness::testing::{run_leak_test, LeakTest};

#[global_allocator]
static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();

/// About 10 µs of work with one short-lived allocation.
fn workload() {
    let started = Instant::now();
    let buffer = vec![0u8; 256];
    while started.elapsed() < Duration::from_micros(10) {
        std::hint::black_box(&buffer);
    }
}

#[test]
#[ignore = "benchmark fixture: run by crates/harness/benches/overhead.sh"]
fn overhead_bare_loop() {
    for _ in 0..300 {
        workload();
    }
}

#[test]
#[ignore = "benchmark fixture: run by crates/harness/benches/overhead.sh"]
fn overhead_passing_leak_test() {
    run_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "overhead_passing_leak_test")),
        workload,
    );
}

#[test]
#[ignore = "benchmark fixture: run by crates/harness/benches/overhead.sh"]
#[should_panic(expected = "LEAKING")]
fn overhead_failing_leak_test() {
    let mut kept = Vec::with_capacity(1000);
    run_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "overhead_failing_leak_test")),
        || {
            workload();
            kept.push(Box::new([0u8; 64]));
        },
    );
}
