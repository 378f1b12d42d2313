//! leakproof-report: what a leakproof run found, as data and for people.
//!
//! A [`Report`] is the serialized boundary of leakproof: a Rust leak test, `leakproof drive`,
//! `watch` and `analyze`, and the Python package all produce this one versioned JSON shape
//! ([`SCHEMA_VERSION`]). Each tracked [`Resource`] has its samples and the verdict of
//! leakproof-trend; growing allocation sites come from leakproof-diff. The renderings
//! ([`Report::render_text`], [`Report::render_svg`], [`Report::render_json`], [`text_chart`])
//! return strings; nothing here writes files, starts processes or judges anything again. [`exit`]
//! is the one table of exit codes of every leakproof command.
//!
//! ```
//! use leakproof_report::{Report, Resource, ResourceReport};
//! use leakproof_trend::{analyze, Config};
//!
//! let samples: Vec<f64> = (0..200).map(|i| 1000.0 + 64.0 * i as f64).collect();
//! let analysis = analyze(&samples, &Config::heap())?;
//! let heap = ResourceReport::new(Resource::Heap, "live heap bytes", samples, analysis);
//! let report = Report::from_resources("cache", vec![heap], 0.1);
//! assert_eq!(report.exit_code(), leakproof_report::exit::LEAKING);
//! assert!(report.render_text().contains("LEAKING (heap)"));
//! # Ok::<(), leakproof_trend::TrendError>(())
//! ```

mod failure;
mod model;
mod render;
mod resource;

pub use failure::{FailureLink, LeakBeforeFailure};
pub use model::{
    exit, overall, worst, Breach, Isolation, ModelChoice, Probe, Report, ResourceReport, RunConfig,
    SCHEMA_VERSION,
};
pub use render::text_chart;
pub use resource::{HeapName, Resource};
