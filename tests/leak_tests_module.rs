//! `#[leak_tests]` end to end: an ordinary module of tests becomes leak tests with one line.
//!
//! `suite` below is what an existing test module looks like (helpers, a `use`, a nested module, a
//! test returning `Result`, an ignored test, an async test) plus the one attribute line. As in
//! tests/leak_corpus.rs, each test that must fail is `#[should_panic(expected = ...)]`, which pins
//! its message: the leaking test must name a line of this file, the test that cannot run twice must
//! fail with the "not repeatable" explanation; every other test must be proven Stable. CI runs this
//! file under `cargo test` (each leak test re-executes the binary) and `cargo nextest run` (each in
//! its own process), so both runners are covered by the same expectations.
//!
//! The tests after `suite` run this binary again as a subprocess, under `LEAKPROOF=once`: each body
//! runs once, and the run says so on stderr.

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

/// The code under test: a parser, a bounded cache, and a request log that never forgets.
fn parse(input: &str) -> Vec<u32> {
    input
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn remember(request: &str) {
    // The leaking test's `expected` pins this line: keep the two in step.
    LOG.lock().expect("log").push(request.to_owned());
}

static SERVER_STARTED: AtomicBool = AtomicBool::new(false);

/// Global state a test asserts on: it can start only once per process.
fn start_server() {
    assert!(
        !SERVER_STARTED.swap(true, Ordering::SeqCst),
        "the server is already started"
    );
}

/// Set by the `LEAKPROOF=once` test below: the file each run of `parses_numbers` appends a line to.
const RUNS_VAR: &str = "LEAK_TESTS_MODULE_RUNS";

#[leakproof::leak_tests(iterations = 100)]
mod suite {
    use super::*;

    fn sample() -> String {
        (0..32).map(|n| n.to_string()).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn parses_numbers() {
        assert_eq!(parse("1, 2,x,3"), vec![1, 2, 3]);
        if let Some(path) = std::env::var_os(RUNS_VAR) {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("runs file");
            writeln!(file, "ran").expect("write runs file");
        }
    }

    #[test]
    fn parses_through_a_result() -> Result<(), std::num::ParseIntError> {
        let n: u32 = "42".parse()?;
        assert_eq!(n, 42);
        Ok(())
    }

    #[test]
    #[should_panic(expected = "leak_tests_module.rs:34")] // the push in `remember`
    fn remembers_every_request() {
        remember("GET /index.html");
    }

    #[test]
    #[should_panic(
        expected = "passes once but fails when repeated (iteration 2): the server is already \
                    started; leak tests repeat the body: make it repeatable or exclude it"
    )]
    fn starts_the_server() {
        start_server();
    }

    #[test]
    #[ignore = "proves that #[ignore] keeps applying: running it would fail"]
    fn ignored_stays_ignored() {
        panic!("an ignored test ran");
    }

    #[test]
    #[leakproof::skip]
    fn skipped_runs_once_as_a_plain_test() {
        static RAN: AtomicBool = AtomicBool::new(false);
        assert!(
            !RAN.swap(true, Ordering::SeqCst),
            "a skipped test ran twice"
        );
    }

    mod nested {
        use super::*;

        #[test]
        fn a_bounded_cache_is_stable() {
            thread_local! {
                static CACHE: std::cell::RefCell<HashMap<u32, String>> = Default::default();
            }
            CACHE.with(|cache| {
                let mut cache = cache.borrow_mut();
                let key = cache.len() as u32 % 16;
                cache.insert(key, sample());
            });
        }

        #[tokio::test]
        async fn an_async_test_is_stable() {
            let value = async { parse(&sample()) }.await;
            tokio::task::yield_now().await;
            std::hint::black_box(value);
        }
    }
}

/// Runs this test binary with `args`, as a user's `cargo test -- ARGS` would, outside any runner's
/// environment so that it behaves the same under cargo test and nextest.
fn run_self(args: &[&str], env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current exe");
    let mut command = Command::new(exe);
    command.args(args).envs(env.iter().copied());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("NEXTEST") || name.starts_with("LEAKPROOF") || name == RUNS_VAR {
            command.env_remove(name);
        }
    }
    command.output().expect("run the test binary")
}

fn text(output: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn once_runs_every_body_once_and_says_so() {
    let runs = std::env::temp_dir().join(format!(
        "leakproof-leak-tests-module-runs-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&runs);
    let runs_str = runs.to_str().expect("utf-8 temp path");
    // Every test of the suite, with libtest capturing output as it does by default.
    let output = run_self(
        &["suite::", "--test-threads=2"],
        &[("LEAKPROOF", "once"), (RUNS_VAR, runs_str)],
    );
    let ran = std::fs::read_to_string(&runs).unwrap_or_default();
    let _ = std::fs::remove_file(&runs);
    let all = text(&output);
    // The leaking and the non-repeatable tests pass too: nothing is checked in this mode.
    assert!(output.status.success(), "{all}");
    assert!(all.contains("7 passed; 0 failed; 1 ignored"), "{all}");
    assert_eq!(ran.lines().count(), 1, "parses_numbers ran {ran:?}");
    let notice = leakproof::__private::ONCE_NOTICE;
    assert_eq!(all.matches(notice).count(), 1, "{all}");
}

#[test]
fn an_unknown_switch_value_fails_every_leak_test() {
    let output = run_self(
        &["--exact", "suite::parses_numbers"],
        &[("LEAKPROOF", "fast")],
    );
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    assert!(
        all.contains("LEAKPROOF=\"fast\" is not understood"),
        "{all}"
    );
}
