//! Driving an external target process: start it in its own process group, wait until it is ready,
//! run a driver once per iteration, sample the target's whole process tree (RSS, open file
//! descriptors, threads) after each iteration, judge every series, and stop the target cleanly.
//!
//! This is everything `leakproof drive` does, as a library: a Rust integration test can start the
//! project's own server binary and drive it from a closure.
//!
//! ```no_run
//! use std::process::Command;
//! use std::time::Duration;
//! use leakproof_harness::drive::Drive;
//!
//! let report = Drive::new(Command::new("target/debug/my-server"))
//!     .ready_tcp("127.0.0.1:8080")
//!     .ready_timeout(Duration::from_secs(10))
//!     .iterations(200)
//!     .run(|| std::net::TcpStream::connect("127.0.0.1:8080").map(drop))?;
//! assert!(report.passed(), "{}", report.render_text());
//! # Ok::<(), leakproof_harness::drive::DriveError>(())
//! ```

mod ready;
mod target;
mod tree;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::process::Command;
use std::time::{Duration, Instant};

use leakproof_sample::{FdInfo, FdKind, ProbeError, TreeProbe, TreeSample};
use leakproof_trend::{analyze, Analysis, Config, TrendError, Verdict, Warmup};

use crate::report::{Isolation, Report, Resource, ResourceReport, RunConfig};
use crate::settle::reread_while_up;

pub use ready::{HttpUrl, Readiness};
pub use target::{describe_status, group_alive, group_members, stop_all_targets, Target};
pub use tree::TreeSeries;

/// Why a drive could not produce a [`Report`]. Failures *during* the measured run (the target exits,
/// the driver fails) are not errors: they are a `Report` with `failure` set (exit code 4).
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The target could not be started.
    #[error("cannot start target `{program}`: {source}")]
    Spawn {
        /// The command line.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The readiness condition did not hold within the timeout.
    #[error("target not ready after {timeout:?} (waited for {readiness}){}", tail_suffix(.stderr))]
    NotReady {
        /// What was waited for.
        readiness: String,
        /// How long.
        timeout: Duration,
        /// The target's last stderr lines.
        stderr: Vec<String>,
    },
    /// The target exited before it became ready.
    #[error("target exited before it was ready ({status}){}", tail_suffix(.stderr))]
    ExitedEarly {
        /// `exit status N` or `killed by signal N (SIGx)`.
        status: String,
        /// The target's last stderr lines.
        stderr: Vec<String>,
    },
    /// The target's process tree could not be sampled at all.
    #[error("cannot sample the target: {0}")]
    Probe(#[from] ProbeError),
    /// The builder was given inconsistent settings or a bad URL.
    #[error("invalid drive settings: {0}")]
    Config(String),
    /// The trend analysis rejected the series (e.g. non-finite samples).
    #[error("cannot analyze the samples: {0}")]
    Trend(#[from] TrendError),
}

impl DriveError {
    /// The target's last stderr lines, when the error carries them.
    pub fn stderr_tail(&self) -> &[String] {
        match self {
            DriveError::NotReady { stderr, .. } | DriveError::ExitedEarly { stderr, .. } => stderr,
            _ => &[],
        }
    }
}

fn tail_suffix(lines: &[String]) -> String {
    match lines.iter().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => format!("; its last stderr line: {}", last.trim()),
        None => String::new(),
    }
}

/// Where a drive is, reported after every iteration to [`Drive::run_with_progress`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Iterations done (1-based).
    pub iteration: usize,
    /// Iterations planned now (grows when an Inconclusive run is extended).
    pub planned: usize,
    /// The sample taken after this iteration.
    pub sample: TreeSample,
}

/// Builder for a drive of an external target. See the [module docs](self).
///
/// Named `Drive` rather than a `Harness` option because everything here is about the target
/// process (readiness, grace period, tolerated driver failures) and the driver returns a `Result`.
#[derive(Debug)]
pub struct Drive {
    command: Command,
    name: Option<String>,
    readiness: Readiness,
    ready_timeout: Duration,
    iterations: usize,
    warmup: Option<usize>,
    max_iterations: usize,
    allow_failures: usize,
    grace: Duration,
    resources: bool,
}

