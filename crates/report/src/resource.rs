//! The resources a run tracks and their units. How each is judged (its trend preset) is the
//! engine's and the agents' business, not the model's.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A resource whose series is sampled after every iteration. Serialized as its [`Resource::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// A target's own heap measured by an agent (`python-heap`, `js-heap`, `native-heap`,
    /// `jvm-heap`, ...): which agents exist is the agents' table, not the model's.
    AgentHeap(HeapName),
    /// A series of bytes recorded elsewhere and judged as given (`leakproof analyze` on sizes or a
    /// Prometheus `_bytes` metric).
    Memory,
    /// A series of plain numbers recorded elsewhere and judged as given (`leakproof analyze`).
    Series,
}

/// The name of an agent-measured heap, `<runtime>-heap` (at most [`HeapName::MAX`] bytes of
/// lowercase ASCII letters, digits and `-`): a `Copy` value, so a [`Resource`] stays one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeapName {
    len: u8,
    bytes: [u8; HeapName::MAX],
}

impl HeapName {
    /// The longest name.
    pub const MAX: usize = 23;

    /// `runtime-heap` for `runtime` (`python` gives `python-heap`), or `None` when the result is
    /// too long or not lowercase ASCII letters, digits and `-`.
    pub fn of_runtime(runtime: &str) -> Option<HeapName> {
        HeapName::parse(&format!("{runtime}-heap"))
    }

    /// A full heap name such as `python-heap`, or `None` when it does not end in `-heap` or is
    /// not a valid name.
    pub fn parse(name: &str) -> Option<HeapName> {
        let valid = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        let runtime = name.strip_suffix("-heap")?;
        if runtime.is_empty() || name.len() > HeapName::MAX || !name.bytes().all(|b| valid(&b)) {
            return None;
        }
        let mut bytes = [0; HeapName::MAX];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(HeapName {
            len: name.len() as u8,
            bytes,
        })
    }

    /// The name, e.g. `python-heap`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?-heap")
    }
}

impl std::fmt::Debug for HeapName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Resource {
    /// The heap an agent for `runtime` measures (`Resource::agent_heap("python")` is
    /// `python-heap`). Panics on a runtime name that makes no valid [`HeapName`]: the agents'
    /// table names its runtimes at compile time.
    pub fn agent_heap(runtime: &str) -> Resource {
        Resource::AgentHeap(
            HeapName::of_runtime(runtime)
                .unwrap_or_else(|| panic!("`{runtime}` is not a valid runtime name")),
        )
    }

    /// Short lowercase name: `heap`, `rss`, `fds`, `threads`, an agent's heap (`python-heap`,
    /// `js-heap`, `native-heap`, `jvm-heap`, ...), and for a recorded series `memory` or `series`.
    pub fn name(&self) -> &str {
        match self {
            Resource::Heap => "heap",
            Resource::Rss => "rss",
            Resource::Fds => "fds",
            Resource::Threads => "threads",
            Resource::AgentHeap(name) => name.as_str(),
            Resource::Memory => "memory",
            Resource::Series => "series",
        }
    }

    /// The resource named `name` (the inverse of [`Resource::name`]).
    pub fn from_name(name: &str) -> Option<Resource> {
        Some(match name {
            "heap" => Resource::Heap,
            "rss" => Resource::Rss,
            "fds" => Resource::Fds,
            "threads" => Resource::Threads,
            "memory" => Resource::Memory,
            "series" => Resource::Series,
            other => Resource::AgentHeap(HeapName::parse(other)?),
        })
    }

    /// True for the memory resources (every heap, RSS and a recorded memory series), whose unit is
    /// bytes.
    pub fn is_memory(self) -> bool {
        !matches!(self, Resource::Fds | Resource::Threads | Resource::Series)
    }

    /// True for a target's own heap measured by an agent (runtime or preloaded).
    pub fn is_agent_heap(self) -> bool {
        matches!(self, Resource::AgentHeap(_))
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

    /// The noise model that judges this resource in a run, by name, for reports: `heap` (exact),
    /// `rss`, `counts`; an agent's heap is judged by its own preset, named after it.
    pub fn model_name(&self) -> &str {
        match self {
            Resource::Heap | Resource::Series => "heap",
            Resource::Rss | Resource::Memory => "rss",
            Resource::Fds | Resource::Threads => "counts",
            Resource::AgentHeap(name) => name.as_str(),
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

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Resource, D::Error> {
        let name = String::deserialize(deserializer)?;
        Resource::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_json() {
        for r in [
            Resource::Heap,
            Resource::Rss,
            Resource::Fds,
            Resource::Threads,
            Resource::agent_heap("python"),
            Resource::agent_heap("js"),
            Resource::Memory,
            Resource::Series,
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.name()));
            assert_eq!(serde_json::from_str::<Resource>(&json).unwrap(), r);
        }
        assert_eq!(Resource::agent_heap("python").name(), "python-heap");
        assert!(serde_json::from_str::<Resource>("\"gpu\"").is_err());
    }

    #[test]
    fn heap_names_are_checked() {
        assert!(HeapName::parse("-heap").is_none());
        assert!(HeapName::parse("Python-heap").is_none());
        assert!(HeapName::parse("python").is_none());
        assert!(HeapName::of_runtime("a-very-long-runtime-name").is_none());
        assert_eq!(HeapName::of_runtime("jvm").unwrap().as_str(), "jvm-heap");
    }
}
