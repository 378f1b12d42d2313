//! leakproof-diff: where did memory grow? Allocation snapshots compared, as tracemalloc does it.
//!
//! - [`Snapshot`]: live allocations grouped by stack ([`Site`]s of [`Frame`]s), versioned JSON.
//!   [`Snapshot::from_ips`] takes raw stacks as an allocator's site capture produces them;
//!   [`Snapshot::symbolize`] resolves them with a caching [`Symbolizer`] (inlined frames included).
//! - [`compare`]: tracemalloc's `compare_to` — a [`StatDiff`] per line, function, file or traceback
//!   ([`GroupBy`]), optionally cumulative, named after the *user frame* ([`Attribution`]: the first
//!   frame outside std, the allocator, leakproof and, by default, cargo dependencies).
//! - [`Filter`]: include / exclude sites by file glob or function.
//! - [`render_table`], [`render_traceback`], [`format_bytes`]: text output.
//! - [`smaps`]: `/proc/PID/smaps` of any process, diffed by kind of mapping.
//!
//! # Example
//!
//! Two snapshots around a workload, the top growing lines. The allocator capture lives in
//! `leakproof-sample`; here the stacks are captured by hand with `backtrace::trace`.
//!
//! ```
//! use leakproof_diff::{compare, render_table, GroupBy, Snapshot, Symbolizer};
//!
//! // Stand-in for an allocator's site capture: the stack of each live allocation.
//! fn capture(live: &mut Vec<(Vec<u64>, u64, u64)>, bytes: u64) {
//!     let mut ips = Vec::new();
//!     backtrace::trace(|frame| {
//!         ips.push(frame.ip() as usize as u64);
//!         true
//!     });
//!     live.push((ips, bytes, 1));
//! }
//!
//! fn workload(cache: &mut Vec<String>, live: &mut Vec<(Vec<u64>, u64, u64)>) {
//!     let s = "x".repeat(1000);
//!     capture(live, s.capacity() as u64);
//!     cache.push(s); // grows forever
//! }
//!
//! let (mut cache, mut live) = (Vec::new(), Vec::new());
//! let mut symbolizer = Symbolizer::new();
//! let mut old = Snapshot::from_ips(live.clone());
//! old.symbolize(&mut symbolizer);
//! for _ in 0..100 {
//!     workload(&mut cache, &mut live);
//! }
//! let mut new = Snapshot::from_ips(live.clone());
//! new.symbolize(&mut symbolizer);
//!
//! let diffs = compare(&old, &new, GroupBy::Line, false);
//! print!("{}", render_table(&diffs, 10));
//! assert_eq!(diffs.iter().map(|d| d.size_diff).sum::<i64>(), 100_000);
//! ```

mod attribution;
mod compare;
mod error;
mod filter;
mod model;
mod render;
pub mod smaps;
mod symbolize;

pub use attribution::{display_path, user_frame, Attribution};
pub use compare::{compare, compare_with, growing, sort_diffs, top, GroupBy, StatDiff};
pub use error::DiffError;
pub use filter::{Filter, FilterTarget};
pub use model::{Frame, Site, Snapshot, FORMAT_VERSION};
pub use render::{
    format_bytes, format_bytes_signed, format_count_signed, label, render_line, render_table,
    render_traceback,
};
pub use symbolize::Symbolizer;
