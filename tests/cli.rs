//! End-to-end tests of the `leakproof` binary: every exit code, drive against the example servers,
//! watch ceilings, no process left behind, the JSON shape.

use std::process::{Command, Output};

fn leakproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args(args)
        .output()
        .expect("run leakproof")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_input_is_exit_2_with_one_line() {
    let out = leakproof(&["analyze", "/nonexistent/series.txt"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/series.txt"), "{err}");
}
