//! What `#[leak_test]` expands to: run a leak test exactly, whatever the test runner.
//!
//! Under plain `cargo test`, tests share one process on parallel threads and libtest itself
//! allocates (output capture, bookkeeping), so a leak test re-executes the test binary for itself
//! alone: `<current_exe> --exact <name> --nocapture --test-threads=1 --include-ignored`, with
//! [`CHILD_TEST_VAR`] and [`CHILD_REPORT_VAR`] in its environment. The child runs the workload in
//! the [`Harness`] and writes its [`Report`] as JSON; the parent checks that the child really ran
//! (the report file exists), then passes, or panics with the rendered report. Under cargo-nextest
//! (one process per test already) the test runs in-process.
//!
//! ```no_run
//! use leakproof_harness::testing::{run_leak_test, LeakTest};
//!
//! // What `#[leak_test(iterations = 200)] fn parse_is_stable() { ... }` expands to:
//! run_leak_test(
//!     LeakTest::new(concat!(module_path!(), "::", "parse_is_stable")).iterations(200),
//!     || {
//!         let parsed: Vec<u32> = "1,2,3".split(',').filter_map(|s| s.parse().ok()).collect();
//!         std::hint::black_box(parsed);
//!     },
//! );
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::report::{Isolation, Report};
use crate::runner::Harness;

/// Environment variable naming the one test a re-executed child must run in-process.
pub const CHILD_TEST_VAR: &str = "LEAKPROOF_CHILD_TEST";
/// Environment variable with the path where the child writes its report.
pub const CHILD_REPORT_VAR: &str = "LEAKPROOF_CHILD_REPORT";
/// Set to `0` to run leak tests in-process instead of re-executing the test binary (inexact under
/// parallel tests: other tests' allocations count), to `1` to re-execute even under nextest.
pub const REEXEC_VAR: &str = "LEAKPROOF_REEXEC";
/// How long a re-executed child may run before it is killed.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// One leak test: its name and settings. Built by `#[leak_test]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakTest {
    name: &'static str,
    iterations: Option<usize>,
    warmup: Option<usize>,
    max_iterations: Option<usize>,
    resources: bool,
}

impl LeakTest {
    /// A leak test named `concat!(module_path!(), "::", stringify!(f))`.
    pub fn new(name: &'static str) -> LeakTest {
        LeakTest {
            name,
            iterations: None,
            warmup: None,
            max_iterations: None,
            resources: true,
        }
    }

    /// Iterations before any extension (default 300).
    pub fn iterations(mut self, n: usize) -> LeakTest {
        self.iterations = Some(n);
        self
    }

    /// Fixed warm-up iterations (default: detected).
    pub fn warmup(mut self, n: usize) -> LeakTest {
        self.warmup = Some(n);
        self
    }

    /// Ceiling when an Inconclusive run is extended (default 10 × iterations).
    pub fn max_iterations(mut self, n: usize) -> LeakTest {
        self.max_iterations = Some(n);
        self
    }

    /// Track open file descriptors and threads beside memory (default true).
    pub fn resources(mut self, on: bool) -> LeakTest {
        self.resources = on;
        self
    }

    /// The full name given to [`LeakTest::new`] (module path and function).
    pub fn full_name(&self) -> &'static str {
        self.name
    }

    /// The name libtest knows the test by: the module path without the crate's root segment.
    pub fn libtest_name(&self) -> &'static str {
        libtest_name(self.name)
    }

    /// The harness this test runs, with `LEAKPROOF_*` environment overrides applied.
    pub fn harness(&self) -> Result<Harness, crate::HarnessError> {
        let mut h = Harness::new()
            .name(self.libtest_name())
            .track_resources(self.resources);
        if let Some(n) = self.iterations {
            h = h.iterations(n);
        }
        if let Some(n) = self.warmup {
            h = h.warmup(n);
        }
        if let Some(n) = self.max_iterations {
            h = h.max_iterations(n);
        }
        h.env_overrides()
    }
}

/// `a::b::c` -> `b::c`; `c` -> `c` (libtest drops the crate's root segment).
pub fn libtest_name(full: &str) -> &str {
    full.split_once("::").map_or(full, |(_, rest)| rest)
}

/// Run a leak test: passes when every tracked resource is proven Stable; otherwise panics with the
/// rendered report (or with the workload's own panic message when it panicked).
pub fn run_leak_test<F: FnMut()>(test: LeakTest, f: F) {
    if let Err(message) = leak_test_result(&test, |h| h.run(f)) {
        panic!("{message}");
    }
}

