//! What the property tests of leakproof-trend share.

use proptest::prelude::ProptestConfig;

/// `default` cases per property; `PROPTEST_CASES` overrides it (e.g. 2000 for a long run).
pub fn cases(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
        ..ProptestConfig::default()
    }
}
