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
//! The body may return `()` or `Result<(), E: Debug>` ([`LeakTestOutput`]): an `Err` fails the
//! iteration like a panic. A body that passes at least once and then fails is reported as not
//! repeatable, in one line. `LEAKPROOF=once` ([`SWITCH_VAR`]) runs every body exactly once as a plain
//! test, for a fast local loop, and says so on the real stderr once per test binary.
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

use crate::in_process::Harness;
use leakproof_report::{Isolation, Report};

/// Environment variable naming the one test a re-executed child must run in-process.
pub const CHILD_TEST_VAR: &str = "LEAKPROOF_CHILD_TEST";
/// Environment variable with the path where the child writes its report.
pub const CHILD_REPORT_VAR: &str = "LEAKPROOF_CHILD_REPORT";
/// Set to `0` to run leak tests in-process instead of re-executing the test binary (inexact under
/// parallel tests: other tests' allocations count), to `1` to re-execute even under nextest.
pub const REEXEC_VAR: &str = "LEAKPROOF_REEXEC";
/// Set to `once` to run every leak test's body exactly once, as a plain test: no repetition, no
/// sampling, no verdict. For a fast local `cargo test` loop; CI leaves it unset for the full check.
/// Any other value except `full` (and the empty string) fails every leak test.
pub const SWITCH_VAR: &str = "LEAKPROOF";
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
    should_panic: Option<&'static str>,
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
            should_panic: None,
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

    /// The test carries `#[should_panic(expected = "...")]` (`""` without `expected`): under
    /// `LEAKPROOF=once`, where no verdict is reached, it then panics with a message holding
    /// `expected`, so that a test pinning a known leak still passes.
    pub fn should_panic(mut self, expected: &'static str) -> LeakTest {
        self.should_panic = Some(expected);
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
/// rendered report (or with the workload's own panic message when it panicked). Under
/// `LEAKPROOF=once` the body runs once, in-process, as a plain test.
pub fn run_leak_test<F: FnMut()>(test: LeakTest, f: F) {
    run_fallible_leak_test::<_, ()>(test, f);
}

/// [`run_leak_test`] for a body that returns `R`: `()` or `Result<(), E: Debug>`, where an `Err`
/// fails the iteration (and the test) with its `Debug`. `#[leak_test]` calls it for a function
/// with a return type, and names `R`.
pub fn run_fallible_leak_test<F, R>(test: LeakTest, mut f: F)
where
    F: FnMut() -> R,
    R: LeakTestOutput,
{
    if once(&test) {
        return finish_once(&test, f().into_result());
    }
    let body = move || fail_on_err(f().into_result());
    if let Err(message) = leak_test_result(&test, |h| h.run(body)) {
        panic!("{message}");
    }
}

/// The async form of [`run_leak_test`]: each iteration awaits one future on a current-thread tokio
/// runtime built before the measured loop. Needs the `tokio` feature; without it, using this is a
/// compile error that says so.
pub fn run_async_leak_test<F, Fut>(test: LeakTest, f: F)
where
    F: FnMut() -> Fut,
    Fut: AsyncLeakTestSupport<()>,
{
    run_fallible_async_leak_test::<_, _, ()>(test, f);
}

/// [`run_async_leak_test`] for futures whose output is `R`, as [`run_fallible_leak_test`].
pub fn run_fallible_async_leak_test<F, Fut, R>(test: LeakTest, f: F)
where
    F: FnMut() -> Fut,
    Fut: AsyncLeakTestSupport<R>,
    R: LeakTestOutput,
{
    if once(&test) {
        return finish_once(&test, Fut::once(f));
    }
    if let Err(message) = leak_test_result(&test, |h| Fut::run(h, f)) {
        panic!("{message}");
    }
}

/// What a leak test's body may return: `()`, or `Result<(), E>` where an `Err` fails the iteration
/// (and so the test) with the error's `Debug`, as libtest does for a `#[test]` returning `Result`.
#[diagnostic::on_unimplemented(
    message = "a leak test must return `()` or `Result<(), E>` with `E: Debug`, not `{Self}`",
    label = "the body of this leak test returns `{Self}`"
)]
pub trait LeakTestOutput {
    /// `Err` with the message the iteration fails with.
    #[doc(hidden)]
    fn into_result(self) -> Result<(), String>;
}

impl LeakTestOutput for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: std::fmt::Debug> LeakTestOutput for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| format!("{RETURNED}Err({e:?})"))
    }
}

/// How a failure by `Err` starts, so that [`workload_failure`] can say "returned" for it.
const RETURNED: &str = "returned ";

/// Inside the measured loop: an `Err` becomes a panic, which the harness records as the failure.
fn fail_on_err(result: Result<(), String>) {
    if let Err(message) = result {
        panic!("{message}");
    }
}