/// The async form of [`run_leak_test`]: each iteration awaits one future on a current-thread tokio
/// runtime built before the measured loop. Needs the `tokio` feature; without it, using this is a
/// compile error that says so.
pub fn run_async_leak_test<F, Fut>(test: LeakTest, f: F)
where
    F: FnMut() -> Fut,
    Fut: AsyncLeakTestSupport,
{
    if let Err(message) = leak_test_result(&test, |h| Fut::run(h, f)) {
        panic!("{message}");
    }
}

/// Futures an async leak test can run: every `Future<Output = ()>` when the `tokio` feature is on,
/// none without it.
#[diagnostic::on_unimplemented(
    message = "async leak tests need the `tokio` feature of leakproof",
    label = "async leak test used without the `tokio` feature",
    note = "enable it: leakproof = {{ version = \"0.1\", features = [\"tokio\"] }}"
)]
pub trait AsyncLeakTestSupport: sealed::Sealed + Sized {
    /// Run the workload on a runtime in the harness.
    #[doc(hidden)]
    fn run<F: FnMut() -> Self>(harness: &Harness, f: F) -> Result<Report, crate::HarnessError>;
}

mod sealed {
    pub trait Sealed {}
    #[cfg(feature = "tokio")]
    impl<T: std::future::Future<Output = ()>> Sealed for T {}
}

#[cfg(feature = "tokio")]
impl<T: std::future::Future<Output = ()>> AsyncLeakTestSupport for T {
    fn run<F: FnMut() -> Self>(harness: &Harness, f: F) -> Result<Report, crate::HarnessError> {
        harness.run_async(f)
    }
}

/// Where the test should run.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// This process is the re-executed child for this test: run and write the report there.
    Child(PathBuf),
    /// Run here (nextest, or not under libtest, or re-exec disabled).
    InProcess,
    /// Re-execute the test binary for this test alone.
    ReExec,
}

fn mode(test_name: &str, get: impl Fn(&str) -> Option<String>, thread: Option<&str>) -> Mode {
    if let Some(child_of) = get(CHILD_TEST_VAR) {
        return match get(CHILD_REPORT_VAR) {
            Some(path) if child_of == test_name => Mode::Child(PathBuf::from(path)),
            // Inside a child for another test: never re-execute again.
            _ => Mode::InProcess,
        };
    }
    match get(REEXEC_VAR).as_deref() {
        Some("0") => return Mode::InProcess,
        Some("1") => return Mode::ReExec,
        _ => {}
    }
    let nextest = match get("NEXTEST_EXECUTION_MODE").as_deref() {
        Some(mode) => mode == "process-per-test",
        None => get("NEXTEST").as_deref() == Some("1"),
    };
    if nextest {
        return Mode::InProcess;
    }
    // libtest runs each test on a thread named after the test: only then is re-executing the binary
    // with `--exact <name>` known to run this very test.
    if thread == Some(test_name) {
        Mode::ReExec
    } else {
        Mode::InProcess
    }
}

/// Run the test where it belongs; `Err` carries the panic message for a failed test.
fn leak_test_result(
    test: &LeakTest,
    run: impl FnOnce(&Harness) -> Result<Report, crate::HarnessError>,
) -> Result<(), String> {
    let name = test.libtest_name();
    let harness = test
        .harness()
        .map_err(|e| format!("leak test `{name}`: {e}"))?;
    let current = std::thread::current();
    let mode = mode(name, |v| std::env::var(v).ok(), current.name());
    let mut harness = harness;
    let (isolation, note) = match &mode {
        Mode::Child(_) => (
            Isolation::Reexec,
            "measured alone in a re-executed test process",
        ),
        _ if std::env::var_os("NEXTEST").is_some() => (
            Isolation::Nextest,
            "measured in-process: nextest runs each test in a process of its own",
        ),
        _ => (
            Isolation::Shared,
            "measured in-process: tests running beside it in this process count too \
             (set by LEAKPROOF_REEXEC=0, or not on a libtest test thread)",
        ),
    };
    harness.isolation = isolation;
    harness.context_note = Some(note.to_owned());
    match mode {
        Mode::Child(path) => {
            let report = match run(&harness) {
                Ok(report) => report,
                Err(e) => {
                    let mut report =
                        Report::failed(name, format!("the harness could not run: {e}"));
                    report.config = harness.run_config(Vec::new());
                    report
                }
            };
            let json = serde_json::to_string(&report)
                .map_err(|e| format!("leak test `{name}`: cannot serialize the report: {e}"))?;
            crate::render::write_atomic(&path, json.as_bytes()).map_err(|e| {
                format!(
                    "leak test `{name}`: cannot write the report to {}: {e}",
                    path.display()
                )
            })
        }
        Mode::InProcess => {
            let report = run(&harness).map_err(|e| format!("leak test `{name}`: {e}"))?;
            judge(&report)
        }
        // The child inherits LEAKPROOF_REPORT_DIR and writes the artifacts itself.
        Mode::ReExec => judge(&reexec(name)?),
    }
}

