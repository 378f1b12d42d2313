//! The result of a run: what was measured, the verdict per resource, and where it grew. This is the
//! data model only (serde, the serialized boundary between the harness, the test runner and the
//! CLI); its renderings (text, SVG) live in `crate::render`.

use leakproof_diff::{Holder, StatDiff};
use leakproof_trend::{Analysis, Verdict};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::failure::LeakBeforeFailure;
use crate::resource::{HeapName, Resource};

/// The series of one resource and its analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceReport {
    /// Which resource.
    pub resource: Resource,
    /// Where the numbers came from, e.g. `live heap bytes (TrackingAlloc)`.
    pub source: String,
    /// One sample after each iteration.
    pub samples: Vec<f64>,
    /// The verdict of leakproof-trend on `samples`.
    pub analysis: Analysis,
    /// What else is known when it grew (new descriptors' kinds, new threads' names), if anything.
    pub detail: Option<String>,
    /// Reported but not counted in the overall verdict: a target's RSS while its own heap, measured
    /// by an agent, is proven Stable (see docs/detection.md, "Runtime heaps").
    #[serde(default)]
    pub advisory: bool,
    /// The noise model that judged a recorded series, and why (`leakproof analyze`); a run's
    /// resources leave it out (their model is [`Resource::model_name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelChoice>,
    /// Where the descriptors or threads that grew were opened or started, one site per user
    /// line (`count` is how many are still open or alive), biggest first, when an agent traced
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<StatDiff>,
}

impl ResourceReport {
    /// The judged series of `resource` from `source`, with no detail, counted in the verdict.
    pub fn new(
        resource: Resource,
        source: impl Into<String>,
        samples: Vec<f64>,
        analysis: Analysis,
    ) -> ResourceReport {
        ResourceReport {
            resource,
            source: source.into(),
            samples,
            analysis,
            detail: None,
            advisory: false,
            model: None,
            sites: Vec::new(),
        }
    }
}

/// The noise model a recorded series was judged with, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelChoice {
    /// `heap`, `rss` or `counts`.
    pub name: String,
    /// The measurement quantum the model assumes (0 for none).
    pub quantum: f64,
    /// Inferred from the data (`--model auto`), or given (`--model NAME`).
    pub inferred: bool,
    /// One sentence: the rule that chose it.
    pub reason: String,
}

impl std::fmt::Display for ModelChoice {
    /// `rss, quantum 4096 (inferred: ...)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if self.quantum > 0.0 {
            write!(f, ", quantum {}", self.quantum)?;
        }
        let how = if self.inferred { "inferred: " } else { "" };
        write!(f, " ({how}{})", self.reason)
    }
}

/// How a run was isolated from other code that could move its series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Measured in the calling process (a [`crate::Harness`] used directly).
    #[default]
    InProcess,
    /// A leak test measured alone in a re-executed test process.
    Reexec,
    /// A leak test under nextest, which runs each test in a process of its own.
    Nextest,
    /// A leak test measured in-process while other tests may run beside it.
    Shared,
    /// An external target process, driven from outside and sampled as a process tree.
    Target,
    /// No run: a series recorded elsewhere, judged as given (`leakproof analyze`).
    Recorded,
}

/// Where a run's memory series came from: the probe asked for in-process, the process tree of a
/// target with or without an agent's heap beside it, or a recorded series. Serialized as `auto`,
/// `heap`, `rss`, `tree-rss`, `<agent heap>+tree-rss` (e.g. `python-heap+tree-rss`) or `recorded`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probe {
    /// In-process: the heap when `TrackingAlloc` is installed, else RSS.
    #[default]
    Auto,
    /// In-process: the heap counted by `TrackingAlloc`.
    Heap,
    /// In-process: the process's RSS.
    Rss,
    /// In-process: a heap the caller measures (e.g. a Python interpreter's, through tracemalloc).
    Agent(HeapName),
    /// A target's process tree (RSS, fds, threads), with the heap of the agent measuring it, if any.
    Target(Option<HeapName>),
    /// A recorded series (`leakproof analyze`).
    Recorded,
}

