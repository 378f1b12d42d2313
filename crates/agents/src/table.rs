//! The one table of agents: everything the rest of leakproof knows about each runtime it can
//! measure. Adding a runtime is a module that implements [`Agent`] and one row here.

use std::fmt;
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use leakproof_trend::{Config, NoiseModel};

use crate::pending::Prepared;
use crate::{Agent, AgentError, Pictures};

/// How an agent reaches its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reach {
    /// Injected through the target's environment before it starts (`PYTHONPATH` sitecustomize,
    /// `NODE_OPTIONS=--require`).
    Environment,
    /// Preloaded into every process of the target (`LD_PRELOAD`).
    Preload,
    /// Attached to from outside once the target runs; nothing is injected.
    Attach,
    /// Measured by its caller in its own process ([`Descriptor::in_process`]).
    InProcess,
}

/// Prepares the agent of a row and injects it into a command about to start.
pub(crate) type Inject =
    fn(&'static Descriptor, &mut Command) -> Result<Box<dyn Prepared>, AgentError>;

/// Attaches to the runtime processes of the tree under a pid, waiting up to the timeout.
pub(crate) type AttachFn =
    fn(&'static Descriptor, u32, Duration) -> Result<Box<dyn Agent>, AgentError>;

/// Attaching to a process that already runs.
#[derive(Clone, Copy)]
pub(crate) struct Attach {
    /// True when `pid` runs this agent's runtime.
    pub(crate) finds: fn(u32) -> bool,
    /// Attaches to the runtime processes of the tree under `pid`, waiting up to the timeout.
    pub(crate) attach: AttachFn,
}

/// One row of [`AGENTS`].
#[non_exhaustive]
pub struct Descriptor {
    /// The `--agent` value: `python`, `node`, `native`, `jvm`.
    pub name: &'static str,
    /// The runtime as messages name it: `Python`, `node`, `native`, `JVM`.
    pub title: &'static str,
    /// The runtime of the heap it measures: the resource is `<heap>-heap` (`python-heap`,
    /// `js-heap`, `native-heap`, `jvm-heap`).
    pub heap: &'static str,
    /// What a sample measures, for reports.
    pub label: &'static str,
    /// The trend preset that judges the heap (see docs/detection.md, "Runtime heaps").
    pub preset: fn() -> Config,
    /// In a watch, where a sample is a span of time and not a unit of work: the heap's floor in
    /// bytes per second, when the runtime grows its heap by itself at a rate that a per-sample
    /// floor cannot tell from a leak at every interval (V8 compiling for minutes); `None` keeps
    /// the preset's floor per sample. See [`Descriptor::watch_preset`].
    pub watch_floor: Option<f64>,
    /// When a picture exists.
    pub pictures: Pictures,
    /// What a picture names, in notes: `sites` or `classes`.
    pub pictured: &'static str,
    /// How pictures are made, said in the locate note (empty: nothing to add).
    pub pictured_by: &'static str,
    /// Iterations of the locate phase with this agent (node's sampling heap profiler keeps one
    /// allocation per 8 KiB, so a leak at the floor needs a few hundred requests to show).
    pub locate_iterations: usize,
    /// How it reaches the target.
    pub reach: Reach,
    /// True for a program name of this runtime (`python3.12`, `node`, `java`).
    pub(crate) programs: fn(&str) -> bool,
    /// Prepares the agent and injects it into a command about to start.
    pub(crate) inject: Option<Inject>,
    /// Attaches to a running process.
    pub(crate) attach: Option<Attach>,
}

impl fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Descriptor({})", self.name)
    }
}

impl PartialEq for Descriptor {
    fn eq(&self, other: &Descriptor) -> bool {
        self.name == other.name
    }
}

impl Eq for Descriptor {}

impl Descriptor {
    /// A row for a heap its caller measures in its own process (the Python package's traced heap
    /// of the test's interpreter): not in [`AGENTS`], never injected or attached; its pictures
    /// are taken [`Pictures::Now`], and `heap` names its resource (`<heap>-heap`).
    pub const fn in_process(
        name: &'static str,
        heap: &'static str,
        label: &'static str,
        preset: fn() -> Config,
        locate_iterations: usize,
    ) -> Descriptor {
        Descriptor {
            name,
            title: name,
            heap,
            label,
            preset,
            watch_floor: None,
            pictures: Pictures::Now,
            pictured: "sites",
            pictured_by: "",
            locate_iterations,
            reach: Reach::InProcess,
            programs: |_| false,
            inject: None,
            attach: None,
        }
    }