impl Drive {
    /// A drive of the target `command` (started in its own process group when run). Defaults:
    /// ready at once, 30 s ready timeout, 200 iterations, automatic warm-up, up to 2000 iterations
    /// when Inconclusive, no driver failure tolerated, 3 s between SIGTERM and SIGKILL, fds and
    /// threads tracked.
    pub fn new(command: Command) -> Drive {
        Drive {
            command,
            name: None,
            readiness: Readiness::Immediate,
            ready_timeout: Duration::from_secs(30),
            iterations: 200,
            warmup: None,
            max_iterations: 2000,
            allow_failures: 0,
            grace: target::DEFAULT_GRACE,
            resources: true,
        }
    }

    /// The name in the report (default: the command line).
    pub fn name(mut self, name: impl Into<String>) -> Drive {
        self.name = Some(name.into());
        self
    }

    /// Ready when `addr` (`HOST:PORT`) accepts TCP connections.
    pub fn ready_tcp(mut self, addr: impl Into<String>) -> Drive {
        self.readiness = Readiness::Tcp(addr.into());
        self
    }

    /// Ready when a `GET` of the plain-`http://` `url` answers with a status below 500.
    pub fn ready_http(mut self, url: impl Into<String>) -> Drive {
        self.readiness = Readiness::Http(url.into());
        self
    }

    /// Sets the readiness condition directly.
    pub fn readiness(mut self, readiness: Readiness) -> Drive {
        self.readiness = readiness;
        self
    }

    /// How long to wait for readiness before failing with [`DriveError::NotReady`].
    pub fn ready_timeout(mut self, timeout: Duration) -> Drive {
        self.ready_timeout = timeout;
        self
    }

    /// Iterations of the first pass (at least 1).
    pub fn iterations(mut self, n: usize) -> Drive {
        self.iterations = n;
        self
    }

    /// Fixed warm-up iterations excluded from the trend (default: detected automatically).
    pub fn warmup(mut self, w: usize) -> Drive {
        self.warmup = Some(w);
        self
    }

    /// Upper bound of iterations when an Inconclusive run is extended (at least `iterations`).
    pub fn max_iterations(mut self, m: usize) -> Drive {
        self.max_iterations = m;
        self
    }

    /// Tolerate this many failing driver calls before the run fails.
    pub fn allow_failures(mut self, n: usize) -> Drive {
        self.allow_failures = n;
        self
    }

    /// Time between SIGTERM and SIGKILL when the target is stopped.
    pub fn grace(mut self, grace: Duration) -> Drive {
        self.grace = grace;
        self
    }

    /// Track open fds and threads beside RSS (default true).
    pub fn resources(mut self, on: bool) -> Drive {
        self.resources = on;
        self
    }

    /// Runs the drive: see the [module docs](self).
    pub fn run<E, F>(self, driver: F) -> Result<Report, DriveError>
    where
        E: Display,
        F: FnMut() -> Result<(), E>,
    {
        self.run_with_progress(driver, |_| {})
    }