/// Whether `LEAKPROOF=once` is set; panics (failing the test) on a value it does not know.
fn once(test: &LeakTest) -> bool {
    match once_mode() {
        Ok(once) => once,
        Err(message) => panic!("leak test `{}`: {message}", test.libtest_name()),
    }
}

/// Whether `LEAKPROOF=once` ([`SWITCH_VAR`]) is set; `Err` says in one line that its value is not
/// understood. For other front ends (the Python package) that honour the same switch.
pub fn once_mode() -> Result<bool, String> {
    switch(std::env::var(SWITCH_VAR).ok().as_deref())
}

fn switch(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("" | "full") => Ok(false),
        Some("once") => Ok(true),
        Some(other) => Err(format!(
            "environment variable {SWITCH_VAR}={other:?} is not understood: use `once` (run each \
             leak test body once, no leak check) or leave it unset (the full check)"
        )),
    }
}

/// The line that says leak checking is off, written once per process.
pub const ONCE_NOTICE: &str = "leakproof: LEAKPROOF=once: leak tests run their body once as plain \
                               tests; leak checking is OFF in this run (unset LEAKPROOF for the full check)";

/// End a test run under `LEAKPROOF=once`: announce the switch, fail on `Err`, and make a
/// `#[should_panic]` leak test (whose failure is the verdict that was not reached) pass.
fn finish_once(test: &LeakTest, outcome: Result<(), String>) {
    announce_once();
    fail_on_err(outcome);
    if let Some(expected) = test.should_panic {
        panic!(
            "{expected} (LEAKPROOF=once: the leak check this #[should_panic] test expects to fail \
             was skipped; the body ran once)"
        );
    }
}

/// Writes [`ONCE_NOTICE`] to the real stderr, once per process: `std::io::stderr()` is not the
/// `eprintln!` path that libtest captures, so the line shows even when every test passes.
fn announce_once() {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    ANNOUNCED.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{ONCE_NOTICE}");
    });
}

/// Futures an async leak test can run: every `Future<Output = ()>` when the `tokio` feature is on,
/// none without it.
#[diagnostic::on_unimplemented(
    message = "async leak tests need the `tokio` feature of leakproof",
    label = "async leak test used without the `tokio` feature",
    note = "enable it: leakproof = {{ version = \"0.1\", features = [\"tokio\"] }}"
)]
pub trait AsyncLeakTestSupport<R>: sealed::Sealed<R> + Sized {
    /// Run the workload on a runtime in the harness.
    #[doc(hidden)]
    fn run<F: FnMut() -> Self>(harness: &Harness, f: F) -> Result<Report, crate::HarnessError>;
    /// Await one future on a fresh runtime (`LEAKPROOF=once`).
    #[doc(hidden)]
    fn once<F: FnMut() -> Self>(f: F) -> Result<(), String>;
}

mod sealed {
    pub trait Sealed<R> {}
    #[cfg(feature = "tokio")]
    impl<R: super::LeakTestOutput, T: std::future::Future<Output = R>> Sealed<R> for T {}
}

#[cfg(feature = "tokio")]
impl<R: LeakTestOutput, T: std::future::Future<Output = R>> AsyncLeakTestSupport<R> for T {
    fn run<F: FnMut() -> Self>(harness: &Harness, mut f: F) -> Result<Report, crate::HarnessError> {
        harness.run_async(|| {
            let future = f();
            async move { fail_on_err(future.await.into_result()) }
        })
    }

