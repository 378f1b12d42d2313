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
//!
//! The module by job: `builder.rs` ([`LeakTest`]), `once.rs` (`LEAKPROOF=once`), `runner.rs`
//! (where a test runs: re-executed, in-process or as the child; and how its report is judged),
//! `reexec.rs` (the re-executed child process, with the preload agent when its library is found),
//! `open_sites.rs` (under nextest, one re-execution for where leaked descriptors were opened).

mod builder;
mod once;
mod open_sites;
mod reexec;
mod runner;

use std::time::Duration;

use crate::in_process::Harness;
use leakproof_report::Report;

pub use builder::{libtest_name, LeakTest};
pub use once::{once_mode, ONCE_NOTICE};
pub use runner::workload_failure_excluding;

use once::{finish_once, once};
use runner::leak_test_result;

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
pub(super) const RETURNED: &str = "returned ";

/// Inside the measured loop: an `Err` becomes a panic, which the harness records as the failure.
pub(super) fn fail_on_err(result: Result<(), String>) {
    if let Err(message) = result {
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