    /// The preset of a watch that samples every `interval`: the row's [`Descriptor::preset`],
    /// its floor raised to [`Descriptor::watch_floor`] over one interval.
    pub fn watch_preset(&self, interval: Duration) -> Config {
        let preset = (self.preset)();
        match self.watch_floor {
            Some(per_second) => {
                let floor = preset.min_slope.max(per_second * interval.as_secs_f64());
                preset.with_min_slope(floor)
            }
            None => preset,
        }
    }

    /// True when a running process can be attached to (`watch --pid`).
    pub fn attaches(&self) -> bool {
        self.attach.is_some()
    }
}

/// Every agent, in the order `--agent auto` tries them on a program name.
pub static AGENTS: &[Descriptor] = &[
    crate::runtime::PYTHON,
    crate::runtime::NODE,
    #[cfg(target_os = "linux")]
    crate::native::NATIVE,
    crate::jvm::JVM,
];

/// The agent named `name` in [`AGENTS`].
pub(crate) fn by_name(name: &str) -> Option<&'static Descriptor> {
    AGENTS.iter().find(|d| d.name == name)
}

/// A runtime's heap after a full collection: byte counts that the runtime's own caches, free
/// lists and interned objects move a little on every request, so noisy (noise estimated from the
/// data, no quantum) with an absolute floor in bytes per iteration. A runtime may still be warming
/// up (rule 10 of docs/detection.md): decelerating growth is not proof.
pub(crate) fn runtime_heap(floor: f64) -> Config {
    Config::heap()
        .with_noise(NoiseModel::Noisy { quantum: 0.0 })
        .with_min_slope(floor)
        .with_min_samples(30)
        .with_warming(true)
}

/// Which agent to use for a target (`--agent auto|none|python|node|native|jvm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentChoice {
    /// Recognise the target's runtime by its executable or its script's shebang, and any other
    /// dynamically linked executable as native (the default).
    #[default]
    Auto,
    /// No agent: sample the process tree's RSS only.
    None,
    /// This agent.
    Agent(&'static Descriptor),
}

impl AgentChoice {
    /// The agent named `name` in [`AGENTS`].
    pub fn named(name: &str) -> Option<AgentChoice> {
        by_name(name).map(AgentChoice::Agent)
    }
}

impl fmt::Display for AgentChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AgentChoice::Auto => "auto",
            AgentChoice::None => "none",
            AgentChoice::Agent(d) => d.name,
        })
    }
}

impl FromStr for AgentChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(AgentChoice::Auto),
            "none" => Ok(AgentChoice::None),
            name => AgentChoice::named(name).ok_or_else(|| {
                let names: Vec<&str> = AGENTS.iter().map(|d| d.name).collect();
                format!(
                    "unknown agent `{name}` (expected auto, {} or none)",
                    names.join(", ")
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_floor_is_per_second_and_never_below_the_preset() {
        let node = &crate::runtime::NODE;
        let per_sample = (node.preset)().min_slope;
        let half = node.watch_preset(Duration::from_millis(500)).min_slope;
        assert_eq!(half, 1024.0);
        assert_eq!(node.watch_preset(Duration::from_secs(2)).min_slope, 4096.0);
        // A fast watch keeps the floor per sample.
        assert_eq!(
            node.watch_preset(Duration::from_millis(10)).min_slope,
            per_sample
        );
        let python = &crate::runtime::PYTHON;
        assert_eq!(
            python.watch_preset(Duration::from_secs(2)),
            (python.preset)()
        );
    }

    #[test]
    fn every_agent_is_named_and_parsed_back() {
        for d in AGENTS {
            let choice: AgentChoice = d.name.parse().unwrap();
            assert_eq!(choice.to_string(), d.name);
            assert!(
                d.inject.is_some() || d.attach.is_some(),
                "{d:?} reaches nothing"
            );
        }
        assert_eq!("auto".parse::<AgentChoice>(), Ok(AgentChoice::Auto));
        assert_eq!("none".parse::<AgentChoice>(), Ok(AgentChoice::None));
        let err = "ruby".parse::<AgentChoice>().unwrap_err();
        assert!(
            err.starts_with("unknown agent `ruby` (expected auto, python, node"),
            "{err}"
        );
    }
}
