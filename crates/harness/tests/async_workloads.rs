//! Async workloads on the current-thread runtime (feature `tokio`).
#![cfg(feature = "tokio")]

use std::cell::RefCell;
use std::rc::Rc;

use leakproof_harness::testing::{run_async_leak_test, LeakTest};
use leakproof_harness::Harness;
use leakproof_trend::Verdict;

#[global_allocator]
static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();

async fn handle(request: u32) -> usize {
    let body = format!("request {request}");
    let task = tokio::task::spawn(async move { body.len() });
    task.await.unwrap_or(0)
}

#[test]
fn completed_tasks_are_stable() {
    let mut n = 0;
    run_async_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "completed_tasks_are_stable")),
        || {
            n += 1;
            let request = n;
            async move {
                std::hint::black_box(handle(request).await);
            }
        },
    );
}

#[test]
#[should_panic(expected = "LEAKING (heap)")]
fn a_growing_log_fails() {
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    run_async_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "a_growing_log_fails")),
        || {
            let log = log.clone();
            async move {
                let line = format!("handled {}", handle(1).await);
                log.borrow_mut().push(line);
            }
        },
    );
}

#[test]
fn the_harness_runs_async_closures() {
    let report = Harness::new()
        .name("async_stable")
        .iterations(100)
        .run_async(|| async {
            std::hint::black_box(handle(3).await);
        })
        .unwrap();
    assert!(report.failure.is_none());
    assert_ne!(report.verdict, Verdict::Leaking, "{}", report.render_text());
}