/// Pass a Stable report; fail anything else with the rendered report.
fn judge(report: &Report) -> Result<(), String> {
    if report.failure.is_some() {
        return Err(report.render_text());
    }
    if report.passed() {
        Ok(())
    } else {
        Err(report.render_text())
    }
}

static CHILDREN: AtomicUsize = AtomicUsize::new(0);

/// Re-execute this test binary for test `name` alone and read back its report.
fn reexec(name: &str) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| {
        format!("leak test `{name}`: cannot find the test binary to re-execute: {e}")
    })?;
    let report_path = std::env::temp_dir().join(format!(
        "leakproof-{}-{}-{}.json",
        std::process::id(),
        CHILDREN.fetch_add(1, Ordering::Relaxed),
        crate::runner::artifact_stem(name)
    ));
    let _ = std::fs::remove_file(&report_path);
    let mut child = Command::new(&exe)
        .args([
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(CHILD_TEST_VAR, name)
        .env(CHILD_REPORT_VAR, &report_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "leak test `{name}`: cannot re-execute {}: {e}",
                exe.display()
            )
        })?;
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let status = wait_with_timeout(&mut child, CHILD_TIMEOUT);
    let stdout = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    // Forward what the workload printed (without the child libtest's own lines); libtest shows it
    // when this test fails.
    print!(
        "{}",
        workload_output(&String::from_utf8_lossy(&stdout), name)
    );
    eprint!("{}", String::from_utf8_lossy(&stderr));

    let status =
        status.map_err(|e| format!("leak test `{name}`: waiting for the child failed: {e}"))?;
    let report = read_report(&report_path);
    let _ = std::fs::remove_file(&report_path);
    match (report, status) {
        (Some(Ok(report)), _) => Ok(report),
        (Some(Err(e)), status) => Err(format!(
            "leak test `{name}`: the child's report is unreadable ({e}); the child {}",
            describe_status(status)
        )),
        (None, status) => Err(format!(
            "leak test `{name}`: the re-executed test binary wrote no report: it {}.\n\
             command: {} --exact {name} --nocapture --test-threads=1 --include-ignored\n\
             last lines of its stdout:\n{}\nlast lines of its stderr:\n{}",
            describe_status(status),
            exe.display(),
            tail(&stdout, 10),
            tail(&stderr, 20)
        )),
    }
}

/// The child's stdout without libtest's lines about running the one test: the child always
/// "passes" or "fails" its copy of the test in its own way (it hands the verdict back in the report
/// file), and those lines would only confuse the parent's output.
fn workload_output(stdout: &str, name: &str) -> String {
    let mut out = String::new();
    for line in stdout.lines() {
        let trimmed = line.trim();
        let libtest = (trimmed.starts_with("running ") && trimmed.ends_with(" test"))
            || trimmed.starts_with("running 0 tests")
            || (line.starts_with("test ") && line.contains(" ... "))
            || line.starts_with("test result: ")
            || line == "successes:"
            || line == "failures:"
            || (line.starts_with("---- ") && line.ends_with(" stdout ----"))
            || trimmed == name
            || line.starts_with("note: test did not panic as expected")
            || line.starts_with("note: panic did not contain expected string")
            || line.starts_with("      panic message: ")
            || line.starts_with(" expected substring: ");
        if !libtest {
            out.push_str(line);
            out.push('\n');
        }
    }
    let trimmed = out.trim_matches('\n');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

fn read_report(path: &Path) -> Option<Result<Report, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).map_err(|e| e.to_string()))
}

