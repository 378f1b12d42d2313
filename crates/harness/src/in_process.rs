//! The `Harness` builder: run a closure N times, sample after each iteration, judge each series.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use leakproof_sample::ProbeError;
use leakproof_trend::TrendError;

use crate::engine::{Engine, Sampler, Settings, SettingsError, Stop, Workload};
use crate::env::{EnvError, Overrides, WARMUP_VAR};
use crate::samplers::own_opens::OwnOpenSites;
use crate::samplers::this_process::{HeapSampler, OwnFds, OwnRss, OwnThreads};
use crate::write_artifacts;
use leakproof_report::{Isolation, Probe, Report, Resource, RunConfig};

/// Default number of iterations of a run before any extension.
pub const DEFAULT_ITERATIONS: usize = 300;
/// Default ceiling on iterations when an Inconclusive run is extended, as a multiple of `iterations`.
pub const DEFAULT_EXTENSION_FACTOR: usize = 10;
/// Default time budget for extending a run.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(30);
/// Default number of iterations run with allocation-site capture on, after a failing run.
pub const DEFAULT_CAPTURE_ITERATIONS: usize = 40;

/// Which memory series to judge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MemoryProbe {
    /// Live heap bytes when `TrackingAlloc` is the global allocator, otherwise process RSS.
    #[default]
    Auto,
    /// Live heap bytes from `TrackingAlloc`; the run fails with [`HarnessError::HeapUnavailable`]
    /// when it is not installed.
    Heap,
    /// Process resident set size (page-quantized, noisy: needs more iterations or larger leaks).
    Rss,
}

