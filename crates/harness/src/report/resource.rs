//! The resources a run tracks, their units and trend presets.

use leakproof_trend::{Config, NoiseModel};
use serde::{Deserialize, Serialize};

/// A resource whose series is sampled after every iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Resource {
    /// Live heap bytes counted by `TrackingAlloc` (exact).
    Heap,
    /// Resident set size of the process in bytes (page-quantized, noisy).
    Rss,
    /// Open file descriptors (exact count).
    Fds,
    /// Live threads (exact count).
    Threads,
    /// A Python target's traced heap after `gc.collect()` (tracemalloc, through the runtime agent).
    PythonHeap,
    /// A node target's V8 heap after a full collection (through the runtime agent).
    JsHeap,
    /// A native target's live malloc bytes (exact, through the preloaded agent).
    NativeHeap,
    /// A JVM target's Java heap in use after a full collection (through Dynamic Attach).
    JvmHeap,
    /// A series of bytes recorded elsewhere and judged as given (`leakproof analyze` on sizes or a
    /// Prometheus `_bytes` metric).
    Memory,
    /// A series of plain numbers recorded elsewhere and judged as given (`leakproof analyze`).
    Series,
}

impl Resource {
    /// Short lowercase name: `heap`, `rss`, `fds`, `threads`, `python-heap`, `js-heap`,
    /// `native-heap`, `jvm-heap`, and for a recorded series `memory` or `series`.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Heap => "heap",
            Resource::Rss => "rss",
            Resource::Fds => "fds",
            Resource::Threads => "threads",
            Resource::PythonHeap => "python-heap",
            Resource::JsHeap => "js-heap",
            Resource::NativeHeap => "native-heap",
            Resource::JvmHeap => "jvm-heap",
            Resource::Memory => "memory",
            Resource::Series => "series",
        }
    }

    /// True for the memory resources (every heap, RSS and a recorded memory series), whose unit is
    /// bytes.
    pub fn is_memory(self) -> bool {
        !matches!(self, Resource::Fds | Resource::Threads | Resource::Series)
    }

    /// True for a target's own heap measured by an agent (runtime or preloaded).
    pub fn is_agent_heap(self) -> bool {
        matches!(
            self,
            Resource::PythonHeap | Resource::JsHeap | Resource::NativeHeap | Resource::JvmHeap
        )
    }

    /// Unit of one sample, used in slopes: `B`, `fds`, `threads` or `units`.
    pub fn unit(self) -> &'static str {
        match self {
            Resource::Fds => "fds",
            Resource::Threads => "threads",
            Resource::Series => "units",
            _ => "B",
        }
    }

    /// The trend preset that judges this resource: exact heap (also a native target's malloc
    /// bytes), noisy page-quantized RSS, counts, and the runtime heaps' presets (see
    /// docs/detection.md, "Runtime heaps"). A recorded series is judged with the model inferred
    /// from its data (`leakproof_trend::infer_model`); its preset here is the model for when nothing
    /// is inferred: RSS for bytes, exact for plain numbers.
    pub fn preset(self) -> Config {
        match self {
            Resource::Heap | Resource::NativeHeap | Resource::Series => Config::heap(),
            Resource::Rss | Resource::Memory => Config::rss(),
            Resource::Fds | Resource::Threads => Config::counts(),
            Resource::PythonHeap => runtime_heap(PYTHON_HEAP_FLOOR),
            Resource::JsHeap => runtime_heap(JS_HEAP_FLOOR),
            Resource::JvmHeap => runtime_heap(JVM_HEAP_FLOOR),
        }
    }

    /// A rate or a change in this resource's unit for people: `64.1 KiB`, `0.25 fds`, with `+` on
    /// positive values when `signed`. Sizes go through leakproof's one size formatter,
    /// [`leakproof_diff::format_size`].
    pub fn format_rate(self, value: f64, signed: bool) -> String {
        if self.is_memory() {
            leakproof_diff::format_size(value, signed)
        } else {
            let sign = if signed && value > 0.0 { "+" } else { "" };
            format!("{sign}{value:.2} {}", self.unit())
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

/// Floor of a Python heap, in bytes per iteration (see docs/detection.md, "Runtime heaps").
pub(crate) const PYTHON_HEAP_FLOOR: f64 = 64.0;
/// Floor of a node heap, in bytes per iteration (see docs/detection.md, "Runtime heaps").
pub(crate) const JS_HEAP_FLOOR: f64 = 256.0;
/// Floor of a JVM heap, in bytes per iteration (see docs/detection.md, "Runtime heaps").
pub(crate) const JVM_HEAP_FLOOR: f64 = 256.0;

/// A runtime's heap after a full collection: byte counts that the runtime's own caches, free
/// lists and interned objects move a little on every request, so noisy (noise estimated from the
/// data, no quantum) with an absolute floor.
/// A runtime may still be warming up (rule 10 of docs/detection.md): decelerating growth is not
/// proof.
fn runtime_heap(floor: f64) -> Config {
    Config::heap()
        .with_noise(NoiseModel::Noisy { quantum: 0.0 })
        .with_min_slope(floor)
        .with_min_samples(30)
        .with_warming(true)
}
