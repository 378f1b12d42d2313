//! Leak tests stay exact beside tests that allocate heavily on parallel threads.
//!
//! Under `cargo test` (tests on parallel threads of one process) each leak test re-executes this
//! binary for itself alone, so the growing allocations of `a_*` tests and their background threads
//! never reach its series. Under nextest every test has its own process anyway. The control test
//! shows that the interference is real: the same stable workload judged in-process while memory
//! grows on another thread is not Stable.

use std::time::{Duration, Instant};

use leakproof_harness::testing::{run_leak_test, LeakTest};
use leakproof_harness::Harness;
use leakproof_trend::Verdict;

#[global_allocator]
static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();

/// Grow a private vector by `chunk` bytes every millisecond for `duration`, then free it all.
fn allocate_for(duration: Duration, chunk: usize) {
    let started = Instant::now();
    let mut held: Vec<Vec<u8>> = Vec::new();
    while started.elapsed() < duration {
        held.push(vec![1u8; chunk]);
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(held);
}

#[test]
fn a_background_allocators_outlive_this_test() {
    // Detached: they keep allocating while the leak tests below run, then end by themselves.
    for _ in 0..2 {
        std::thread::spawn(|| allocate_for(Duration::from_secs(3), 4096));
    }
}

#[test]
fn a_heavy_ordinary_test() {
    allocate_for(Duration::from_millis(1500), 8192);
}

fn small_workload(buffer: &mut Vec<u8>) {
    buffer.clear();
    buffer.extend_from_slice(&[7u8; 300]);
    std::thread::sleep(Duration::from_micros(500));
}

#[test]
fn b_leak_test_one_is_stable() {
    let mut buffer = Vec::with_capacity(512);
    run_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "b_leak_test_one_is_stable")),
        || small_workload(&mut buffer),
    );
}

#[test]
fn b_leak_test_two_is_stable() {
    let mut buffer = Vec::with_capacity(512);
    run_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "b_leak_test_two_is_stable")),
        || small_workload(&mut buffer),
    );
}

#[test]
fn b_leak_test_three_is_stable() {
    let mut map = std::collections::HashMap::new();
    let mut n = 0u32;
    run_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "b_leak_test_three_is_stable")),
        || {
            n = (n + 1) % 64;
            map.insert(n, format!("value {n}"));
            std::thread::sleep(Duration::from_micros(500));
        },
    );
}

#[test]
fn c_control_in_process_sees_other_threads() {
    let background = std::thread::spawn(|| allocate_for(Duration::from_millis(800), 4096));
    let mut buffer = Vec::with_capacity(512);
    let report = Harness::new()
        .name("control")
        .iterations(200)
        .max_iterations(200)
        .capture_sites(false)
        .run(|| small_workload(&mut buffer))
        .unwrap();
    background.join().unwrap();
    assert_ne!(report.verdict, Verdict::Stable, "{}", report.render_text());
}
