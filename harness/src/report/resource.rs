//! The resources a run tracks, their units and trend presets.

use serde::{Deserialize, Serialize};

/// A resource whose series is sampled after every iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    /// Live heap bytes counted by `TrackingAlloc` (exact).
    Heap,
    /// Resident set size of the process in bytes (page-quantized, noisy).
    Rss,
    /// Open file descriptors (exact count).
    Fds,
    /// Live threads (exact count).
    Threads,
}

impl Resource {
    /// Short lowercase name: `heap`, `rss`, `fds`, `threads`.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Heap => "heap",
            Resource::Rss => "rss",
            Resource::Fds => "fds",
            Resource::Threads => "threads",
        }
    }

    /// True for the memory resources (heap, RSS), whose unit is bytes.
    pub fn is_memory(self) -> bool {
        matches!(self, Resource::Heap | Resource::Rss)
    }

    /// Unit of one sample, used in slopes: `B`, `fds` or `threads`.
    pub fn unit(self) -> &'static str {
        match self {
            Resource::Heap | Resource::Rss => "B",
            Resource::Fds => "fds",
            Resource::Threads => "threads",
        }
    }

    /// The trend preset that judges this resource: exact heap, noisy page-quantized RSS, counts.
    pub fn preset(self) -> leakproof_trend::Config {
        match self {
            Resource::Heap => leakproof_trend::Config::heap(),
            Resource::Rss => leakproof_trend::Config::rss(),
            Resource::Fds | Resource::Threads => leakproof_trend::Config::counts(),
        }
    }

    /// Format one value of this resource for people (`1.5 KiB`, `12 fds`).
    pub fn format_value(self, value: f64) -> String {
        if self.is_memory() {
            leakproof_diff::format_size(value, false)
        } else {
            format!("{value:.0} {}", self.unit())
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