impl Probe {
    /// A target's process tree, with the heap of the agent measuring it, if any.
    pub fn target(agent_heap: Option<Resource>) -> Probe {
        match agent_heap {
            Some(Resource::AgentHeap(name)) => Probe::Target(Some(name)),
            _ => Probe::Target(None),
        }
    }

    /// The name on the wire.
    pub fn name(&self) -> String {
        match self {
            Probe::Auto => "auto".to_owned(),
            Probe::Heap => "heap".to_owned(),
            Probe::Rss => "rss".to_owned(),
            Probe::Agent(heap) => heap.as_str().to_owned(),
            Probe::Target(None) => "tree-rss".to_owned(),
            Probe::Target(Some(heap)) => format!("{}+tree-rss", heap.as_str()),
            Probe::Recorded => "recorded".to_owned(),
        }
    }

    /// The probe named `name` (the inverse of [`Probe::name`]).
    pub fn from_name(name: &str) -> Option<Probe> {
        Some(match name {
            "auto" => Probe::Auto,
            "heap" => Probe::Heap,
            "rss" => Probe::Rss,
            "tree-rss" => Probe::Target(None),
            "recorded" => Probe::Recorded,
            other => match other.strip_suffix("+tree-rss") {
                Some(heap) => Probe::Target(Some(HeapName::parse(heap)?)),
                None => Probe::Agent(HeapName::parse(other)?),
            },
        })
    }
}

impl Serialize for Probe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Probe, D::Error> {
        let name = String::deserialize(deserializer)?;
        Probe::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown probe `{name}`")))
    }
}

/// The settings a run was made with, so a report can be read (and reproduced) on its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Iterations asked for before any extension.
    pub iterations: usize,
    /// Fixed warm-up iterations, or `None` when the warm-up was detected.
    pub warmup: Option<usize>,
    /// Ceiling on iterations when an Inconclusive run is extended.
    pub max_iterations: usize,
    /// Wall-time budget for extensions in seconds, when there is one.
    pub time_budget_secs: Option<f64>,
    /// The memory probe asked for: `auto`, `heap` or `rss` in-process, `tree-rss` (or
    /// `python-heap+tree-rss`, ...) for a target, `recorded` for a recorded series.
    pub probe: Probe,
    /// The resources tracked from the start, memory first.
    pub resources: Vec<Resource>,
    /// Whether a failing run re-runs the workload with allocation-site capture.
    pub capture_sites: bool,
    /// How the run was isolated.
    pub isolation: Isolation,
    /// Seconds between samples when the run samples over time (`watch`): slopes in the text and
    /// the report's top-level `slope` are then per second. `None`: per iteration.
    #[serde(default)]
    pub interval_secs: Option<f64>,
}

/// A ceiling crossed during a run (`leakproof watch --max-rss`): the run stopped there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// The resource that crossed its ceiling.
    pub resource: Resource,
    /// The ceiling.
    pub limit: f64,
    /// The value that crossed it.
    pub value: f64,
    /// The sample (1-based) at which it was crossed.
    pub iteration: usize,
    /// Seconds since the run started.
    pub at_secs: f64,
}

/// The version of the report's JSON shape, in its `schema` field.
/// Version 2 added `holders` and each resource's `sites`; version 1 reports read as version 2
/// reports without them.
pub const SCHEMA_VERSION: u32 = 2;

