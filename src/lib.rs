//! leakproof: prove that code does not leak memory, file descriptors or threads, and find the line
//! that does.
//!
//! Install the counting allocator, then write leak tests: each repeats its body (300 times by
//! default), samples live heap bytes, open file descriptors and live threads after every
//! iteration, and passes only when every series is proven Stable. A failing test prints the
//! verdict, bytes per iteration with a confidence interval, a text chart, and the growing
//! allocation sites with the line of your code first.
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();
//!
//! fn parse(input: &str) -> Vec<u32> {
//!     input.split(',').filter_map(|s| s.trim().parse().ok()).collect()
//! }
//!
//! #[leakproof::leak_test]                      // it is the #[test]; do not add #[test] too
//! fn parse_does_not_leak() {
//!     std::hint::black_box(parse("1, 2, 3"));
//! }
//!
//! #[leakproof::leak_test(iterations = 500, warmup = 50)]
//! fn cache_stays_bounded() {
//!     thread_local! { static CACHE: std::cell::RefCell<Vec<u32>> = Default::default(); }
//!     CACHE.with(|c| {
//!         let mut c = c.borrow_mut();
//!         c.push(1);
//!         c.truncate(100);
//!     });
//! }
//! # fn main() {}
//! ```
//!
//! A module of existing tests adopts leak testing in one line: [`leak_tests`] on `mod tests { ... }`
//! makes every `#[test]` inside a leak test ([`skip`] keeps one plain). `LEAKPROOF=once` in the
//! environment runs every leak test's body once, as a plain test, for a fast local loop.
//!
//! The same engine is available directly as [`Harness`], which returns a serde [`Report`]:
//!
//! ```
//! let report = leakproof::Harness::new()
//!     .name("reused_buffer")
//!     .iterations(100)
//!     .run(|| {
//!         let buffer = vec![0u8; 256];
//!         std::hint::black_box(buffer);
//!     })?;
//! println!("{}", report.render_text());
//! # Ok::<(), leakproof::HarnessError>(())
//! ```
//!
//! Member crates, usable alone: [`trend`] (is a series growing?), [`sample`] (allocator and
//! probes), [`diff`] (allocation snapshots compared), [`report`] (the report and its renderings),
//! [`agents`] (the heap of a runtime in another process), [`harness`] (the run engine). See
//! `docs/guide.md` for leak tests in a suite, reading reports, tuning and CI.

#[doc(inline)]
pub use leakproof_agents as agents;
#[doc(inline)]
pub use leakproof_diff as diff;
#[doc(inline)]
pub use leakproof_harness as harness;
#[doc(inline)]
pub use leakproof_report as report;
#[doc(inline)]
pub use leakproof_sample as sample;
#[doc(inline)]
pub use leakproof_trend as trend;

#[doc(inline)]
pub use leakproof_harness::{Harness, HarnessError, MemoryProbe};
#[doc(inline)]
pub use leakproof_macros::{leak_test, leak_tests, skip};
#[doc(inline)]
pub use leakproof_report::{Report, Resource, ResourceReport};
#[doc(inline)]
pub use leakproof_sample::TrackingAlloc;
#[doc(inline)]
pub use leakproof_trend::Verdict;

/// What `#[leak_test]` expands to. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use leakproof_harness::testing::*;
}
