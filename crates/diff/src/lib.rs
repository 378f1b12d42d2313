//! leakproof-diff: where did memory grow? Allocation snapshots compared, as tracemalloc does it.
//!
//! - [`Snapshot`]: live allocations grouped by stack ([`Site`]s of [`Frame`]s), versioned JSON.
//!   [`Snapshot::from_ips`] takes raw stacks as an allocator's site capture produces them;
//!   [`Snapshot::symbolize`] resolves them with a caching [`Symbolizer`] (inlined frames included).
//! - [`compare`]: tracemalloc's `compare_to` — a [`StatDiff`] per line, function, file or traceback
//!   ([`GroupBy`]), optionally cumulative, named after the *user frame* ([`Attribution`]: the first
//!   frame outside std, the allocator, leakproof and, by default, cargo dependencies).
//! - [`Filter`]: include / exclude sites by file glob or function.
//! - [`render_table`], [`render_traceback`], [`format_size`]: text output.
//! - [`Holder`]: what keeps a growing site's objects alive (found by a runtime's agent).
//! - [`ForeignSymbolizer`]: the same for another process, from its `/proc/PID/maps` text.
//! - [`smaps`]: `/proc/PID/smaps` of any process, diffed by kind of mapping.
//!
//! # Example
//!
//! Two snapshots around a workload, the top growing lines. The allocator capture lives in
//! `leakproof-sample`; here the stacks are captured by hand with `backtrace::trace`.
//!
//! ```
//! use leakproof_diff::{compare_with, render_table, Attribution, GroupBy, Snapshot, Symbolizer};
//!
//! /// Stand-in for an allocator's site capture: the stack of each live allocation.
//! #[inline(never)]
//! fn capture(live: &mut Vec<(Vec<u64>, u64, u64)>, bytes: usize) {
//!     let mut ips = Vec::new();
//!     backtrace::trace(|frame| {
//!         ips.push(frame.ip() as usize as u64);
//!         true
//!     });
//!     live.push((ips, bytes as u64, 1));
//! }
//!
//! #[inline(never)]
//! fn workload(cache: &mut Vec<String>, live: &mut Vec<(Vec<u64>, u64, u64)>) {
//!     let entry = "x".repeat(1000);
//!     capture(live, entry.capacity());
//!     cache.push(entry); // grows forever
//! }
//!
//! let (mut cache, mut live) = (Vec::new(), Vec::new());
//! let mut symbolizer = Symbolizer::new();
//! workload(&mut cache, &mut live);
//! let mut old = Snapshot::from_ips(live.clone());
//! old.symbolize(&mut symbolizer);
//! for _ in 0..100 {
//!     workload(&mut cache, &mut live);
//! }
//! let mut new = Snapshot::from_ips(live.clone());
//! new.symbolize(&mut symbolizer);
//!
//! // `capture` plays the allocator here: like the allocator, it is not user code.
//! // (`*capture` rather than `*::capture`: in release builds inlined frames have bare names.)
//! let attribution = Attribution::default().skip_function("*capture");
//! let diffs = compare_with(&old, &new, GroupBy::Line, false, &attribution);
//! println!("{}", render_table(&diffs, 10));
//! // With line tables: `src/lib.rs:21: size=98.6 KiB (+97.7 KiB), count=101 (+100), average=1000 B`
//! // (without, as in doctests, the key falls back to the function name).
//! let top = &diffs[0];
//! assert_eq!((top.size_diff, top.count_diff), (100_000, 100));
//! let user = &top.traceback[top.user_frame.expect("a user frame")];
//! assert!(user.function.as_deref().unwrap_or("").ends_with("workload"));
//! ```

mod attribution;
mod compare;
mod error;
mod filter;
mod foreign;
mod holder;
mod model;
mod render;
pub mod smaps;
mod symbolize;
mod symtab;

pub use attribution::{display_path, user_frame, Attribution};
pub use compare::{compare, compare_with, growing, sort_diffs, top, GroupBy, StatDiff};
pub use error::DiffError;
pub use filter::{Filter, FilterTarget};
pub use foreign::ForeignSymbolizer;
pub use holder::Holder;
pub use model::{Frame, Site, Snapshot, FORMAT_VERSION};
pub use render::{
    format_bytes, format_bytes_signed, format_count_signed, format_size, label, render_line,
    render_table, render_traceback,
};
pub use symbolize::Symbolizer;