/// Why a run could not produce a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// The settings are contradictory (e.g. one iteration).
    #[error("invalid harness configuration: {0}")]
    Settings(#[from] SettingsError),
    /// The async runtime could not be built.
    #[error("could not build a tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// `MemoryProbe::Heap` was asked for but `TrackingAlloc` is not the global allocator.
    #[error(
        "heap probe requested but TrackingAlloc is not the global allocator \
         (add `#[global_allocator] static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();`)"
    )]
    HeapUnavailable,
    /// The memory probe failed.
    #[error("memory probe failed: {0}")]
    Probe(#[from] ProbeError),
    /// The statistics rejected the series or the configuration.
    #[error("trend analysis failed: {0}")]
    Trend(#[from] TrendError),
    /// An environment override is not a valid value.
    #[error(transparent)]
    BadEnv(#[from] EnvError),
}

/// Runs a workload many times and judges its memory, file descriptors and threads.
///
/// ```
/// use leakproof_harness::Harness;
///
/// let report = Harness::new().name("vec_reuse").iterations(100).run(|| {
///     let v: Vec<u8> = Vec::with_capacity(64);
///     std::hint::black_box(v);
/// })?;
/// assert!(report.failure.is_none());
/// # Ok::<(), leakproof_harness::HarnessError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Harness {
    pub(crate) name: String,
    pub(crate) iterations: usize,
    pub(crate) warmup: Option<usize>,
    pub(crate) max_iterations: Option<usize>,
    pub(crate) time_budget: Duration,
    pub(crate) probe: MemoryProbe,
    pub(crate) track_resources: bool,
    pub(crate) capture_sites: bool,
    pub(crate) capture_iterations: usize,
    pub(crate) report_dir: Option<PathBuf>,
    /// Said first in the report's notes (how the test runner isolated the run).
    pub(crate) context_note: Option<String>,
    /// How the run is isolated, recorded in the report's configuration.
    pub(crate) isolation: Isolation,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// Defaults: 300 iterations, automatic warm-up, extension up to 10× while Inconclusive within
    /// 30 s, automatic memory probe, fds and threads tracked, sites captured on failure.
    pub fn new() -> Self {
        Harness {
            name: "workload".to_owned(),
            iterations: DEFAULT_ITERATIONS,
            warmup: None,
            max_iterations: None,
            time_budget: DEFAULT_TIME_BUDGET,
            probe: MemoryProbe::Auto,
            track_resources: true,
            capture_sites: true,
            capture_iterations: DEFAULT_CAPTURE_ITERATIONS,
            report_dir: None,
            context_note: None,
            isolation: Isolation::InProcess,
        }
    }

    /// Name used in the report and for artifacts in the report directory.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Iterations before any extension (default 300).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations;
        self
    }

    /// Fixed number of warm-up iterations excluded from the trend (default: detected).
    pub fn warmup(mut self, warmup: usize) -> Self {
        self.warmup = Some(warmup);
        self
    }

    /// Ceiling for extending an Inconclusive run (default 10 × `iterations`; `iterations` or less
    /// disables extension).
    pub fn max_iterations(mut self, max_iterations: usize) -> Self {
        self.max_iterations = Some(max_iterations);
        self
    }

    /// Wall-time budget after which an Inconclusive run is not extended further (default 30 s).
    pub fn time_budget(mut self, budget: Duration) -> Self {
        self.time_budget = budget;
        self
    }

    /// Which memory series to judge (default [`MemoryProbe::Auto`]).
    pub fn probe(mut self, probe: MemoryProbe) -> Self {
        self.probe = probe;
        self
    }

    /// Track open file descriptors and live threads beside memory (default on).
    pub fn track_resources(mut self, on: bool) -> Self {
        self.track_resources = on;
        self
    }

    /// On failure, re-run the workload with allocation-site capture to find where memory grew
    /// (default on; needs `TrackingAlloc` for sites, lists new fds and threads without it).
    pub fn capture_sites(mut self, on: bool) -> Self {
        self.capture_sites = on;
        self
    }

    /// Iterations of the capture phase (default 40).
    pub fn capture_iterations(mut self, iterations: usize) -> Self {
        self.capture_iterations = iterations;
        self
    }

    /// Directory for `<name>.json` and `<name>.svg` artifacts; failing to write is a warning only.
    pub fn report_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.report_dir = Some(dir.into());
        self
    }

    /// Apply `LEAKPROOF_ITERATIONS`, `LEAKPROOF_WARMUP` and `LEAKPROOF_REPORT_DIR` from the
    /// environment over the current settings.
    pub fn env_overrides(self) -> Result<Self, HarnessError> {
        self.apply_env(|var| std::env::var(var).ok())
    }

    /// Applies the overrides found by `get` (a lookup of environment variables).
    pub(crate) fn apply_env(
        mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, HarnessError> {
        let overrides = Overrides::read(get)?;
        if let Some(n) = overrides.iterations {
            self.iterations = n;
            self.max_iterations = self.max_iterations.map(|max| max.max(n));
            self.warmup = self.warmup.filter(|&w| w < n);
        }
        if let Some((w, value)) = overrides.warmup {
            if w >= self.iterations {
                let expected = "number of warm-up iterations smaller than the iterations";
                return Err(crate::env::bad(WARMUP_VAR, &value, expected).into());
            }
            self.warmup = Some(w);
        }
        if let Some(dir) = overrides.report_dir {
            self.report_dir = Some(dir);
        }
        Ok(self)
    }

    fn ceiling(&self) -> usize {
        self.max_iterations
            .unwrap_or(self.iterations.saturating_mul(DEFAULT_EXTENSION_FACTOR))
            .max(self.iterations)
    }

    /// The settings of this harness as recorded in a report, with the resources tracked.
    pub(crate) fn run_config(&self, resources: Vec<Resource>) -> RunConfig {
        RunConfig {
            iterations: self.iterations,
            warmup: self.warmup,
            max_iterations: self.ceiling(),
            time_budget_secs: Some(self.time_budget.as_secs_f64()),
            probe: match self.probe {
                MemoryProbe::Auto => Probe::Auto,
                MemoryProbe::Heap => Probe::Heap,
                MemoryProbe::Rss => Probe::Rss,
            },
            resources,
            capture_sites: self.capture_sites,
            isolation: self.isolation,
            interval_secs: None,
        }
    }

    /// The settings of a run, validated.
    fn settings(&self) -> Result<Settings, SettingsError> {
        Settings::new(
            self.iterations,
            self.warmup,
            self.ceiling(),
            Some(self.time_budget),
            self.capture_iterations,
        )
    }

    /// Run `f` repeatedly, sampling after each iteration, and judge every tracked series.
    ///
    /// A workload that panics gives `Ok` with [`Report::failure`] set to its panic message (exit
    /// code 4), and the samples taken before it judged when there are enough. Errors are for runs
    /// that could not measure at all.
    pub fn run<F: FnMut()>(&self, f: F) -> Result<Report, HarnessError> {
        self.run_with_memory(None, f)
    }

    /// [`Harness::run`] judging `agent`'s heap instead of this process's heap or RSS: a heap the
    /// caller measures in this process, such as the Python package's traced heap of the test's
    /// interpreter (a [`leakproof_agents::Descriptor::in_process`] row). Its growing sites come
    /// from two of its pictures; the fds and threads are this process's.
    pub fn run_with_agent<F: FnMut()>(
        &self,
        agent: Box<dyn leakproof_agents::Agent + '_>,
        f: F,
    ) -> Result<Report, HarnessError> {
        let sampler = crate::samplers::agent::AgentSampler::new(agent);
        let probe = match sampler.resource() {
            Resource::AgentHeap(heap) => Probe::Agent(heap),
            _ => Probe::Auto,
        };
        self.run_with_memory(Some((Box::new(sampler), probe)), f)
    }

    /// [`Harness::run`] with `memory` (a sampler and the probe it records) judged instead of this
    /// process's heap or RSS, when given.
    pub(crate) fn run_with_memory<'s, F: FnMut()>(
        &self,
        memory: Option<(Box<dyn Sampler + 's>, Probe)>,
        mut f: F,
    ) -> Result<Report, HarnessError> {
        let mut engine = Engine::new(self.settings()?);
        if let Some(note) = &self.context_note {
            engine.note(note.clone());
        }
        let probe = memory.as_ref().map(|(_, probe)| *probe);
        self.add_samplers(&mut engine, memory.map(|(sampler, _)| sampler))?;
        let mut config = self.run_config(engine.resources());
        config.probe = probe.unwrap_or(config.probe);
        let mut workload = Closure(&mut f);
        let report = engine.run(&self.name, config, &mut workload, &mut |_| {})?;
        if let Some(dir) = &self.report_dir {
            if let Err(e) = write_artifacts(&report, dir, &artifact_stem(&self.name)) {
                eprintln!(
                    "warning: leakproof: could not write the report of `{}` to {}: {e}",
                    self.name,
                    dir.display()
                );
            }
        }
        Ok(report)
    }

    /// Run an async workload: a current-thread tokio runtime is built before the measured loop
    /// (its lazy start-up falls in the warm-up) and each iteration blocks on one future.
    #[cfg(feature = "tokio")]
    pub fn run_async<F, Fut>(&self, mut f: F) -> Result<Report, HarnessError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(HarnessError::Runtime)?;
        self.run(|| runtime.block_on(f()))
    }

    /// The memory sampler (required: `memory` when given, else this process's own), then fds and
    /// threads (dropped with a note when they fail).
    fn add_samplers<'s>(
        &self,
        engine: &mut Engine<'s>,
        memory: Option<Box<dyn Sampler + 's>>,
    ) -> Result<(), HarnessError> {
        let locate = self.capture_sites;
        let memory = match memory {
            Some(memory) => memory,
            None => self.own_memory(engine)?,
        };
        engine.sampler(memory, true);
        if !self.track_resources {
            engine.note("file descriptors and threads not tracked (resources = false)");
            return Ok(());
        }
        match OwnFds::new(locate) {
            Ok(s) => engine.sampler(Box::new(s), false),
            Err(e) => engine.note(format!("open file descriptors not tracked: {e}")),
        }
        match OwnThreads::new(locate) {
            Ok(s) => engine.sampler(Box::new(s), false),
            Err(e) => engine.note(format!("threads not tracked: {e}")),
        }
        if let Some(s) = OwnOpenSites::from_env(locate) {
            engine.sampler(Box::new(s), false);
        }
        Ok(())
    }

    /// This process's memory sampler: its heap with `TrackingAlloc`, else its RSS.
    fn own_memory(&self, engine: &mut Engine) -> Result<Box<dyn Sampler>, HarnessError> {
        let locate = self.capture_sites;
        let memory: Box<dyn Sampler> = match (self.probe, leakproof_sample::is_tracking()) {
            (MemoryProbe::Heap, false) => return Err(HarnessError::HeapUnavailable),
            (MemoryProbe::Heap | MemoryProbe::Auto, true) => Box::new(HeapSampler::new(locate)),
            (MemoryProbe::Auto, false) => {
                engine.note(
                    "TrackingAlloc is not the global allocator: judged on process RSS, which is \
                     page-quantized and noisy (small leaks need many iterations), and a leak can \
                     fill memory freed earlier without moving RSS, so Stable here is weaker \
                     evidence; install TrackingAlloc for exact heap counts and allocation sites",
                );
                Box::new(OwnRss::new("process RSS (TrackingAlloc not installed)")?)
            }
            (MemoryProbe::Rss, _) => Box::new(OwnRss::new("process RSS")?),
        };
        Ok(memory)
    }
}

