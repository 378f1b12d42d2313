//! `testing::run_leak_test` as `#[leak_test]` expands to it: re-executed in a child process under
//! `cargo test`, in-process under nextest. Each test here is written as the macro would write it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use leakproof_harness::testing::{run_leak_test, LeakTest, CHILD_TEST_VAR, REEXEC_VAR};

#[global_allocator]
static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();

fn under_nextest() -> bool {
    std::env::var_os("NEXTEST").is_some()
}

/// Where the child of this test process leaves a marker: named after the parent's pid.
fn marker_path(parent: u32, test: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("leakproof-reexec-marker-{parent}-{test}"))
}

#[test]
fn a_stable_workload_passes_in_a_child_process() {
    let mut buffer = Vec::with_capacity(1024);
    run_leak_test(
        LeakTest::new(concat!(
            module_path!(),
            "::",
            "a_stable_workload_passes_in_a_child_process"
        )),
        || {
            buffer.clear();
            buffer.extend_from_slice(&[1u8; 512]);
            if let Ok(test) = std::env::var(CHILD_TEST_VAR) {
                // Only the child has the marker variable: leave proof that it ran here.
                let path = marker_path(std::os::unix::process::parent_id(), &test);
                if !path.exists() {
                    let _ = std::fs::write(&path, std::process::id().to_string());
                }
            }
        },
    );
    let path = marker_path(
        std::process::id(),
        "a_stable_workload_passes_in_a_child_process",
    );
    if under_nextest() || std::env::var(REEXEC_VAR).as_deref() == Ok("0") {
        assert!(!path.exists(), "no child expected in-process");
    } else {
        let child_pid = std::fs::read_to_string(&path).expect("the child left its marker");
        let _ = std::fs::remove_file(&path);
        assert_ne!(child_pid, std::process::id().to_string());
    }
}

#[test]
#[should_panic(expected = "LEAKING (heap)")]
fn eight_bytes_per_iteration_fails_the_test() {
    let mut kept: Vec<Box<u64>> = Vec::with_capacity(10_000);
    run_leak_test(
        LeakTest::new(concat!(
            module_path!(),
            "::",
            "eight_bytes_per_iteration_fails_the_test"
        )),
        || kept.push(Box::new(8)),
    );
}

#[test]
#[should_panic(expected = "request 7 failed")]
fn a_panicking_workload_fails_with_its_own_message() {
    let mut n = 0;
    run_leak_test(
        LeakTest::new(concat!(
            module_path!(),
            "::",
            "a_panicking_workload_fails_with_its_own_message"
        )),
        || {
            n += 1;
            if n == 7 {
                panic!("request 7 failed");
            }
        },
    );
}

#[test]
#[should_panic(expected = "fds")]
fn kept_files_fail_the_test_naming_fds() {
    let dir = std::env::temp_dir();
    let mut files = Vec::with_capacity(5000);
    run_leak_test(
        LeakTest::new(concat!(
            module_path!(),
            "::",
            "kept_files_fail_the_test_naming_fds"
        ))
        .iterations(200),
        || files.push(std::fs::File::open(&dir).unwrap()),
    );
}

#[test]
fn an_aborting_child_fails_with_its_signal_and_stderr() {
    if under_nextest() {
        // Alone in this process under nextest: force the re-exec path so the abort hits a child.
        std::env::set_var(REEXEC_VAR, "1");
    } else if std::env::var(REEXEC_VAR).as_deref() == Ok("0") {
        return; // in-process by request: an abort would take the whole test binary down
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        run_leak_test(
            LeakTest::new(concat!(
                module_path!(),
                "::",
                "an_aborting_child_fails_with_its_signal_and_stderr"
            )),
            || {
                eprintln!("about to abort on purpose");
                std::process::abort();
            },
        )
    }));
    let payload = result.expect_err("the test must fail");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("signal 6 (SIGABRT)"), "{message}");
    assert!(message.contains("wrote no report"), "{message}");
    assert!(message.contains("about to abort on purpose"), "{message}");
    assert_no_zombie_children();
}

/// No child of this process is left unreaped (a zombie) once run_leak_test returned.
fn assert_no_zombie_children() {
    let me = std::process::id().to_string();
    for _ in 0..50 {
        let zombies: Vec<String> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                // pid (comm) state ppid ...
                let after = stat.rsplit_once(") ").map(|(_, a)| a).unwrap_or("");
                let mut fields = after.split_whitespace();
                fields.next() == Some("Z") && fields.next() == Some(me.as_str())
            })
            .collect();
        if zombies.is_empty() {
            return;
        }
        // Another test's child may be between its exit and its parent's wait: look again.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("zombie children left behind");
}

mod nested {
    use super::*;

    #[test]
    fn a_test_in_a_nested_module_finds_itself() {
        run_leak_test(
            LeakTest::new(concat!(
                module_path!(),
                "::",
                "a_test_in_a_nested_module_finds_itself"
            ))
            .iterations(100),
            || {
                std::hint::black_box(vec![0u8; 100]);
            },
        );
    }
}