/// What a leak run found. Serialized as JSON by the CLI, the report directory and the re-exec child.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The version of this JSON shape ([`SCHEMA_VERSION`]).
    #[serde(default = "schema_version")]
    pub schema: u32,
    /// Test or workload name.
    pub name: String,
    /// Overall verdict: the worst of the resources (Leaking > Inconclusive > Stable).
    pub verdict: Verdict,
    /// Slope of the primary memory series, in bytes per iteration (per second for a run over time);
    /// `None` when it has no estimate (too few samples) or nothing was measured.
    pub slope: Option<f64>,
    /// Confidence interval of `slope` (`None` exactly when `slope` is).
    pub slope_ci: Option<(f64, f64)>,
    /// Samples of the primary memory series.
    pub samples: Vec<f64>,
    /// Every tracked resource: memory first, then fds, then threads.
    pub resources: Vec<ResourceReport>,
    /// Iterations run (after any extension).
    pub iterations: usize,
    /// Warm-up iterations excluded from the trend of the primary memory series.
    pub warmup: usize,
    /// Wall time of the measured run in seconds (the capture phase excluded).
    pub duration_secs: f64,
    /// The settings of the run (missing in reports written before it existed: defaults then).
    #[serde(default)]
    pub config: RunConfig,
    /// Growing allocation sites, biggest first, when they were captured.
    pub sites: Vec<StatDiff>,
    /// What keeps the growing sites' objects alive, when the heap's agent could say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<Holder>,
    /// Remarks for people: which probe and why, extensions, what was not tracked.
    pub notes: Vec<String>,
    /// The workload (or target) failed: its panic message or exit status. The verdict is void
    /// then, unless `leak_before_failure` says a leak was proven before it.
    pub failure: Option<String>,
    /// A leak proven on the samples taken before the workload failed, which then leads the report
    /// (exit code 1): which resource, and whether the failure is that resource running out.
    #[serde(default)]
    pub leak_before_failure: Option<LeakBeforeFailure>,
    /// A ceiling crossed, which ended the run (exit code 1 whatever the verdict).
    #[serde(default)]
    pub breach: Option<Breach>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// The exit codes of every leakproof command and of [`Report::exit_code`]; the verdicts' codes are
/// [`Verdict::exit_code`]'s.
pub mod exit {
    /// Every tracked resource Stable, or nothing grew in a diff.
    pub const STABLE: u8 = 0;
    /// Something is Leaking (also when the workload then failed), a ceiling was crossed, or a diff
    /// grew.
    pub const LEAKING: u8 = 1;
    /// Bad usage or unreadable input.
    pub const USAGE: u8 = 2;
    /// Inconclusive, even after extending the run.
    pub const INCONCLUSIVE: u8 = 3;
    /// The workload or the target failed.
    pub const FAILED: u8 = 4;
}

/// The overall verdict of `resources`: the worst of those that count (not advisory).
pub fn overall(resources: &[ResourceReport]) -> Verdict {
    resources
        .iter()
        .filter(|r| !r.advisory)
        .map(|r| r.analysis.verdict)
        .fold(Verdict::Stable, worst)
}

/// The worse of two verdicts: Leaking > Inconclusive > Stable (their order).
pub fn worst(a: Verdict, b: Verdict) -> Verdict {
    a.max(b)
}

impl Report {
    /// Build a report from resource series (memory first); the overall verdict and the primary
    /// slope are derived from them.
    pub fn from_resources(
        name: impl Into<String>,
        resources: Vec<ResourceReport>,
        duration_secs: f64,
    ) -> Report {
        let verdict = overall(&resources);
        let primary = resources.first();
        Report {
            schema: SCHEMA_VERSION,
            name: name.into(),
            verdict,
            slope: primary.and_then(|r| r.analysis.slope),
            slope_ci: primary.and_then(|r| r.analysis.slope_ci),
            samples: primary.map_or_else(Vec::new, |r| r.samples.clone()),
            iterations: primary.map_or(0, |r| r.samples.len()),
            warmup: primary.map_or(0, |r| r.analysis.warmup_end),
            resources,
            duration_secs,
            config: RunConfig::default(),
            sites: Vec::new(),
            holders: Vec::new(),
            notes: Vec::new(),
            failure: None,
            leak_before_failure: None,
            breach: None,
        }
    }

