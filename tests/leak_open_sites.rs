//! `#[leak_test]` names where its leaked descriptors and threads were opened: the re-executed
//! child runs with the preload agent (`libleakproof_preload.so`, which cargo builds with the
//! harness), and its locate phase reads its own open sites. Each test below runs a leak test
//! through the runner the macro expands to and reads the failure message, the rendered report.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::sync::Mutex;

use leakproof::__private::{run_leak_test, LeakTest, CHILD_TEST_VAR};

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

const SOURCE: &str = include_str!("leak_open_sites.rs");

/// `tests/leak_open_sites.rs:LINE` of the line carrying `marker` (the marker text appears twice:
/// the line itself, and the call naming it).
fn line_of(marker: &str) -> String {
    let tag = format!("/* {marker} */");
    let line = SOURCE
        .lines()
        .position(|l| l.contains(&tag) && !l.contains("line_of"))
        .expect("marker")
        + 1;
    format!("tests/leak_open_sites.rs:{line}")
}

/// Runs `body` as the leak test `name` of this file; `None` in the re-executed child (which
/// only writes its report), else the failure message (the test must fail).
fn failure(name: &'static str, body: impl FnMut() + std::panic::UnwindSafe) -> Option<String> {
    let test = LeakTest::new(name).iterations(150);
    let outcome = std::panic::catch_unwind(move || run_leak_test(test, body));
    if std::env::var_os(CHILD_TEST_VAR).is_some() {
        return None;
    }
    let panic = outcome.expect_err("the leak test fails");
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a message");
    eprintln!("{text}");
    Some(text)
}

static FILES: Mutex<Vec<File>> = Mutex::new(Vec::new());

#[test]
fn a_leak_test_keeping_a_file_per_iteration_names_the_line_that_opened_it() {
    let Some(text) = failure(
        concat!(
            module_path!(),
            "::a_leak_test_keeping_a_file_per_iteration_names_the_line_that_opened_it"
        ),
        || {
            let file = File::open("/dev/null").expect("open"); /* THE_OPEN */
            FILES.lock().expect("lock").push(file);
        },
    ) else {
        return;
    };
    assert!(text.contains("fds      leaking"), "{text}");
    let at = line_of("THE_OPEN");
    let named = text
        .lines()
        .skip_while(|l| !l.starts_with("where the new fds were opened"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        named.contains(&at) && named.contains("still open"),
        "{text}"
    );
    assert!(
        !text.contains("where they were opened is not known"),
        "{text}"
    );
}

static THREADS: Mutex<Vec<std::sync::mpsc::Sender<()>>> = Mutex::new(Vec::new());

#[test]
fn a_leak_test_keeping_a_thread_per_iteration_names_the_line_that_started_it() {
    let Some(text) = failure(
        concat!(
            module_path!(),
            "::a_leak_test_keeping_a_thread_per_iteration_names_the_line_that_started_it"
        ),
        || {
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            std::thread::spawn(move || stopped.recv()); /* THE_SPAWN */
            THREADS.lock().expect("lock").push(stop);
        },
    ) else {
        return;
    };
    assert!(text.contains("threads  leaking"), "{text}");
    let at = line_of("THE_SPAWN");
    let named = text
        .lines()
        .skip_while(|l| !l.starts_with("where the new threads were started"))
        .nth(1)
        .unwrap_or_default();
    assert!(named.contains(&at), "{text}");
}

static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

#[test]
fn a_rust_heap_leak_says_once_that_it_has_no_holder_to_name() {
    let Some(text) = failure(
        concat!(
            module_path!(),
            "::a_rust_heap_leak_says_once_that_it_has_no_holder_to_name"
        ),
        || BUFFERS.lock().expect("lock").push(vec![7u8; 64]),
    ) else {
        return;
    };
    assert!(text.contains("heap     leaking"), "{text}");
    assert_eq!(
        text.matches("Rust/native heaps have no holder to name")
            .count(),
        1,
        "{text}"
    );
}

/// The agent is the re-executed child's alone: the processes a leak test starts run without it
/// (it restores `LD_PRELOAD` and drops its variables when it loads), as they would under
/// nextest or without leakproof.
#[leakproof::leak_test(iterations = 40)]
fn processes_a_leak_test_starts_run_without_the_agent() {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "echo \"[$LD_PRELOAD|$LEAKPROOF_PRELOAD_DIR|$LEAKPROOF_PRELOAD_SELF]\"",
        ])
        .output()
        .expect("sh runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[||]");
}
