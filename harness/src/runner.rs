//! The `Harness` builder: run a closure N times, sample after each iteration, judge each series.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use leakproof_sample::{FdProbe, Probe, ProbeError, RssProbe, ThreadProbe};
use leakproof_trend::{analyze, Config, TrendError, Verdict, Warmup};

use crate::report::{Isolation, Report, Resource, ResourceReport, RunConfig};
use crate::settle::reread_while_up;

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
pub enum HarnessError {
    /// The configuration is contradictory (e.g. zero iterations).
    #[error("invalid harness configuration: {0}")]
    InvalidConfig(String),
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
    #[error("environment variable {var}={value:?} is not a valid {expected}")]
    BadEnv {
        /// The variable, e.g. `LEAKPROOF_ITERATIONS`.
        var: &'static str,
        /// Its value.
        value: String,
        /// What was expected, e.g. `number of iterations`.
        expected: &'static str,
    },
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
        crate::env::apply(self, |var| std::env::var(var).ok())
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
                MemoryProbe::Auto => "auto",
                MemoryProbe::Heap => "heap",
                MemoryProbe::Rss => "rss",
            }
            .to_owned(),
            resources,
            capture_sites: self.capture_sites,
            isolation: self.isolation,
        }
    }

    fn config_for(&self, resource: Resource) -> Config {
        let config = match resource {
            Resource::Heap => Config::heap(),
            Resource::Rss => Config::rss(),
            Resource::Fds | Resource::Threads => Config::counts(),
        };
        match self.warmup {
            Some(w) => config.with_warmup(Warmup::Fixed(w)),
            None => config,
        }
    }

    /// Run `f` repeatedly, sampling after each iteration, and judge every tracked series.
    ///
    /// A workload that panics gives `Ok` with [`Report::failure`] set to its panic message (exit
    /// code 4): the verdict is void then. Errors are for runs that could not measure at all.
    pub fn run<F: FnMut()>(&self, mut f: F) -> Result<Report, HarnessError> {
        if self.iterations < 2 {
            return Err(HarnessError::InvalidConfig(format!(
                "iterations must be at least 2, got {}",
                self.iterations
            )));
        }
        if let Some(w) = self.warmup {
            if w >= self.iterations {
                return Err(HarnessError::InvalidConfig(format!(
                    "warm-up ({w}) must be smaller than iterations ({})",
                    self.iterations
                )));
            }
        }
        let ceiling = self.ceiling();
        let mut notes: Vec<String> = self.context_note.iter().cloned().collect();
        let mut series = self.open_series(ceiling, &mut notes)?;
        let config = self.run_config(series.iter().map(|s| s.resource).collect());

        // Nothing in the measured loop may keep memory of its own: extensions are recorded in a
        // vector reserved up front and turned into notes after the loop.
        let mut extensions: Vec<(usize, usize)> = Vec::with_capacity(64);
        let mut stopped: Option<Stop> = None;
        let started = Instant::now();
        let mut done = 0usize;
        let mut target = self.iterations;
        let analyses = loop {
            while done < target {
                if let Err(message) = run_once(&mut f) {
                    let mut report = Report::failed(
                        &self.name,
                        format!("panicked in iteration {}: {message}", done + 1),
                    );
                    report.iterations = done;
                    report.config = config;
                    report.notes = notes;
                    return Ok(report);
                }
                done += 1;
                sample_all(&mut series, &mut notes)?;
            }
            let analyses = series
                .iter()
                .map(|s| analyze(&s.samples, &self.config_for(s.resource)))
                .collect::<Result<Vec<_>, _>>()?;
            let wanted = analyses
                .iter()
                .filter(|a| a.verdict == Verdict::Inconclusive)
                .filter_map(|a| a.more_samples)
                .max();
            let Some(wanted) = wanted else { break analyses };
            let next = done.saturating_add(wanted.max(1)).min(ceiling);
            if next <= done {
                stopped = Some(Stop::Ceiling);
                break analyses;
            }
            let elapsed = started.elapsed();
            let per_iteration = elapsed.as_secs_f64() / done as f64;
            let room = self.time_budget.as_secs_f64() - elapsed.as_secs_f64();
            let affordable = if per_iteration > 0.0 {
                (room / per_iteration).floor().max(0.0) as usize
            } else {
                usize::MAX
            };
            let next = next.min(done.saturating_add(affordable));
            if next <= done || extensions.len() == extensions.capacity() {
                stopped = Some(Stop::Budget);
                break analyses;
            }
            extensions.push((done, next));
            target = next;
        };
        for (from, to) in extensions {
            notes.push(format!(
                "inconclusive after {from} iterations: extended to {to}"
            ));
        }
        match stopped {
            Some(Stop::Ceiling) => notes.push(format!(
                "still inconclusive at the ceiling of {ceiling} iterations (max_iterations)"
            )),
            Some(Stop::Budget) => notes.push(format!(
                "still inconclusive when the time budget of {:.0} s ran out",
                self.time_budget.as_secs_f64()
            )),
            None => {}
        }
        let duration = started.elapsed().as_secs_f64();

        let resources: Vec<ResourceReport> = series
            .into_iter()
            .zip(analyses)
            .map(|(s, analysis)| ResourceReport {
                resource: s.resource,
                source: s.source,
                samples: s.samples,
                analysis,
                detail: None,
            })
            .collect();
        let mut report = Report::from_resources(&self.name, resources, duration);
        report.config = config;
        report.notes = notes;
        if !report.passed() && self.capture_sites {
            crate::capture::second_phase(self, &mut f, &mut report);
        }
        if let Some(dir) = &self.report_dir {
            if let Err(e) = report.write_artifacts(dir, &artifact_stem(&self.name)) {
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
            .map_err(|e| {
                HarnessError::InvalidConfig(format!("could not build a tokio runtime: {e}"))
            })?;
        self.run(|| runtime.block_on(f()))
    }

    fn open_series(
        &self,
        capacity: usize,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Series>, HarnessError> {
        let mut series = Vec::with_capacity(3);
        let tracking = leakproof_sample::is_tracking();
        let memory = match (self.probe, tracking) {
            (MemoryProbe::Heap, false) => return Err(HarnessError::HeapUnavailable),
            (MemoryProbe::Heap, true) | (MemoryProbe::Auto, true) => Series::new(
                Resource::Heap,
                "live heap bytes (TrackingAlloc)",
                capacity,
                Sampler::Heap,
            ),
            (MemoryProbe::Auto, false) => {
                notes.push(
                    "TrackingAlloc is not the global allocator: judged on process RSS, which is \
                     page-quantized and noisy (small leaks need many iterations), and a leak can \
                     fill memory freed earlier without moving RSS, so Stable here is weaker \
                     evidence; install TrackingAlloc for exact heap counts and allocation sites"
                        .to_owned(),
                );
                Series::new(
                    Resource::Rss,
                    "process RSS (TrackingAlloc not installed)",
                    capacity,
                    Sampler::Probe(Box::new(RssProbe::this_process()?)),
                )
            }
            (MemoryProbe::Rss, _) => Series::new(
                Resource::Rss,
                "process RSS",
                capacity,
                Sampler::Probe(Box::new(RssProbe::this_process()?)),
            ),
        };
        series.push(memory);
        if self.track_resources {
            match FdProbe::this_process() {
                Ok(p) => series.push(Series::new(
                    Resource::Fds,
                    "open file descriptors",
                    capacity,
                    Sampler::Probe(Box::new(p)),
                )),
                Err(e) => notes.push(format!("open file descriptors not tracked: {e}")),
            }
            match ThreadProbe::this_process() {
                Ok(p) => series.push(Series::new(
                    Resource::Threads,
                    "live threads",
                    capacity,
                    Sampler::Probe(Box::new(p)),
                )),
                Err(e) => notes.push(format!("threads not tracked: {e}")),
            }
        } else {
            notes.push("file descriptors and threads not tracked (resources = false)".to_owned());
        }
        Ok(series)
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

/// Why an Inconclusive run was not extended further.
enum Stop {
    Ceiling,
    Budget,
}

enum Sampler {
    Heap,
    Probe(Box<dyn Probe>),
}

struct Series {
    resource: Resource,
    source: String,
    samples: Vec<f64>,
    sampler: Sampler,
    /// Time left for re-reading this series when it rose (see [`SETTLE_PAUSES`]).
    settle_left: Duration,
    /// Time left for re-reads that found the rise still there (see [`FUTILE_SETTLE_BUDGET`]).
    futile_left: Duration,
}

impl Series {
    fn new(resource: Resource, source: &str, capacity: usize, sampler: Sampler) -> Series {
        Series {
            resource,
            source: source.to_owned(),
            // Reserved up front: growing these vectors inside the loop would show up on the heap.
            samples: Vec::with_capacity(capacity),
            sampler,
            settle_left: SETTLE_BUDGET,
            futile_left: FUTILE_SETTLE_BUDGET,
        }
    }

    /// Reads the sampler once.
    fn read(&mut self) -> Result<f64, ProbeError> {
        match &mut self.sampler {
            Sampler::Heap => Ok(leakproof_sample::heap_stats().live_bytes as f64),
            Sampler::Probe(p) => p.sample().map(|sample| sample.value),
        }
    }

    /// Whether a rise in this series is re-read before it is recorded: live heap bytes, fds and
    /// threads. Not RSS: RSS that rose and fell back is memory the workload really used.
    fn settles(&self) -> bool {
        !matches!(self.resource, Resource::Rss)
    }
}

/// Pauses before re-reading a series that rose since the previous sample (the first is a bare
/// yield); the lowest read is kept, and re-reading stops as soon as the value is back. Work the
/// iteration handed to other threads can still be finishing when it returns: a pool worker
/// dropping a job's buffer or a channel block, a joined thread the kernel still lists (it is
/// removed when the exiting thread next runs). On a loaded machine that takes milliseconds, and
/// such one-sample blips would otherwise read as growth or as a warm-up that never ends. A leaked
/// block, descriptor or thread is still there on every re-read.
const SETTLE_PAUSES: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(5),
];

/// Most time one run spends re-reading one series. Blips mostly clear on the first re-read, so
/// this covers hundreds of them.
const SETTLE_BUDGET: Duration = Duration::from_secs(1);

/// Most time one run spends on re-reads of one series that found the rise still there: a real
/// leak that grows on every iteration would otherwise pay every pause on every iteration. A
/// leaking test pays this once per growing series (about +0.1 s).
const FUTILE_SETTLE_BUDGET: Duration = Duration::from_millis(100);

/// Sample every series, memory first. A failing fd or thread probe drops that series with a note;
/// a failing memory probe is an error.
fn sample_all(series: &mut Vec<Series>, notes: &mut Vec<String>) -> Result<(), HarnessError> {
    let mut i = 0;
    while i < series.len() {
        match settled_read(&mut series[i]) {
            Ok(v) => {
                series[i].samples.push(v);
                i += 1;
            }
            Err(e) if i == 0 => return Err(e.into()),
            Err(e) => {
                notes.push(format!("{} no longer tracked: {e}", series[i].resource));
                series.remove(i);
            }
        }
    }
    Ok(())
}

/// One sample of `s`: a read, and if it rose above the previous sample, the lowest of up to four
/// re-reads after [`SETTLE_PAUSES`] while the series' settle budget lasts.
fn settled_read(s: &mut Series) -> Result<f64, ProbeError> {
    let value = s.read()?;
    let Some(previous) = s.samples.last().copied().filter(|_| s.settles()) else {
        return Ok(value);
    };
    if value <= previous || s.settle_left.is_zero() || s.futile_left.is_zero() {
        return Ok(value);
    }
    let started = Instant::now();
    let value = reread_while_up(
        value,
        &SETTLE_PAUSES,
        |v| *v > previous,
        || s.read(),
        f64::min,
    )?;
    let spent = started.elapsed();
    s.settle_left = s.settle_left.saturating_sub(spent);
    if value > previous {
        s.futile_left = s.futile_left.saturating_sub(spent);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe that returns the given values in turn (the last one forever).
    struct Scripted(Vec<f64>);

    impl Probe for Scripted {
        fn sample(&mut self) -> Result<leakproof_sample::Sample, ProbeError> {
            let value = if self.0.len() > 1 {
                self.0.remove(0)
            } else {
                self.0[0]
            };
            Ok(leakproof_sample::Sample {
                value,
                unit: leakproof_sample::Unit::Count,
            })
        }
    }

    fn scripted(resource: Resource, previous: f64, reads: &[f64]) -> Series {
        let mut s = Series::new(
            resource,
            "scripted",
            4,
            Sampler::Probe(Box::new(Scripted(reads.to_vec()))),
        );
        s.samples.push(previous);
        s
    }

    #[test]
    fn a_rise_that_falls_back_on_a_re_read_is_not_growth() {
        // A joined thread still listed on the first read, gone on the second re-read.
        let mut s = scripted(Resource::Threads, 2.0, &[3.0, 3.0, 2.0]);
        assert_eq!(settled_read(&mut s).unwrap(), 2.0);
        // A count that stays up is kept (that is what a leak looks like) and costs budget.
        let mut s = scripted(Resource::Fds, 2.0, &[3.0]);
        assert_eq!(settled_read(&mut s).unwrap(), 3.0);
        assert!(s.settle_left < SETTLE_BUDGET, "the re-reads were paid for");
        assert!(
            s.futile_left < FUTILE_SETTLE_BUDGET,
            "and found the rise real"
        );
        let mut s = scripted(Resource::Heap, 100.0, &[200.0, 100.0]);
        assert_eq!(settled_read(&mut s).unwrap(), 100.0);
        assert_eq!(
            s.futile_left, FUTILE_SETTLE_BUDGET,
            "a blip that cleared is not futile"
        );
        // Flat or falling values are not re-read; neither is RSS.
        let mut s = scripted(Resource::Threads, 2.0, &[2.0, 0.0]);
        assert_eq!(settled_read(&mut s).unwrap(), 2.0);
        let mut s = scripted(Resource::Rss, 100.0, &[200.0, 100.0]);
        assert_eq!(settled_read(&mut s).unwrap(), 200.0);
        // The first sample has nothing to compare with.
        let mut s = scripted(Resource::Threads, 0.0, &[5.0, 1.0]);
        s.samples.clear();
        assert_eq!(settled_read(&mut s).unwrap(), 5.0);
    }

    #[test]
    fn re_reads_stop_when_the_budget_is_spent() {
        let mut s = scripted(Resource::Threads, 2.0, &[3.0, 2.0]);
        s.settle_left = Duration::ZERO;
        assert_eq!(settled_read(&mut s).unwrap(), 3.0);
        // A series whose rises kept being real stops being re-read sooner.
        let mut s = scripted(Resource::Threads, 2.0, &[3.0, 2.0]);
        s.futile_left = Duration::ZERO;
        assert_eq!(settled_read(&mut s).unwrap(), 3.0);
    }

    #[test]
    fn stems_are_file_names() {
        assert_eq!(artifact_stem("tests::cache::grows"), "tests__cache__grows");
        assert_eq!(artifact_stem("a b/c"), "a_b_c");
    }

    #[test]
    fn bad_configs_are_errors() {
        let err = Harness::new().iterations(1).run(|| {}).unwrap_err();
        assert!(matches!(err, HarnessError::InvalidConfig(_)), "{err}");
        let err = Harness::new()
            .iterations(10)
            .warmup(10)
            .run(|| {})
            .unwrap_err();
        assert!(matches!(err, HarnessError::InvalidConfig(_)), "{err}");
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
        assert_eq!(c.probe, "rss");
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
