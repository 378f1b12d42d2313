//! leakproof-harness: run a workload many times, sample, judge, and say where it grew.
//!
//! A [`Harness`] runs a closure N times (300 by default), samples live heap bytes (with
//! `TrackingAlloc` installed, otherwise process RSS), open file descriptors and live threads after
//! every iteration, and asks leakproof-trend whether each series grows. An Inconclusive run is
//! extended within bounds. When a run fails, a second phase re-runs the workload with
//! allocation-site capture on and lists the growing sites with the user's line first. The result
//! is leakproof-report's serde `Report`, rendered as text, JSON and SVG. [`Drive`] does the same
//! for an external target process (its own heap through leakproof-agents when an agent fits), and
//! [`Watch`] for a process over time. All three are adapters over one run engine.
//!
//! The hidden `testing` module is what `#[leakproof::leak_test]` expands to: it re-executes the
//! test binary for each leak test so other tests never count (in-process under nextest).
//!
//! ```
//! use leakproof_harness::Harness;
//! use leakproof_report::Resource;
//!
//! let mut cache = Vec::new();
//! let report = Harness::new()
//!     .name("unbounded_cache")
//!     .iterations(200)
//!     .run(|| cache.push([0u8; 64]))?;
//! // Without TrackingAlloc installed this judges process RSS, which a slow leak may not move.
//! println!("{}", report.render_text());
//! assert!(report.resource(Resource::Fds).is_some());
//! # Ok::<(), leakproof_harness::HarnessError>(())
//! ```

mod artifacts;
mod drive;
mod engine;
mod env;
mod findings;
mod in_process;
mod samplers;
mod target;
#[doc(hidden)]
pub mod testing;
mod watch;

pub use artifacts::write_artifacts;
pub use drive::{Drive, DriveError, HttpUrl, Readiness};
pub use engine::{Progress, SettingsError, MIN_ITERATIONS, MIN_JUDGED};
pub use env::{EnvError, ITERATIONS_VAR, REPORT_DIR_VAR, WARMUP_VAR};
pub use in_process::{
    Harness, HarnessError, MemoryProbe, DEFAULT_CAPTURE_ITERATIONS, DEFAULT_EXTENSION_FACTOR,
    DEFAULT_ITERATIONS, DEFAULT_TIME_BUDGET,
};
pub use leakproof_agents::{AgentChoice, AgentError};
pub use target::{describe_status, last_line, shell_command, stop_all_targets, SpawnError};
pub use watch::{Watch, WatchError, WatchPlan};
