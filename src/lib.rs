//! leakproof: prove that code does not leak memory, and find the line that does.
//!
//! This facade re-exports the member crates; see the README and `docs/guide.md`.

#[doc(inline)]
pub use leakproof_trend as trend;
