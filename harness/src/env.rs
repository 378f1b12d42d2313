//! Environment overrides for CI: `LEAKPROOF_ITERATIONS`, `LEAKPROOF_WARMUP`, `LEAKPROOF_REPORT_DIR`.

use crate::runner::{Harness, HarnessError};

/// Iterations of every leak test (overrides the attribute and builder values).
pub const ITERATIONS_VAR: &str = "LEAKPROOF_ITERATIONS";
/// Warm-up iterations of every leak test.
pub const WARMUP_VAR: &str = "LEAKPROOF_WARMUP";
/// Directory for `<test>.json` and `<test>.svg` of every leak test.
pub const REPORT_DIR_VAR: &str = "LEAKPROOF_REPORT_DIR";

/// Apply the overrides found by `get` (a lookup of environment variables) to `harness`.
pub(crate) fn apply(
    mut harness: Harness,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Harness, HarnessError> {
    if let Some(value) = get(ITERATIONS_VAR) {
        let n = parse_count(
            ITERATIONS_VAR,
            &value,
            "number of iterations (an integer >= 2)",
        )?;
        if n < 2 {
            return Err(HarnessError::BadEnv {
                var: ITERATIONS_VAR,
                value,
                expected: "number of iterations (an integer >= 2)",
            });
        }
        harness.iterations = n;
        if let Some(max) = harness.max_iterations {
            harness.max_iterations = Some(max.max(n));
        }
        if harness.warmup.is_some_and(|w| w >= n) {
            harness.warmup = None;
        }
    }
    if let Some(value) = get(WARMUP_VAR) {
        let w = parse_count(WARMUP_VAR, &value, "number of warm-up iterations")?;
        if w >= harness.iterations {
            return Err(HarnessError::BadEnv {
                var: WARMUP_VAR,
                value,
                expected: "number of warm-up iterations smaller than the iterations",
            });
        }
        harness.warmup = Some(w);
    }
    if let Some(dir) = get(REPORT_DIR_VAR) {
        if !dir.trim().is_empty() {
            harness.report_dir = Some(dir.into());
        }
    }
    Ok(harness)
}

fn parse_count(
    var: &'static str,
    value: &str,
    expected: &'static str,
) -> Result<usize, HarnessError> {
    value.trim().parse().map_err(|_| HarnessError::BadEnv {
        var,
        value: value.to_owned(),
        expected,
    })
}

/// A stand-in for `std::env::var` in tests: looks `var` up in `pairs`.
#[cfg(test)]
pub(crate) fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |var| {
        pairs
            .iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply() {
        let h = apply(
            Harness::new().iterations(100).max_iterations(200),
            env(&[
                ("LEAKPROOF_ITERATIONS", "500"),
                ("LEAKPROOF_WARMUP", " 20 "),
                ("LEAKPROOF_REPORT_DIR", "/tmp/r"),
            ]),
        )
        .unwrap();
        assert_eq!(h.iterations, 500);
        assert_eq!(h.max_iterations, Some(500));
        assert_eq!(h.warmup, Some(20));
        assert_eq!(
            h.report_dir.as_deref(),
            Some(std::path::Path::new("/tmp/r"))
        );
    }

    #[test]
    fn nothing_set_changes_nothing() {
        let h = apply(Harness::new().iterations(42), env(&[])).unwrap();
        assert_eq!(h.iterations, 42);
        assert_eq!(h.warmup, None);
        assert_eq!(h.report_dir, None);
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        for (var, value) in [
            ("LEAKPROOF_ITERATIONS", "lots"),
            ("LEAKPROOF_ITERATIONS", "1"),
            ("LEAKPROOF_WARMUP", "-3"),
            ("LEAKPROOF_WARMUP", "400"),
        ] {
            let err = apply(Harness::new(), env(&[(var, value)])).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(var), "{message}");
            assert!(message.contains(value), "{message}");
        }
    }
}