/// A closure as the engine's workload: a panic fails the run with its message.
struct Closure<'f, F>(&'f mut F);

impl<F: FnMut()> Workload for Closure<'_, F> {
    fn iterate(&mut self, iteration: usize) -> Result<(), Stop> {
        run_once(self.0).map_err(|message| {
            Stop::Failed(format!("panicked in iteration {iteration}: {message}"))
        })
    }
}

/// A file name stem for a test name: `::` becomes `__`, anything unusual becomes `_`.
pub(crate) fn artifact_stem(name: &str) -> String {
    name.replace("::", "__")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Run one iteration, turning a panic into its message.
pub(crate) fn run_once<F: FnMut()>(f: &mut F) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(payload.as_ref()))
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_apply() {
        let env = crate::env::env;
        let h = Harness::new()
            .iterations(100)
            .max_iterations(200)
            .warmup(150)
            .apply_env(env(&[
                ("LEAKPROOF_ITERATIONS", "500"),
                ("LEAKPROOF_REPORT_DIR", "/tmp/r"),
            ]))
            .unwrap();
        assert_eq!((h.iterations, h.max_iterations), (500, Some(500)));
        assert_eq!(h.warmup, Some(150));
        let h = Harness::new().iterations(100).warmup(60);
        let h = h.apply_env(env(&[("LEAKPROOF_ITERATIONS", "50")])).unwrap();
        assert_eq!(
            h.warmup, None,
            "a warm-up longer than the new run is dropped"
        );
        assert_eq!(h.report_dir, None);
        let err = Harness::new()
            .apply_env(env(&[("LEAKPROOF_WARMUP", "400")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("LEAKPROOF_WARMUP=\"400\""),
            "{err}"
        );
    }

    #[test]
    fn stems_are_file_names() {
        assert_eq!(artifact_stem("tests::cache::grows"), "tests__cache__grows");
        assert_eq!(artifact_stem("a b/c"), "a_b_c");
    }

    #[test]
    fn bad_configs_are_errors() {
        let err = Harness::new().iterations(1).run(|| {}).unwrap_err();
        assert!(
            matches!(
                err,
                HarnessError::Settings(SettingsError::TooFewIterations(1))
            ),
            "{err}"
        );
        let err = Harness::new()
            .iterations(10)
            .warmup(10)
            .run(|| {})
            .unwrap_err();
        assert!(
            matches!(
                err,
                HarnessError::Settings(SettingsError::WarmupTooLong { .. })
            ),
            "{err}"
        );
    }

    #[test]
    fn a_panicking_workload_reports_its_message() {
        let mut n = 0;
        let report = Harness::new()
            .iterations(20)
            .run(|| {
                n += 1;
                if n == 3 {
                    panic!("boom at three");
                }
            })
            .unwrap();
        let failure = report.failure.as_deref().unwrap_or_default();
        assert!(failure.contains("boom at three"), "{failure}");
        assert!(failure.contains("iteration 3"), "{failure}");
        assert_eq!(report.exit_code(), 4);
    }

    #[test]
    fn the_report_carries_its_configuration() {
        let report = Harness::new()
            .iterations(20)
            .warmup(3)
            .max_iterations(60)
            .time_budget(Duration::from_secs(5))
            .probe(MemoryProbe::Rss)
            .capture_sites(false)
            .run(|| {})
            .unwrap();
        let c = &report.config;
        assert_eq!(c.iterations, 20);
        assert_eq!(c.warmup, Some(3));
        assert_eq!(c.max_iterations, 60);
        assert_eq!(c.time_budget_secs, Some(5.0));
        assert_eq!(c.probe, Probe::Rss);
        assert_eq!(
            c.resources,
            [Resource::Rss, Resource::Fds, Resource::Threads]
        );
        assert!(!c.capture_sites);
        assert_eq!(c.isolation, Isolation::InProcess);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["config"]["isolation"], "in-process");
        assert_eq!(json["config"]["resources"][0], "rss");
    }

    #[test]
    fn ceiling_defaults_to_ten_times() {
        assert_eq!(Harness::new().iterations(50).ceiling(), 500);
        assert_eq!(
            Harness::new().iterations(50).max_iterations(10).ceiling(),
            50
        );
    }
}
