//! The result of a leak run: what was measured, the verdict per resource, and where memory grew.

use std::fmt::Write as _;
use std::path::Path;

use leakproof_diff::StatDiff;
use leakproof_trend::{Analysis, Verdict};
use serde::{Deserialize, Serialize};

use crate::chart::text_chart;
use crate::format::{format_bytes_f64, format_slope, verdict_word};

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
            format_bytes_f64(value, false)
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
    /// The memory probe asked for: `auto`, `heap` or `rss` in-process, `tree-rss` for a target.
    pub probe: String,
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
pub const SCHEMA_VERSION: u32 = 1;

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
    /// Slope of the primary memory series, in bytes per iteration.
    pub slope: f64,
    /// Confidence interval of `slope`.
    pub slope_ci: (f64, f64),
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
    /// Remarks for people: which probe and why, extensions, what was not tracked.
    pub notes: Vec<String>,
    /// The workload (or target) failed: its panic message or exit status. The verdict is void then.
    pub failure: Option<String>,
    /// A ceiling crossed, which ended the run (exit code 1 whatever the verdict).
    #[serde(default)]
    pub breach: Option<Breach>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// The worse of two verdicts: Leaking > Inconclusive > Stable.
pub fn worst(a: Verdict, b: Verdict) -> Verdict {
    fn rank(v: Verdict) -> u8 {
        match v {
            Verdict::Stable => 0,
            Verdict::Inconclusive => 1,
            Verdict::Leaking => 2,
        }
    }
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

impl Report {
    /// Build a report from resource series (memory first); the overall verdict and the primary
    /// slope are derived from them.
    pub fn from_resources(
        name: impl Into<String>,
        resources: Vec<ResourceReport>,
        duration_secs: f64,
    ) -> Report {
        let verdict = resources
            .iter()
            .map(|r| r.analysis.verdict)
            .fold(Verdict::Stable, worst);
        let primary = resources.first();
        Report {
            schema: SCHEMA_VERSION,
            name: name.into(),
            verdict,
            slope: primary.map_or(0.0, |r| r.analysis.slope),
            slope_ci: primary.map_or((0.0, 0.0), |r| r.analysis.slope_ci),
            samples: primary.map_or_else(Vec::new, |r| r.samples.clone()),
            iterations: primary.map_or(0, |r| r.samples.len()),
            warmup: primary.map_or(0, |r| r.analysis.warmup_end),
            resources,
            duration_secs,
            config: RunConfig::default(),
            sites: Vec::new(),
            notes: Vec::new(),
            failure: None,
            breach: None,
        }
    }

    /// A report of `iterations` that were too few to judge (no resources, verdict Inconclusive).
    pub(crate) fn unjudged(name: &str, iterations: usize, duration_secs: f64) -> Report {
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
            slope: 0.0,
            slope_ci: (0.0, 0.0),
            samples: Vec::new(),
            resources: Vec::new(),
            iterations: 0,
            warmup: 0,
            duration_secs: 0.0,
            config: RunConfig::default(),
            sites: Vec::new(),
            notes: Vec::new(),
            failure: Some(failure.into()),
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

    /// Process exit code for this report: 0 Stable, 1 Leaking (or a ceiling crossed), 3
    /// Inconclusive, 4 the workload failed.
    pub fn exit_code(&self) -> u8 {
        if self.failure.is_some() {
            return 4;
        }
        if self.breach.is_some() {
            return 1;
        }
        match self.verdict {
            Verdict::Stable => 0,
            Verdict::Leaking => 1,
            Verdict::Inconclusive => 3,
        }
    }

    /// The report for people: verdict, per-resource slopes with confidence intervals, iterations and
    /// warm-up, a text chart of every resource that is not stable (or of memory when all are), the
    /// growing allocation sites, and notes.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if let Some(failure) = &self.failure {
            let _ = writeln!(out, "{}: the workload failed: {failure}", self.subject());
            for note in &self.notes {
                let _ = writeln!(out, "  note: {note}");
            }
            return out;
        }
        let grew: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| r.analysis.verdict != Verdict::Stable)
            .map(|r| r.resource.name())
            .collect();
        let _ = write!(
            out,
            "{}: {}",
            self.subject(),
            verdict_word(self.verdict).to_uppercase()
        );
        if !grew.is_empty() {
            let _ = write!(out, " ({})", grew.join(", "));
        }
        out.push('\n');
        let width = self
            .resources
            .iter()
            .map(|r| r.resource.name().len())
            .max()
            .unwrap_or(4);
        let steps = Steps::of(&self.config);
        for r in &self.resources {
            let a = &r.analysis;
            let _ = writeln!(
                out,
                "  {:<width$}  {:<12}  {}/{} (95% CI {} .. {})  [{}]",
                r.resource.name(),
                verdict_word(a.verdict),
                format_slope(r.resource, a.slope / steps.scale),
                steps.per,
                format_slope(r.resource, a.slope_ci.0 / steps.scale),
                format_slope(r.resource, a.slope_ci.1 / steps.scale),
                r.source,
            );
        }
        let _ = writeln!(
            out,
            "  {}s: {} (warm-up: {}), {:.2} s",
            steps.noun, self.iterations, self.warmup, self.duration_secs
        );
        for r in &self.resources {
            if r.analysis.verdict != Verdict::Stable {
                let _ = writeln!(out, "  why ({}): {}", r.resource, why(r, steps));
            }
        }
        if self.verdict == Verdict::Inconclusive {
            let how = if self.config.isolation == Isolation::Target {
                "`-n N` / `--max-iterations M`, or `Drive::iterations` / `Drive::max_iterations`"
            } else {
                "LEAKPROOF_ITERATIONS=N, or `iterations = N` / `max_iterations = N` on the test"
            };
            let _ = writeln!(
                out,
                "  to decide it: run more iterations ({how}), or make each iteration's work steadier"
            );
        }

        let charted: Vec<&ResourceReport> = {
            let bad: Vec<&ResourceReport> = self
                .resources
                .iter()
                .filter(|r| r.analysis.verdict != Verdict::Stable)
                .collect();
            if bad.is_empty() {
                self.resources.iter().take(1).collect()
            } else {
                bad
            }
        };
        for r in charted {
            out.push('\n');
            let _ = writeln!(
                out,
                "{} after each iteration ({} samples; '.' = warm-up):",
                r.resource,
                r.samples.len()
            );
            out.push_str(&labelled_chart(r, 60, 6));
            if let Some(detail) = &r.detail {
                out.push('\n');
                out.push_str(detail.trim_end());
                out.push('\n');
            }
        }
        if !self.sites.is_empty() {
            out.push('\n');
            let _ = writeln!(out, "growing allocation sites (user frame first):");
            for (i, site) in self.sites.iter().enumerate() {
                render_site(&mut out, i + 1, site);
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "note: {note}");
            }
        }
        out
    }

    /// What the report is about: ``leak test `name` `` or, for a driven process, ``target `cmd` ``.
    fn subject(&self) -> String {
        let kind = if self.config.isolation == Isolation::Target {
            "target"
        } else {
            "leak test"
        };
        format!("{kind} `{}`", self.name)
    }

    /// An SVG chart: one panel per resource with the samples, the warm-up shaded and the fitted
    /// slope drawn over the part after the warm-up.
    pub fn render_svg(&self) -> String {
        crate::svg::render(self)
    }

    /// Write `<stem>.json` and `<stem>.svg` into `dir` (created if missing), each atomically: a
    /// temporary file in `dir`, then a rename.
    pub fn write_artifacts(&self, dir: &Path, stem: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&dir.join(format!("{stem}.json")), json.as_bytes())?;
        write_atomic(
            &dir.join(format!("{stem}.svg")),
            self.render_svg().as_bytes(),
        )?;
        Ok(())
    }
}

