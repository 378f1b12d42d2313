//! leakproof-harness: run a workload many times, sample, judge, and say where it grew.
//!
//! A [`Harness`] runs a closure N times (300 by default), samples live heap bytes (with
//! `TrackingAlloc` installed, otherwise process RSS), open file descriptors and live threads after
//! every iteration, and asks leakproof-trend whether each series grows. An Inconclusive run is
//! extended within bounds. When a run fails, a second phase re-runs the workload with
//! allocation-site capture on and lists the growing sites with the user's line first. The result
//! is a serde [`Report`] rendered as text ([`Report::render_text`]), JSON and SVG
//! ([`Report::render_svg`]).
//!
//! The [`testing`] module is what `#[leakproof::leak_test]` expands to: it re-executes the test
//! binary for each leak test so other tests never count (in-process under nextest).
//!
//! ```
//! use leakproof_harness::{Harness, Resource};
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

mod agent;
mod capture;
pub mod drive;
mod engine;
mod env;
#[cfg(target_os = "linux")]
pub mod native_agent;
mod render;
mod report;
mod runner;
mod samplers;
pub mod testing;
mod watch;

pub use agent::{AgentChoice, AgentError};
pub use drive::{Drive, DriveError};
pub use engine::{Progress, SettingsError, MIN_ITERATIONS, MIN_JUDGED};
pub use env::{EnvError, ITERATIONS_VAR, REPORT_DIR_VAR, WARMUP_VAR};
pub use render::text_chart;
pub use report::{
    exit, worst, Breach, FailureLink, Isolation, LeakBeforeFailure, ModelChoice, Probe, Report,
    Resource, ResourceReport, RunConfig, SCHEMA_VERSION,
};
pub use runner::{
    Harness, HarnessError, MemoryProbe, DEFAULT_CAPTURE_ITERATIONS, DEFAULT_EXTENSION_FACTOR,
    DEFAULT_ITERATIONS, DEFAULT_TIME_BUDGET,
};
pub use watch::{Watch, WatchError, WatchPlan};
