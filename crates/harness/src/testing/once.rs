//! `LEAKPROOF=once`: every leak test's body runs once, as a plain test.

use super::{fail_on_err, LeakTest, SWITCH_VAR};

/// Whether `LEAKPROOF=once` is set; panics (failing the test) on a value it does not know.
pub(super) fn once(test: &LeakTest) -> bool {
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
pub(super) fn finish_once(test: &LeakTest, outcome: Result<(), String>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
