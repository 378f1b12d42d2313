//! A workload failure that followed a leak proven before it: what was recorded about the two, so
//! that the leak leads the report and its renderings (which read this, and decide nothing).

use serde::{Deserialize, Serialize};

use crate::resource::Resource;

/// How a workload's failure is linked to the leak proven before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FailureLink {
    /// The error is the leaked resource running out: too many open files (EMFILE, ENFILE) for
    /// descriptors, a thread that cannot be created for threads, out of memory for memory.
    Exhausted,
    /// The workload failed after the leak was proven, with an error that names no limit of it.
    AfterLeak,
}

/// The leak that leads the report of a failed run, and how the failure is linked to it. Absent
/// when no resource was proven Leaking before the failure: then the failure is the workload's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakBeforeFailure {
    /// The leaking resource: the one whose limit the error names, else the first Leaking one.
    pub resource: Resource,
    /// Whether the error is that resource running out.
    pub link: FailureLink,
    /// The iteration (1-based, warm-up included; a sample for a watch) that failed.
    pub iteration: usize,
}