/// Write `bytes` to `path` through a temporary file beside it and a rename, so readers never see a
/// partial file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A per-iteration rate in the resource's unit: `64.1 KiB`, `0.25 fds` (`+`/`-` with `signed`).
fn format_rate(resource: Resource, value: f64, signed: bool) -> String {
    if signed {
        format_slope(resource, value)
    } else if resource.is_memory() {
        format_bytes_f64(value, false)
    } else {
        format!("{value:.2} {}", resource.unit())
    }
}

/// Why a resource is not Stable, in its own unit, built from the analysis (leakproof-trend's
/// `reason` speaks of unit-neutral samples): the rate with its interval over the judged
/// iterations, the warm-up, and for an Inconclusive series the plateau seen and what would decide.
/// What one sample stands for in the text: an iteration, or a time interval (slopes per second).
#[derive(Clone, Copy)]
struct Steps {
    /// The unit of a slope's denominator: `iteration` or `s`.
    per: &'static str,
    /// What one sample is called: `iteration` or `sample`.
    noun: &'static str,
    /// Units of `per` in one sample.
    scale: f64,
}

impl Steps {
    fn of(config: &RunConfig) -> Steps {
        match config.interval_secs {
            Some(secs) if secs > 0.0 => Steps {
                per: "s",
                noun: "sample",
                scale: secs,
            },
            _ => Steps {
                per: "iteration",
                noun: "iteration",
                scale: 1.0,
            },
        }
    }
}