    /// [`Drive::run`], calling `progress` after every iteration.
    pub fn run_with_progress<E, F, P>(
        self,
        mut driver: F,
        mut progress: P,
    ) -> Result<Report, DriveError>
    where
        E: Display,
        F: FnMut() -> Result<(), E>,
        P: FnMut(&Progress),
    {
        if self.iterations == 0 {
            return Err(DriveError::Config("iterations must be at least 1".into()));
        }
        if let Some(w) = self.warmup {
            if w >= self.iterations {
                return Err(DriveError::Config(format!(
                    "warm-up ({w}) must be smaller than iterations ({})",
                    self.iterations
                )));
            }
        }
        if let Readiness::Http(url) = &self.readiness {
            HttpUrl::parse(url)?;
        }
        let max_iterations = self.max_iterations.max(self.iterations);
        let config = RunConfig {
            iterations: self.iterations,
            warmup: self.warmup,
            max_iterations,
            time_budget_secs: None,
            probe: "tree-rss".to_owned(),
            resources: if self.resources {
                vec![Resource::Rss, Resource::Fds, Resource::Threads]
            } else {
                vec![Resource::Rss]
            },
            capture_sites: false,
            isolation: Isolation::Target,
        };
        let mut target = Target::spawn(self.command)?;
        target.set_grace(self.grace);
        let name = self.name.unwrap_or_else(|| target.program().to_string());
        ready::wait_ready(&mut target, &self.readiness, self.ready_timeout)?;
        let pid = target.pid();
        // Descendants are looked for on every iteration: a forking server's new worker counts.
        let mut probe = TreeProbe::new(pid, Duration::ZERO)?;

        let start = Instant::now();
        let mut series = TreeSeries::default();
        let mut notes = Vec::new();
        let mut failures = 0usize;
        let mut failure = None;
        let mut planned = self.iterations;
        // Where the "before" picture for the detail (smaps, fd list) is taken: after the warm-up.
        let mark = self.warmup.unwrap_or(self.iterations / 5).max(1);
        let mut before: Option<Picture> = None;
        let analyses = 'run: loop {
            while series.len() < planned {
                let iteration = series.len() + 1;
                if let Err(e) = driver() {
                    // A driver failing because the target just died is the target's failure.
                    if let Some(status) = target.wait_status(Duration::from_millis(200)) {
                        failure = Some(exit_failure(&target, iteration, &describe_status(status)));
                        break 'run None;
                    }
                    failures += 1;
                    if failures > self.allow_failures {
                        failure = Some(format!("the driver failed at iteration {iteration}: {e}"));
                        break 'run None;
                    }
                }
                if let Some(status) = target.try_status() {
                    failure = Some(exit_failure(&target, iteration, &describe_status(status)));
                    break 'run None;
                }
                // A sample of a process that exited meanwhile (reaped by the time the sample is in,
                // or a zombie: no memory and no descriptors) is not a sample of the target at work.
                let sampled = settled_sample(&mut probe, series.last_counts()).and_then(|s| {
                    if (s.rss_bytes == 0 && s.fds == 0) || target.try_status().is_some() {
                        Err(ProbeError::Gone { pid })
                    } else {
                        Ok(s)
                    }
                });
                match sampled {
                    Ok(sample) => {
                        series.push(&sample);
                        progress(&Progress {
                            iteration,
                            planned,
                            sample,
                        });
                    }
                    Err(ProbeError::Gone { .. }) => {
                        let status = target
                            .wait_status(Duration::from_millis(500))
                            .map_or_else(|| "it vanished".to_string(), describe_status);
                        failure = Some(exit_failure(&target, iteration, &status));
                        break 'run None;
                    }
                    Err(e) => {
                        failure = Some(format!(
                            "cannot sample the target at iteration {iteration}: {e}"
                        ));
                        break 'run None;
                    }
                }
                if iteration == mark {
                    before = Some(Picture::take(pid, self.resources, None));
                }
            }
            let analyses = analyze_series(&series, self.warmup, self.resources)?;
            let inconclusive = analyses.iter().any(|a| a.verdict == Verdict::Inconclusive);
            if inconclusive && planned < max_iterations {
                let more = analyses
                    .iter()
                    .filter_map(|a| a.more_samples)
                    .max()
                    .unwrap_or(0)
                    .max(planned / 2)
                    .max(10);
                let next = (planned + more).min(max_iterations);
                notes.push(format!(
                    "Inconclusive after {planned} iterations: extended to {next}."
                ));
                planned = next;
                continue;
            }
            break Some(analyses);
        };
        let after = match (&analyses, &before) {
            (Some(a), Some(b)) if a.iter().any(|a| a.verdict == Verdict::Leaking) => {
                Some(Picture::take(pid, self.resources, Some(b.main)))
            }
            _ => None,
        };
        let duration = start.elapsed().as_secs_f64();
        // Stop before reporting: the report says the target was stopped cleanly, or how it ended.
        let stopped = target.stop();
        let Some(analyses) = analyses else {
            let mut report = Report::failed(name, failure.unwrap_or_default());
            report.iterations = series.len();
            report.samples = series.rss;
            report.duration_secs = duration;
            report.config = config;
            return Ok(report);
        };
        let mut resources = Vec::new();
        let tree = format!("target process tree (pid {pid})");
        let mut analyses = analyses.into_iter();
        if let Some(a) = analyses.next() {
            let detail = match (&before, &after) {
                (Some(b), Some(af)) if a.verdict == Verdict::Leaking => smaps_detail(b, af),
                _ => None,
            };
            resources.push(ResourceReport {
                resource: Resource::Rss,
                source: format!("RSS of the {tree}"),
                samples: std::mem::take(&mut series.rss),
                analysis: a,
                detail,
            });
        }
        if self.resources {
            if let Some(a) = analyses.next() {
                let detail = match (&before, &after) {
                    (Some(b), Some(af)) if a.verdict == Verdict::Leaking => fd_detail(b, af),
                    _ => None,
                };
                resources.push(ResourceReport {
                    resource: Resource::Fds,
                    source: format!("open file descriptors of the {tree}"),
                    samples: std::mem::take(&mut series.fds),
                    analysis: a,
                    detail,
                });
            }
            if let Some(a) = analyses.next() {
                resources.push(ResourceReport {
                    resource: Resource::Threads,
                    source: format!("threads of the {tree}"),
                    samples: std::mem::take(&mut series.threads),
                    analysis: a,
                    detail: None,
                });
            }
        }
        let mut report = Report::from_resources(name, resources, duration);
        report.config = config;
        let rss_verdict = report.resource(Resource::Rss).map(|r| r.analysis.verdict);
        for r in &report.resources {
            if !r.resource.is_memory()
                && r.analysis.verdict == Verdict::Leaking
                && rss_verdict != Some(Verdict::Leaking)
            {
                notes.push(format!(
                    "{} leak: {} grow while RSS does not, so a memory check alone would miss it.",
                    if r.resource == Resource::Fds {
                        "File descriptor"
                    } else {
                        "Thread"
                    },
                    if r.resource == Resource::Fds {
                        "open file descriptors"
                    } else {
                        "live threads"
                    },
                ));
            }
        }
        if let Some(status) = stopped {
            notes.push(format!("Target stopped ({}).", describe_status(status)));
        }
        report.notes.extend(notes);
        Ok(report)
    }
}

