//! The re-executed test process: this test binary run again for one leak test alone, its
//! report read back, its output and how it ended said in one message.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{CHILD_REPORT_VAR, CHILD_TEST_VAR, CHILD_TIMEOUT};
use leakproof_agents::NativeAgent;
use leakproof_report::Report;

static CHILDREN: AtomicUsize = AtomicUsize::new(0);

/// Re-execute this test binary for test `name` alone and read back its report.
pub(super) fn reexec(name: &str) -> Result<Report, String> {
    reexec_with(name, NativeAgent::prepare().ok())
}

/// [`reexec`] with the preload agent `agent` (if any), which traces where the child's leaked
/// descriptors and threads were opened (`samplers/own_opens.rs`); its directory is removed when
/// it drops, after the child ended.
pub(super) fn reexec_with(name: &str, agent: Option<NativeAgent>) -> Result<Report, String> {
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
    let mut cmd = Command::new(&exe);
    cmd.args([
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
    .stderr(Stdio::piped());
    if let Some(agent) = &agent {
        agent.apply_env_for_self(&mut cmd);
    }
    let mut child = cmd.spawn().map_err(|e| {
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
        _ => format!("ended ({})", crate::target::describe_status(status)),
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