    /// A series recorded elsewhere, judged as given (`leakproof analyze`): one resource and no run.
    /// With `interval_secs` (seconds between samples) the top-level slope is per second, as for a
    /// run over time.
    pub fn recorded(
        name: impl Into<String>,
        series: ResourceReport,
        warmup: Option<usize>,
        interval_secs: Option<f64>,
    ) -> Report {
        let n = series.samples.len();
        let resources = vec![series.resource];
        let duration = interval_secs.map_or(0.0, |s| s * n.saturating_sub(1) as f64);
        let mut report = Report::from_resources(name, vec![series], duration);
        report.config = RunConfig {
            iterations: n,
            warmup,
            max_iterations: n,
            time_budget_secs: None,
            probe: Probe::Recorded,
            resources,
            capture_sites: false,
            isolation: Isolation::Recorded,
            interval_secs,
        };
        if let Some(secs) = interval_secs.filter(|s| *s > 0.0) {
            report.slope_per_second(secs);
        }
        report
    }

    /// Makes the top-level slope per second, for samples `interval` seconds apart.
    pub fn slope_per_second(&mut self, interval: f64) {
        self.slope = self.slope.map(|s| s / interval);
        self.slope_ci = self.slope_ci.map(|(lo, hi)| (lo / interval, hi / interval));
    }

    /// A report of `iterations` that were too few to judge (no resources, verdict Inconclusive).
    pub fn unjudged(name: &str, iterations: usize, duration_secs: f64) -> Report {
        Report {
            iterations,
            duration_secs,
            failure: None,
            ..Report::failed(name, "")
        }
    }

    /// A report for a workload that failed (panicked, or a target that exited) before a verdict.
    pub fn failed(name: impl Into<String>, failure: impl Into<String>) -> Report {
        Report {
            schema: SCHEMA_VERSION,
            name: name.into(),
            verdict: Verdict::Inconclusive,
            slope: None,
            slope_ci: None,
            samples: Vec::new(),
            resources: Vec::new(),
            iterations: 0,
            warmup: 0,
            duration_secs: 0.0,
            config: RunConfig::default(),
            sites: Vec::new(),
            holders: Vec::new(),
            notes: Vec::new(),
            failure: Some(failure.into()),
            leak_before_failure: None,
            breach: None,
        }
    }

