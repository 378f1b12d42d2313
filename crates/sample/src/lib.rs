//! leakproof-sample: how much memory (and how many fds, threads) is in use now.
//!
//! - [`TrackingAlloc`]: a [`GlobalAlloc`](core::alloc::GlobalAlloc) wrapper that keeps exact heap
//!   counters ([`heap_stats`]) at close to no cost (per-thread counter slots, no atomic
//!   read-modify-write on the hot path), and, switched on at run time, records the call stack of every
//!   allocation ([`capture`]).
//! - [`Probe`]s sampled between iterations: [`HeapProbe`], [`RssProbe`] (this process or any PID),
//!   [`FdProbe`], [`ThreadProbe`]; [`TreeProbe`] (a PID and all its descendants: RSS, fds,
//!   threads, processes); [`list_fds`] with [`FdKind`]s, [`thread_names`], [`descendants`],
//!   [`process_group_members`], [`memory_detail`] (PSS/USS), [`cgroup_memory_current`].
//! - [`native`] (Linux): the exact heap of another process running leakproof's `LD_PRELOAD`
//!   agent, and its allocation sites on request.
//!
//! It depends on no other leakproof crate and is usable alone.
//!
//! # Guarantees
//!
//! - Counts are exact whenever no other thread is in the middle of an allocation (see
//!   [`TrackingAlloc`] for the per-thread slot design and [`HeapStats::peak_live_bytes`] for how
//!   close the peak is).
//! - Nothing on the allocation path allocates through the global allocator; its thread-locals are
//!   `const`-initialized without destructors. It works before `main`, in thread-local destructors,
//!   in a forked child and with any `Layout`.
//! - Site capture ([`capture`]) adds nothing to the counting fast path while off (one byte on the
//!   thread's own counter slot sends calls to it); on x86_64 Linux it
//!   unwinds with a cached CFI unwinder (a table probe and two loads per frame), elsewhere with the
//!   platform unwinder.
//!
//! # Platforms
//!
//! Counting and capture work everywhere. The process probes have two [`Backend`]s. On Linux and
//! Android the default reads `/proc` through kept-open files (`pread`, `getdents64`): about a
//! microsecond per RSS sample. Elsewhere (macOS, Windows, the BSDs) it is the `sysinfo` crate:
//! RSS, process trees and open files (handles on Windows), but threads only on Linux, so
//! [`ThreadProbe`] there is [`ProbeError::Unsupported`]; a sysinfo sample costs two to three orders
//! of magnitude more (figures in `docs/performance.md`). Every probe can be built with
//! [`Backend::Sysinfo`] on Linux too, which is how its tests run. The listings ([`list_fds`],
//! [`thread_names`], [`process_group_members`], [`memory_detail`], [`cgroup_memory_current`])
//! read `/proc` only and are `Unsupported` elsewhere.
//!
//! # Example
//!
//! ```
//! use leakproof_sample::{capture, heap_stats, is_tracking, Probe, RssProbe, TrackingAlloc};
//!
//! #[global_allocator]
//! static GLOBAL: TrackingAlloc = TrackingAlloc::system();
//!
//! fn workload(keep: &mut Vec<Vec<u8>>) {
//!     keep.push(vec![0u8; 1000]); // a "leak": kept forever
//!     let _temporary = vec![0u8; 4096]; // freed at once
//! }
//!
//! fn main() {
//!     let mut keep = Vec::with_capacity(16);
//!     assert!(is_tracking());
//!     let before = heap_stats();
//!     workload(&mut keep);
//!     let after = heap_stats();
//!     // Exact: only this thread allocates here.
//!     assert_eq!(after.live_bytes - before.live_bytes, 1000);
//!
//!     // Where does the heap grow? Record call stacks while the workload runs.
//!     let guard = capture::start();
//!     workload(&mut keep);
//!     drop(guard);
//!     let snap = capture::snapshot();
//!     assert_eq!(snap.total_bytes, 1000); // the temporary was freed, the kept block was not
//!     assert!(!snap.sites[0].ips.is_empty());
//!
//!     # #[cfg(target_os = "linux")] {
//!     let mut rss = RssProbe::this_process().expect("/proc is readable");
//!     assert!(rss.sample().expect("sample").value > 0.0);
//!     # }
//! }
//! ```

mod alloc;
pub mod capture;
#[cfg(target_os = "linux")]
pub mod native;
mod probe;
pub mod process;
mod sys;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod unwind;

pub use alloc::{heap_stats, is_tracking, reset_peak, HeapStats, TrackingAlloc, PEAK_GRANULE};
pub use probe::{
    catches_signal, cgroup_memory_current, command_line, descendants, executable, list_fds,
    listening_tcp, memory_detail, mount_namespace, owner, process_group_members, thread_names,
    working_dir, Backend, FdInfo, FdKind, FdProbe, HeapProbe, MemoryDetail, Probe, ProbeError,
    RssProbe, Sample, ThreadInfo, ThreadProbe, TreeProbe, TreeSample, Unit,
};