fn exit_failure(target: &Target, iteration: usize, status: &str) -> String {
    let tail = target.stderr_tail();
    let mut msg = format!("the target exited during iteration {iteration} ({status})");
    if !tail.is_empty() {
        msg.push_str("; its last stderr lines:");
        for line in tail.iter().rev().take(5).rev() {
            msg.push_str("\n    ");
            msg.push_str(line);
        }
    }
    msg
}

/// Re-reads of a count that rose, and the pause before each.
const SETTLE: [Duration; 2] = [Duration::from_millis(2), Duration::from_millis(5)];

/// One sample of the tree; when the fd or thread count rose since `previous`, it is read again
/// after a short pause (twice at most) and the lower counts are kept. A connection the target is
/// still closing, or a worker thread still exiting, when the driver's request has returned is not
/// a leak; a leaked descriptor is still there on the re-read. Costs nothing while counts are flat.
fn settled_sample(
    probe: &mut TreeProbe,
    previous: Option<(u64, u64)>,
) -> Result<TreeSample, ProbeError> {
    let sample = probe.sample()?;
    let Some((fds, threads)) = previous else {
        return Ok(sample);
    };
    reread_while_up(
        sample,
        &SETTLE,
        |s| s.fds > fds || s.threads > threads,
        || probe.sample(),
        |kept, again| TreeSample {
            fds: kept.fds.min(again.fds),
            threads: kept.threads.min(again.threads),
            ..again
        },
    )
}

