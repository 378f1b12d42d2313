//! [`LeakTest`]: one leak test's name and settings, as `#[leak_test]` builds it.

use crate::in_process::Harness;

/// One leak test: its name and settings. Built by `#[leak_test]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeakTest {
    name: &'static str,
    iterations: Option<usize>,
    warmup: Option<usize>,
    max_iterations: Option<usize>,
    resources: bool,
    pub(super) should_panic: Option<&'static str>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_names_drop_the_crate() {
        assert_eq!(libtest_name("mycrate::tests::f"), "tests::f");
        assert_eq!(libtest_name("mycrate::f"), "f");
        assert_eq!(libtest_name("f"), "f");
        assert_eq!(LeakTest::new("it::a::b").libtest_name(), "a::b");
    }
}
