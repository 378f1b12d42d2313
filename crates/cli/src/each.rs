//! A shell command as a driver: what `leakproof drive --each 'CMD'` runs once per iteration.

use std::process::{Command, Stdio};

use leakproof_harness::{describe_status, last_line};

/// Runs `line` with `sh -c` once, with `LEAKPROOF_ITERATION` set to `iteration`, its output
/// discarded; fails with its exit status and last stderr line.
pub(crate) fn shell_step(line: &str, iteration: usize) -> Result<(), String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .env("LEAKPROOF_ITERATION", iteration.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run the --each command: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "`{line}` failed ({}){}",
        describe_status(out.status),
        last_line(&stderr)
            .map(|l| format!(": {l}"))
            .unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_step_says_its_status_and_last_stderr_line() {
        assert_eq!(shell_step("test \"$LEAKPROOF_ITERATION\" = 7", 7), Ok(()));
        let err = shell_step("echo first >&2; echo nope >&2; exit 3", 1).unwrap_err();
        assert_eq!(
            err,
            "`echo first >&2; echo nope >&2; exit 3` failed (exit status 3): nope"
        );
    }
}
