//! A leak test killed by its own descriptor leak fails with a LEAKING headline: the leak proven on
//! the iterations before the failure leads, the error follows linked to it ("exhausted the
//! descriptor limit"), and there is no advice to make the test repeatable. Written as
//! `#[leak_test]` expands; under `cargo test` it runs in a re-executed child, under nextest
//! in-process. Alone in its own test binary: it lowers this process's descriptor limit.

use std::panic::{catch_unwind, AssertUnwindSafe};

use leakproof_harness::testing::{run_leak_test, LeakTest, CHILD_TEST_VAR};
use nix::sys::resource::{getrlimit, setrlimit, Resource as Limit};

#[test]
fn a_leak_test_killed_by_its_descriptor_leak_fails_as_leaking() {
    let (_, hard) = getrlimit(Limit::RLIMIT_NOFILE).expect("getrlimit");
    // The child re-executed for this test lowers its own limit here too.
    setrlimit(Limit::RLIMIT_NOFILE, 128, hard).expect("setrlimit");
    let mut kept = Vec::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_leak_test(
            LeakTest::new(concat!(
                module_path!(),
                "::",
                "a_leak_test_killed_by_its_descriptor_leak_fails_as_leaking"
            )),
            // The body owns what it keeps: when the run ends, the descriptors are closed and
            // the report can be written.
            move || kept.push(std::fs::File::open("/dev/null").expect("open /dev/null")),
        )
    }));
    let Err(payload) = result else {
        // The re-executed child only measures and hands its report to the parent, which fails.
        assert!(
            std::env::var_os(CHILD_TEST_VAR).is_some(),
            "the leak test must fail"
        );
        return;
    };
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    let headline = message.lines().next().unwrap_or_default();
    assert!(headline.ends_with(": LEAKING (fds)"), "{message}");
    assert!(
        message.contains("the fds leak exhausted the descriptor limit at iteration "),
        "{message}"
    );
    assert!(message.contains("Too many open files"), "{message}");
    assert!(!message.contains("make it repeatable"), "{message}");
}