    /// True when the run proved every tracked resource Stable, crossed no ceiling, and the
    /// workload did not fail.
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.breach.is_none() && self.verdict == Verdict::Stable
    }

    /// The report of one resource, if it was tracked.
    pub fn resource(&self, resource: Resource) -> Option<&ResourceReport> {
        self.resources.iter().find(|r| r.resource == resource)
    }

    /// Process exit code for this report (see [`exit`]): Leaking when a leak proven before a
    /// failure leads it, else the workload failed, a ceiling crossed, or the verdict's own code.
    pub fn exit_code(&self) -> u8 {
        if self.leak_before_failure.is_some() {
            return exit::LEAKING;
        }
        if self.failure.is_some() {
            return exit::FAILED;
        }
        if self.breach.is_some() {
            return exit::LEAKING;
        }
        self.verdict.exit_code()
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use leakproof_diff::Frame;
    use leakproof_trend::{Plateau, TrendTest};

    pub(crate) fn analysis(
        verdict: Verdict,
        slope: f64,
        ci: (f64, f64),
        warmup_end: usize,
        n: usize,
    ) -> Analysis {
        Analysis {
            verdict,
            slope: Some(slope),
            slope_ci: Some(ci),
            confidence: 0.95,
            warmup_end,
            plateau: (verdict == Verdict::Stable).then_some(Plateau {
                start: warmup_end,
                level: 4.0,
            }),
            trend: TrendTest {
                statistic: 0.0,
                p_value: 0.5,
            },
            total_growth: slope * n as f64,
            samples: n,
            more_samples: None,
            floor: 8.0,
            cycles: None,
            reason: match verdict {
                Verdict::Leaking => format!("grew {slope} units/sample over {n} samples"),
                _ => "flat".to_owned(),
            },
        }
    }

    /// A leaking heap (64 B/iteration after a 10-iteration warm-up) and fds, stable threads, one site.
    pub(crate) fn leaking_report() -> Report {
        let n = 40;
        let heap: Vec<f64> = (0..n)
            .map(|i| {
                1000.0
                    + if i < 10 {
                        i as f64 * 200.0
                    } else {
                        2000.0 + (i - 10) as f64 * 64.0
                    }
            })
            .collect();
        let fds: Vec<f64> = (0..n).map(|i| 5.0 + (i / 4) as f64).collect();
        let threads = vec![2.0; n];
        let resources = vec![
            ResourceReport {
                resource: Resource::Heap,
                source: "live heap bytes (TrackingAlloc)".into(),
                samples: heap,
                analysis: analysis(Verdict::Leaking, 64.0, (63.5, 64.5), 10, n),
                detail: None,
                advisory: false,
                model: None,
                sites: vec![],
            },
            ResourceReport {
                resource: Resource::Fds,
                source: "open file descriptors".into(),
                samples: fds,
                analysis: analysis(Verdict::Leaking, 0.25, (0.25, 0.25), 0, n),
                detail: Some(
                    "new file descriptors over 40 more iterations: 10 opened and still open\n  \
                     10 regular files or directories, e.g. /tmp/a, /tmp/b"
                        .into(),
                ),
                advisory: false,
                model: None,
                sites: vec![],
            },
            ResourceReport {
                resource: Resource::Threads,
                source: "live threads".into(),
                samples: threads,
                analysis: analysis(Verdict::Stable, 0.0, (0.0, 0.0), 0, n),
                detail: None,
                advisory: false,
                model: None,
                sites: vec![],
            },
        ];
        let mut report = Report::from_resources("tests::cache_grows", resources, 0.25);
        report.sites = vec![StatDiff {
            key: "src/cache.rs:42".into(),
            size: 2560,
            size_diff: 2560,
            count: 40,
            count_diff: 40,
            traceback: vec![
                Frame::at("alloc::alloc::alloc", "library/alloc/src/alloc.rs", 94),
                Frame::at(
                    "alloc::vec::Vec::push",
                    "library/alloc/src/vec/mod.rs",
                    2000,
                ),
                Frame::at("myapp::cache::Cache::insert", "src/cache.rs", 42),
                Frame::at("myapp::handle", "src/lib.rs", 17),
                Frame::at("run_once<F>", "crates/harness/src/runner.rs", 404),
                Frame::at("main", "src/main.rs", 3),
            ],
            user_frame: Some(2),
        }];
        report.notes =
            vec!["allocation sites: growth over 40 more iterations with capture on".into()];
        report
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::leaking_report;
    use super::*;

    #[test]
    fn overall_verdict_is_the_worst() {
        assert_eq!(
            worst(Verdict::Stable, Verdict::Inconclusive),
            Verdict::Inconclusive
        );
        assert_eq!(
            worst(Verdict::Leaking, Verdict::Inconclusive),
            Verdict::Leaking
        );
        assert_eq!(worst(Verdict::Stable, Verdict::Stable), Verdict::Stable);
        let r = leaking_report();
        assert_eq!(r.verdict, Verdict::Leaking);
        assert_eq!(r.slope, Some(64.0));
        assert_eq!(r.iterations, 40);
        assert_eq!(r.warmup, 10);
        assert_eq!(r.exit_code(), 1);
    }

    #[test]
    fn exit_codes() {
        let mut r = leaking_report();
        r.verdict = Verdict::Inconclusive;
        assert_eq!(r.exit_code(), 3);
        r.verdict = Verdict::Stable;
        assert_eq!(r.exit_code(), 0);
        r.failure = Some("panicked".into());
        assert_eq!(r.exit_code(), 4);
        assert!(!r.passed());
        for v in [Verdict::Stable, Verdict::Leaking, Verdict::Inconclusive] {
            let code = v.exit_code();
            assert!([exit::STABLE, exit::LEAKING, exit::INCONCLUSIVE].contains(&code));
        }
    }

    #[test]
    fn json_round_trips_with_lowercase_names() {
        let r = leaking_report();
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""verdict":"leaking""#), "{json}");
        assert!(json.contains(r#""resource":"fds""#), "{json}");
        assert!(json.contains(r#""slope_ci":[63.5,64.5]"#), "{json}");
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
