//! Where a leak test runs (re-executed alone, in-process, or as the re-executed child) and how
//! its report is judged.

use std::path::PathBuf;

use super::reexec::reexec;
use super::{LeakTest, CHILD_REPORT_VAR, CHILD_TEST_VAR, REEXEC_VAR, RETURNED};
use crate::in_process::Harness;
use leakproof_report::{Isolation, Report};

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
pub(super) fn leak_test_result(
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
            let mut report = run(&harness).map_err(|e| format!("leak test `{name}`: {e}"))?;
            if harness.isolation == Isolation::Nextest {
                report = super::open_sites::with_open_sites(name, report);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::env;
    use crate::testing::{fail_on_err, LeakTestOutput};

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
}