/// The analyses of a drive's series: RSS, then (when tracked) fds and threads.
fn analyze_series(
    series: &TreeSeries,
    warmup: Option<usize>,
    resources: bool,
) -> Result<Vec<Analysis>, TrendError> {
    let with_warmup = |c: Config| match warmup {
        Some(w) => c.with_warmup(Warmup::Fixed(w)),
        None => c,
    };
    let mut out = vec![analyze(&series.rss, &with_warmup(Config::rss()))?];
    if resources {
        out.push(analyze(&series.fds, &with_warmup(Config::counts()))?);
        out.push(analyze(&series.threads, &with_warmup(Config::counts()))?);
    }
    Ok(out)
}

/// Memory maps and open descriptors of the target tree at one moment, for the report's detail.
struct Picture {
    main: u32,
    smaps: Option<Vec<leakproof_diff::smaps::Mapping>>,
    fds: Vec<(u32, FdInfo)>,
}

impl Picture {
    /// `main`: the process whose memory maps are read (default: the biggest of the tree).
    fn take(root: u32, with_fds: bool, main: Option<u32>) -> Picture {
        let mut pids = leakproof_sample::descendants(root).unwrap_or_default();
        if !pids.contains(&root) {
            pids.insert(0, root);
        }
        // The process whose memory maps are compared: the biggest one (a `sh -c` wrapper is not it).
        let main = main.unwrap_or_else(|| {
            pids.iter()
                .copied()
                .max_by_key(|&p| {
                    leakproof_sample::RssProbe::pid(p)
                        .and_then(|mut r| r.rss_bytes())
                        .unwrap_or(0)
                })
                .unwrap_or(root)
        });
        let fds = if with_fds {
            pids.iter()
                .flat_map(|&p| {
                    leakproof_sample::list_fds(Some(p))
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |f| (p, f))
                })
                .collect()
        } else {
            Vec::new()
        };
        Picture {
            main,
            smaps: leakproof_diff::smaps::read(main).ok(),
            fds,
        }
    }
}

fn smaps_detail(before: &Picture, after: &Picture) -> Option<String> {
    let diff = leakproof_diff::smaps::diff(before.smaps.as_ref()?, after.smaps.as_ref()?);
    Some(format!(
        "memory mappings of pid {} that grew (after warm-up -> end):\n{}",
        before.main,
        diff.render()
    ))
}

fn fd_kind_name(kind: FdKind) -> &'static str {
    match kind {
        FdKind::File => "regular files",
        FdKind::Socket => "sockets",
        FdKind::Pipe => "pipes",
        FdKind::AnonInode => "anonymous inodes",
        _ => "other descriptors",
    }
}

fn fd_detail(before: &Picture, after: &Picture) -> Option<String> {
    let old: std::collections::HashSet<(u32, i32, &str)> = before
        .fds
        .iter()
        .map(|(p, f)| (*p, f.fd, f.target.as_str()))
        .collect();
    let mut by_kind: BTreeMap<&'static str, (usize, Vec<&str>)> = BTreeMap::new();
    for (p, f) in &after.fds {
        if !old.contains(&(*p, f.fd, f.target.as_str())) {
            let entry = by_kind.entry(fd_kind_name(f.kind)).or_default();
            entry.0 += 1;
            if entry.1.len() < 3 && !entry.1.contains(&f.target.as_str()) {
                entry.1.push(&f.target);
            }
        }
    }
    if by_kind.is_empty() {
        return None;
    }
    let parts: Vec<String> = by_kind
        .iter()
        .map(|(kind, (n, examples))| format!("+{n} {kind} (e.g. {})", examples.join(", ")))
        .collect();
    Some(format!(
        "new descriptors since warm-up: {}",
        parts.join("; ")
    ))
}