    fn once<F: FnMut() -> Self>(mut f: F) -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("could not build a tokio runtime: {e}"))?;
        runtime.block_on(f()).into_result()
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
            crate::artifacts::write_atomic(&path, json.as_bytes()).map_err(|e| {
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

/// Pass a Stable report; fail anything else with the rendered report. A workload that failed is
/// called out as such, unless a leak proven before the failure leads the report.
fn judge(report: &Report) -> Result<(), String> {
    if report.failure.is_some() && report.leak_before_failure.is_none() {
        // What the samples before the failure showed: a leak that exhausted a limit is named.
        let mut message = workload_failure(report);
        let before = report.render_before_failure();
        if !before.is_empty() {
            message.push('\n');
            message.push_str(before.trim_end());
        }
        return Err(message);
    }
    if report.passed() {
        Ok(())
    } else {
        Err(report.render_text())
    }
}

/// The one-line failure of a workload that panicked or returned `Err`. A body that passed before
/// it failed is called out as not repeatable: that is almost always a test written to run once
/// (a fixed port, a file it expects absent, global state it asserts on), not a bug under test.
/// Iterations count every run of the body, warm-up included: iteration 2 is its second run.
fn workload_failure(report: &Report) -> String {
    workload_failure_excluding(
        report,
        "a plain #[test], or #[leakproof::skip] in a #[leak_tests] module",
    )
}

/// The one-line failure of a report whose workload failed (see [`Report::failure`]), saying how a
/// test that passes and then fails when repeated is excluded from leak testing (`exclusion`), for
/// other front ends (the Python package) that run a test's body through the [`Harness`].
pub fn workload_failure_excluding(report: &Report, exclusion: &str) -> String {
    let name = &report.name;
    let failure = report.failure.as_deref().unwrap_or_default();
    let failed_at = report.iterations + 1;
    let prefix = format!("panicked in iteration {failed_at}: ");
    let Some(message) = failure.strip_prefix(&prefix) else {
        return format!("leak test `{name}`: the workload {failure}");
    };
    if report.iterations >= 1 {
        let times = match report.iterations {
            1 => "once".to_owned(),
            n => format!("{n} times"),
        };
        return format!(
            "leak test `{name}`: passes {times} but fails when repeated (iteration {failed_at}): \
             {message}; leak tests repeat the body: make it repeatable or exclude it ({exclusion})"
        );
    }
    match message.strip_prefix(RETURNED) {
        Some(err) => format!("leak test `{name}`: the workload returned {err} in iteration 1"),
        None => format!("leak test `{name}`: the workload {failure}"),
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
        crate::in_process::artifact_stem(name)
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

    /// The report of a real in-process run of `f`, as a parent would judge it.
    fn judged<R: LeakTestOutput>(mut f: impl FnMut() -> R) -> Result<(), String> {
        let harness = Harness::new()
            .name("tests::f")
            .iterations(10)
            .max_iterations(10)
            .track_resources(false);
        judge(
            &harness
                .run(|| fail_on_err(f().into_result()))
                .expect("runs"),
        )
    }

    #[test]
    fn a_body_that_fails_on_its_second_run_is_called_not_repeatable() {
        let mut runs = 0;
        let message = judged(|| {
            runs += 1;
            assert!(runs < 2, "address already in use");
        })
        .unwrap_err();
        assert!(
            message.starts_with(
                "leak test `tests::f`: passes once but fails when repeated (iteration 2): \
                 address already in use; leak tests repeat the body: make it repeatable or exclude it"
            ),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
        let mut runs = 0;
        let message = judged(|| {
            runs += 1;
            assert!(runs < 5, "full");
        })
        .unwrap_err();
        assert!(message.contains("passes 4 times but fails when repeated (iteration 5): full"));
    }

    #[test]
    fn a_body_that_fails_at_once_keeps_its_own_message() {
        let message = judged::<()>(|| panic!("boom")).unwrap_err();
        assert_eq!(
            message,
            "leak test `tests::f`: the workload panicked in iteration 1: boom"
        );
    }

    #[test]
    fn an_err_fails_with_its_debug() {
        let message = judged(|| Err::<(), _>(std::io::ErrorKind::NotFound)).unwrap_err();
        assert_eq!(
            message,
            "leak test `tests::f`: the workload returned Err(NotFound) in iteration 1"
        );
        let mut runs = 0;
        let message = judged(|| {
            runs += 1;
            if runs == 2 {
                return Err("taken");
            }
            Ok(())
        })
        .unwrap_err();
        assert!(
            message.contains("(iteration 2): returned Err(\"taken\"); leak tests repeat"),
            "{message}"
        );
    }

    #[test]
    fn the_switch_knows_once_full_and_unset() {
        assert_eq!(switch(None), Ok(false));
        assert_eq!(switch(Some("")), Ok(false));
        assert_eq!(switch(Some("full")), Ok(false));
        assert_eq!(switch(Some("once")), Ok(true));
        let error = switch(Some("1")).unwrap_err();
        assert!(
            error.contains("LEAKPROOF=\"1\" is not understood"),
            "{error}"
        );
    }

    #[test]
    fn once_fails_on_err_and_makes_should_panic_tests_pass() {
        let plain = LeakTest::new("it::f");
        finish_once(&plain, Ok(()));
        let err = std::panic::catch_unwind(|| finish_once(&plain, Err("returned Err(1)".into())))
            .unwrap_err();
        assert_eq!(
            crate::in_process::panic_message(err.as_ref()),
            "returned Err(1)"
        );
        let leaky = LeakTest::new("it::f").should_panic(": LEAKING");
        let err = std::panic::catch_unwind(|| finish_once(&leaky, Ok(()))).unwrap_err();
        let message = crate::in_process::panic_message(err.as_ref());
        assert!(
            message.starts_with(": LEAKING (LEAKPROOF=once"),
            "{message}"
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