fn why(r: &ResourceReport, steps: Steps) -> String {
    let a = &r.analysis;
    let leaking = a.verdict == Verdict::Leaking;
    let rate = |v: f64| format_rate(r.resource, v / steps.scale, !leaking);
    let judged = a.samples.saturating_sub(a.warmup_end);
    let noun = steps.noun;
    let mut out = format!(
        "{}{}/{} ({:.0}% CI {} .. {}) over {judged} {noun}{}",
        if leaking { "grew " } else { "" },
        rate(a.slope),
        steps.per,
        a.confidence * 100.0,
        rate(a.slope_ci.0),
        rate(a.slope_ci.1),
        if judged == 1 { "" } else { "s" },
    );
    if a.warmup_end > 0 {
        let _ = write!(out, " after a {}-{noun} warm-up", a.warmup_end);
    }
    if let Some(cycles) = a.cycles {
        let _ = write!(
            out,
            ", judged on the low points of {cycles} saw-tooth cycles"
        );
    }
    if !leaking {
        if let Some(plateau) = &a.plateau {
            let _ = write!(
                out,
                "; flat at {} from {noun} {}",
                r.resource.format_value(plateau.level),
                plateau.start + 1
            );
        }
        if let Some(more) = a.more_samples {
            let _ = write!(out, "; about {more} more {noun}s would decide it");
        }
    }
    out
}

/// Frames shown after the user frame, at most.
const FRAMES_AFTER_USER: usize = 6;
/// Frames shown before (inside) the user frame, at most: the library call that allocated.
const FRAMES_BEFORE_USER: usize = 2;

/// One growing site: the user frame's `file:LINE` first, then the part of the traceback around it
/// (from the allocating library call out to the harness's closure call).
fn render_site(out: &mut String, rank: usize, site: &StatDiff) {
    let frames = &site.traceback;
    let place = site
        .user_frame
        .and_then(|u| frames.get(u))
        .map(display_location)
        .unwrap_or_else(|| site.key.clone());
    let each = if site.count_diff > 0 {
        format!(
            ", ~{} each",
            leakproof_diff::format_bytes((site.size_diff / site.count_diff).max(0) as u64)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  #{rank} {place}  {} in {:+} blocks{each}",
        leakproof_diff::format_bytes_signed(site.size_diff),
        site.count_diff,
    );
    let (start, end) = match site.user_frame {
        Some(u) => {
            // Outward from the user frame, keep the user's own callers; stop at the first frame
            // of the harness, the standard library or a dependency (e.g. an async runtime).
            let attribution = leakproof_diff::Attribution::new();
            let outer = frames
                .iter()
                .enumerate()
                .skip(u + 1)
                .find(|(_, f)| !attribution.is_user(f))
                .map_or(frames.len(), |(j, _)| j);
            (
                u.saturating_sub(FRAMES_BEFORE_USER),
                outer.min(u + 1 + FRAMES_AFTER_USER),
            )
        }
        None => (
            0,
            frames.len().min(FRAMES_BEFORE_USER + 1 + FRAMES_AFTER_USER),
        ),
    };
    for (j, frame) in frames.iter().enumerate().take(end).skip(start) {
        let marker = if site.user_frame == Some(j) {
            "->"
        } else {
            "  "
        };
        match (&frame.function, &frame.file) {
            (Some(function), Some(_)) => {
                let _ = writeln!(out, "     {marker} {function}  {}", display_location(frame));
            }
            _ => {
                let _ = writeln!(out, "     {marker} {}", display_location(frame));
            }
        }
    }
    if end < frames.len() {
        let _ = writeln!(out, "        ... {} outer frames", frames.len() - end);
    }
}

/// `file:line` with toolchain and registry prefixes cut and paths under the current directory made
/// relative, so the user's own line reads `src/cache.rs:42`.
fn display_location(frame: &leakproof_diff::Frame) -> String {
    let Some(file) = frame.file.as_deref() else {
        return frame.location();
    };
    let mut path = leakproof_diff::display_path(file);
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = Path::new(&path).strip_prefix(&cwd) {
            path = rel.display().to_string();
        }
    }
    match frame.line {
        Some(line) => format!("{path}:{line}"),
        None => path,
    }
}

