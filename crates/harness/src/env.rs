//! Environment overrides for CI: `LEAKPROOF_ITERATIONS`, `LEAKPROOF_WARMUP`, `LEAKPROOF_REPORT_DIR`.

use std::path::PathBuf;

/// Iterations of every leak test (overrides the attribute and builder values).
pub const ITERATIONS_VAR: &str = "LEAKPROOF_ITERATIONS";
/// Warm-up iterations of every leak test.
pub const WARMUP_VAR: &str = "LEAKPROOF_WARMUP";
/// Directory for `<test>.json` and `<test>.svg` of every leak test.
pub const REPORT_DIR_VAR: &str = "LEAKPROOF_REPORT_DIR";

/// An environment override whose value is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var}={value:?} is not a valid {expected}")]
pub struct EnvError {
    /// The variable, e.g. `LEAKPROOF_ITERATIONS`.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What was expected, e.g. `number of iterations`.
    pub expected: &'static str,
}

/// The overrides set in an environment (looked up with `get`), parsed but not yet applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    /// `LEAKPROOF_ITERATIONS`, at least 2.
    pub iterations: Option<usize>,
    /// `LEAKPROOF_WARMUP` (checked against the iterations where it is applied).
    pub warmup: Option<(usize, String)>,
    /// `LEAKPROOF_REPORT_DIR`, when not blank.
    pub report_dir: Option<PathBuf>,
}

impl Overrides {
    /// Reads and parses the overrides found by `get`.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Overrides, EnvError> {
        const ITERATIONS: &str = "number of iterations (an integer >= 2)";
        let iterations = match get(ITERATIONS_VAR) {
            Some(value) => match parse_count(ITERATIONS_VAR, &value, ITERATIONS)? {
                n if n < 2 => return Err(bad(ITERATIONS_VAR, &value, ITERATIONS)),
                n => Some(n),
            },
            None => None,
        };
        let warmup = match get(WARMUP_VAR) {
            Some(value) => Some((
                parse_count(WARMUP_VAR, &value, "number of warm-up iterations")?,
                value,
            )),
            None => None,
        };
        let report_dir = get(REPORT_DIR_VAR)
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from);
        Ok(Overrides {
            iterations,
            warmup,
            report_dir,
        })
    }
}

/// The error for `var`'s `value`.
pub(crate) fn bad(var: &'static str, value: &str, expected: &'static str) -> EnvError {
    EnvError {
        var,
        value: value.to_owned(),
        expected,
    }
}

fn parse_count(var: &'static str, value: &str, expected: &'static str) -> Result<usize, EnvError> {
    value.trim().parse().map_err(|_| bad(var, value, expected))
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
    fn overrides_are_parsed() {
        let o = Overrides::read(env(&[
            ("LEAKPROOF_ITERATIONS", "500"),
            ("LEAKPROOF_WARMUP", " 20 "),
            ("LEAKPROOF_REPORT_DIR", "/tmp/r"),
        ]))
        .unwrap();
        assert_eq!(o.iterations, Some(500));
        assert_eq!(o.warmup, Some((20, " 20 ".to_owned())));
        assert_eq!(
            o.report_dir.as_deref(),
            Some(std::path::Path::new("/tmp/r"))
        );
        assert_eq!(Overrides::read(env(&[])).unwrap(), Overrides::default());
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        for (var, value) in [
            ("LEAKPROOF_ITERATIONS", "lots"),
            ("LEAKPROOF_ITERATIONS", "1"),
            ("LEAKPROOF_WARMUP", "-3"),
        ] {
            let err = Overrides::read(env(&[(var, value)])).unwrap_err();
            assert_eq!((err.var, err.value.as_str()), (var, value));
        }
    }
}