fn drain<R: std::io::Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Wait for the child; kill it (and reap it: no zombie) after `timeout`.
fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::io::Result<ChildOutcome> {
    let started = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(ChildOutcome::Exited(status));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            child.wait()?;
            return Ok(ChildOutcome::TimedOut);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

#[derive(Debug, Clone, Copy)]
enum ChildOutcome {
    Exited(ExitStatus),
    TimedOut,
}

fn describe_status(outcome: ChildOutcome) -> String {
    match outcome {
        ChildOutcome::TimedOut => format!(
            "ran longer than {} s and was killed",
            CHILD_TIMEOUT.as_secs()
        ),
        ChildOutcome::Exited(status) => describe_exit(status),
    }
}

fn describe_exit(status: ExitStatus) -> String {
    match status.code() {
        Some(0) => "ended (exit status 0: did it run the test? a filter that matches nothing \
                    runs 0 tests)"
            .to_owned(),
        _ => format!("ended ({})", crate::drive::describe_status(status)),
    }
}

/// The last `lines` lines of `bytes`, indented.
fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    if all.is_empty() {
        return "  <empty>".to_owned();
    }
    all[start..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::env;

    #[test]
    fn libtest_names_drop_the_crate() {
        assert_eq!(libtest_name("mycrate::tests::f"), "tests::f");
        assert_eq!(libtest_name("mycrate::f"), "f");
        assert_eq!(libtest_name("f"), "f");
        assert_eq!(LeakTest::new("it::a::b").libtest_name(), "a::b");
    }

    #[test]
    fn mode_selection() {
        let t = Some("tests::a");
        assert_eq!(mode("tests::a", env(&[]), t), Mode::ReExec);
        assert_eq!(mode("tests::a", env(&[]), Some("main")), Mode::InProcess);
        assert_eq!(
            mode(
                "tests::a",
                env(&[("NEXTEST_EXECUTION_MODE", "process-per-test")]),
                t
            ),
            Mode::InProcess
        );
        assert_eq!(
            mode("tests::a", env(&[("NEXTEST", "1")]), t),
            Mode::InProcess
        );
        assert_eq!(
            mode(
                "tests::a",
                env(&[("NEXTEST", "1"), ("NEXTEST_EXECUTION_MODE", "threads")]),
                t
            ),
            Mode::ReExec
        );
        assert_eq!(
            mode("tests::a", env(&[("LEAKPROOF_REEXEC", "0")]), t),
            Mode::InProcess
        );
        assert_eq!(
            mode(
                "tests::a",
                env(&[("LEAKPROOF_REEXEC", "1"), ("NEXTEST", "1")]),
                t
            ),
            Mode::ReExec
        );
        assert_eq!(
            mode(
                "tests::a",
                env(&[
                    ("LEAKPROOF_CHILD_TEST", "tests::a"),
                    ("LEAKPROOF_CHILD_REPORT", "/tmp/x.json")
                ]),
                t
            ),
            Mode::Child(PathBuf::from("/tmp/x.json"))
        );
        // Inside a child for another test nothing is re-executed again.
        assert_eq!(
            mode(
                "tests::b",
                env(&[
                    ("LEAKPROOF_CHILD_TEST", "tests::a"),
                    ("LEAKPROOF_CHILD_REPORT", "/tmp/x.json")
                ]),
                Some("tests::b")
            ),
            Mode::InProcess
        );
    }

    #[test]
    fn libtest_lines_of_the_child_are_dropped() {
        let stdout = "\nrunning 1 test\nworkload says hi\ntest tests::a - should panic ... FAILED\n\
                      \nfailures:\n\n---- tests::a stdout ----\nnote: test did not panic as expected\n\
                      \nfailures:\n    tests::a\n\ntest result: FAILED. 0 passed; 1 failed\n\n";
        assert_eq!(workload_output(stdout, "tests::a"), "workload says hi\n");
        assert_eq!(workload_output("running 1 test\ntest a ... ok\n", "a"), "");
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "  b\n  c");
        assert_eq!(tail(b"", 2), "  <empty>");
    }

    #[cfg(unix)]
    #[test]
    fn signals_are_named() {
        use std::os::unix::process::ExitStatusExt as _;
        let status = ExitStatus::from_raw(6); // killed by SIGABRT
        assert_eq!(
            describe_exit(status),
            "ended (killed by signal 6 (SIGABRT))"
        );
        let status = ExitStatus::from_raw(101 << 8);
        assert_eq!(describe_exit(status), "ended (exit status 101)");
    }
}