/// A text chart with the largest and smallest value written at the left.
fn labelled_chart(r: &ResourceReport, width: usize, height: usize) -> String {
    let chart = text_chart(&r.samples, r.analysis.warmup_end, width, height);
    let (lo, hi) = r
        .samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
    let bottom = r.resource.format_value(lo);
    let mut top = r.resource.format_value(hi);
    if top == bottom && hi > lo {
        // A small rise on a large level: label the top by how far it is above the bottom.
        top = if r.resource.is_memory() {
            format_bytes_f64(hi - lo, true)
        } else {
            format!("+{:.0}", hi - lo)
        };
    }
    let label_width = top.len().max(bottom.len());
    let lines: Vec<&str> = chart.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let label = if i == 0 {
            top.as_str()
        } else if i + 1 == lines.len() {
            bottom.as_str()
        } else {
            ""
        };
        let _ = writeln!(out, "  {label:>label_width$} |{line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_diff::Frame;
    use leakproof_trend::{Plateau, TrendTest};

    fn analysis(
        verdict: Verdict,
        slope: f64,
        ci: (f64, f64),
        warmup_end: usize,
        n: usize,
    ) -> Analysis {
        Analysis {
            verdict,
            slope,
            slope_ci: ci,
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
            },
            ResourceReport {
                resource: Resource::Threads,
                source: "live threads".into(),
                samples: threads,
                analysis: analysis(Verdict::Stable, 0.0, (0.0, 0.0), 0, n),
                detail: None,
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
                Frame::at("run_once<F>", "harness/src/runner.rs", 404),
                Frame::at("main", "src/main.rs", 3),
            ],
            user_frame: Some(2),
        }];
        report.notes =
            vec!["allocation sites: growth over 40 more iterations with capture on".into()];
        report
    }

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
        assert_eq!(r.slope, 64.0);
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

    #[test]
    fn render_text_leaking() {
        insta::assert_snapshot!(leaking_report().render_text());
    }

    #[test]
    fn render_text_failed_workload() {
        let mut r = Report::failed("tests::parse", "panicked in iteration 3: bad input");
        r.notes.push("fds not tracked".into());
        insta::assert_snapshot!(r.render_text());
    }

    #[test]
    fn render_text_inconclusive_says_how_to_decide() {
        let mut r = leaking_report();
        r.resources.truncate(1);
        r.resources[0].analysis.verdict = Verdict::Inconclusive;
        r.resources[0].analysis.reason = "still climbing toward what may be a plateau".into();
        let r = Report::from_resources("tests::warming", r.resources, 1.5);
        let text = r.render_text();
        assert!(text.contains("INCONCLUSIVE (heap)"), "{text}");
        assert!(text.contains("LEAKPROOF_ITERATIONS"), "{text}");
    }

    #[test]
    fn render_text_target_inconclusive() {
        let n = 40;
        let rss: Vec<f64> = (0..n)
            .map(|i| 50.0 * 1024.0 * 1024.0 + (i.min(30) as f64) * 65_536.0)
            .collect();
        let mut a = analysis(Verdict::Inconclusive, 65_536.0, (-512.0, 131_072.0), 1, n);
        a.plateau = Some(Plateau {
            start: 30,
            level: rss[35],
        });
        a.more_samples = Some(18);
        let resources = vec![ResourceReport {
            resource: Resource::Rss,
            source: "RSS of the target process tree (pid 42)".into(),
            samples: rss,
            analysis: a,
            detail: None,
        }];
        let mut r = Report::from_resources("./server --port 8080", resources, 2.0);
        r.config.isolation = Isolation::Target;
        insta::assert_snapshot!(r.render_text());
    }

    #[test]
    fn render_svg_leaking() {
        insta::assert_snapshot!(leaking_report().render_svg());
    }

    #[test]
    fn svg_is_well_formed_enough() {
        let svg = leaking_report().render_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("fitted slope").count(), 3);
        assert!(svg.contains("warm-up: 10 iterations"));
    }

    #[test]
    fn artifacts_are_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let r = leaking_report();
        r.write_artifacts(&dir.path().join("new"), "tests__cache_grows")
            .unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join("new"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, ["tests__cache_grows.json", "tests__cache_grows.svg"]);
    }
}
