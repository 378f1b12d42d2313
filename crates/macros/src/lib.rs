//! leakproof-macros: the `#[leak_test]` attribute.
