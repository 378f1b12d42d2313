//! Watching a process over time: sample its tree (RSS, open descriptors, threads) every interval
//! for a duration, stop at a ceiling, and judge growth per second. What `leakproof watch` does.
//!
//! ```no_run
//! use std::time::Duration;
//! use leakproof_harness::Watch;
//!
//! let report = Watch::pid(4242)
//!     .interval(Duration::from_millis(500))
//!     .duration(Duration::from_secs(60))
//!     .max_rss(500.0 * 1024.0 * 1024.0)
//!     .run()?;
//! println!("{}", report.render_text());
//! # Ok::<(), leakproof_harness::WatchError>(())
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use leakproof_sample::ProbeError;
use leakproof_trend::TrendError;

use crate::engine::{Engine, Progress, Settings, SettingsError, Stop, Workload};
use crate::samplers::agent::AgentSampler;
use crate::samplers::tree::ProcessTree;
use crate::target::{describe_status, Target};
use leakproof_agents::{AgentChoice, Pending};
use leakproof_report::{Isolation, Probe, Report, Resource, RunConfig};

mod pace;
mod plan;

use pace::Pace;
pub use plan::WatchPlan;

/// How often a watched tree is searched for new descendants.
const RESCAN: Duration = Duration::from_millis(250);

/// Why a watch could not produce a [`Report`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// No process has the PID given.
    #[error("no process with PID {0}")]
    NoSuchProcess(u32),
    /// The process ended before it could be sampled once.
    #[error("process {pid} ended before the first sample ({status}): too few samples to judge")]
    EndedAtOnce {
        /// The process.
        pid: u32,
        /// How it ended.
        status: String,
    },
    /// The interval and duration leave fewer than two samples.
    #[error("invalid watch settings: {0} (--duration must be at least one --interval)")]
    Settings(#[from] SettingsError),
    /// A zero interval.
    #[error("the interval must be greater than zero")]
    ZeroInterval,
    /// The command could not be started.
    #[error(transparent)]
    Spawn(#[from] crate::target::SpawnError),
    /// The process could not be inspected.
    #[error("cannot watch the process: {0}")]
    Probe(#[from] ProbeError),
    /// The statistics rejected the series.
    #[error("cannot analyze the samples: {0}")]
    Trend(#[from] TrendError),
}

/// What is watched.
#[derive(Debug)]
enum Subject {
    Pid(u32),
    Command(Command),
}

/// Builder of a watch; see the [module docs](self).
#[derive(Debug)]
pub struct Watch {
    subject: Subject,
    /// `None`: chosen from the duration ([`WatchPlan`]).
    interval: Option<Duration>,
    duration: Duration,
    ceilings: Vec<(Resource, f64)>,
    agent: AgentChoice,
}

impl Watch {
    fn new(subject: Subject) -> Watch {
        Watch {
            subject,
            interval: None,
            duration: Duration::from_secs(60),
            ceilings: Vec::new(),
            agent: AgentChoice::Auto,
        }
    }

    /// Watch a running process and its descendants.
    pub fn pid(pid: u32) -> Watch {
        Watch::new(Subject::Pid(pid))
    }

    /// Start `command` (in its own process group, stopped at the end) and watch it.
    pub fn command(command: Command) -> Watch {
        Watch::new(Subject::Command(command))
    }

    /// Time between samples. By default it is chosen from the duration: 1 s for a watch of a
    /// minute or more, else a sixtieth of the duration (at least 10 ms), so that a short watch has
    /// the 61 samples of the default one ([`WatchPlan`]).
    pub fn interval(mut self, interval: Duration) -> Watch {
        self.interval = Some(interval);
        self
    }

    /// How long to watch (default 60 s); a process that ends sooner is judged on what was seen.
    pub fn duration(mut self, duration: Duration) -> Watch {
        self.duration = duration;
        self
    }

    /// Stop with a breach (exit code 1) as soon as the tree's RSS is above `bytes`.
    pub fn max_rss(mut self, bytes: f64) -> Watch {
        self.ceilings.push((Resource::Rss, bytes));
        self
    }

    /// Stop with a breach as soon as the tree has more than `fds` open descriptors.
    pub fn max_fds(mut self, fds: u64) -> Watch {
        self.ceilings.push((Resource::Fds, fds as f64));
        self
    }

    /// The agent (default [`AgentChoice::Auto`], as for [`crate::Drive::agent`]): its own heap
    /// is judged over time. A started command gets it injected; into a running PID's tree it is
    /// loaded from outside (Python through gdb, node through its inspector; a JVM is attached
    /// to), and detached at the end. An attached Python or node agent is sampled no more often
    /// than keeps its collections under 2% of the target's time, and the report says how much
    /// time they took.
    pub fn agent(mut self, agent: AgentChoice) -> Watch {
        self.agent = agent;
        self
    }

    /// How the watch will sample: its interval (given or chosen) and how many samples that gives;
    /// [`WatchPlan::too_few_samples`] says when they cannot give a verdict.
    pub fn plan(&self) -> WatchPlan {
        WatchPlan::new(self.duration, self.interval)
    }

    /// Runs the watch.
    pub fn run(self) -> Result<Report, WatchError> {
        self.run_with_progress(|_| {})
    }

    /// [`Watch::run`], calling `progress` after every sample.
    pub fn run_with_progress(
        self,
        mut progress: impl FnMut(&Progress),
    ) -> Result<Report, WatchError> {
        let plan = self.plan();
        if plan.interval.is_zero() {
            return Err(WatchError::ZeroInterval);
        }
        let mut settings = Settings::new(plan.samples, None, 0, None, 1)?;
        let mut notes: Vec<String> = plan.note().into_iter().collect();
        let (pid, mut target, pending) = match self.subject {
            Subject::Pid(pid) => (pid, None, Pending::for_running(self.agent, pid)),
            Subject::Command(cmd) => {
                let (target, pending) = Target::start(cmd, self.agent, &mut notes)?;
                (target.pid(), Some(target), pending)
            }
        };
        let tree = match ProcessTree::new(pid, RESCAN, true) {
            Ok(tree) => tree,
            Err(ProbeError::Gone { .. }) => return Err(ended_at_once(pid, target.as_mut())),
            Err(e) => return Err(e.into()),
        };
        let mut agent = pending.and_then(|p| p.ready(pid, &mut notes));
        let pace = agent
            .as_deref_mut()
            .and_then(|a| Pace::calibrate(a, plan.interval));
        let interval = pace.as_ref().map_or(plan.interval, |p| p.interval);
        if let Some(pace) = &pace {
            notes.extend(pace.slowed(plan.interval));
            settings = paced_settings(self.duration, interval)?;
        }
        let agent = agent.map(|a| AgentSampler::new(a).every(interval));
        let probe = Probe::target(agent.as_ref().map(|a| a.resource()));
        let mut engine = Engine::new(settings);
        if let Some(agent) = agent {
            engine.sampler(Box::new(agent), false);
        }
        engine.sampler(Box::new(tree), true);
        notes.into_iter().for_each(|n| engine.note(n));
        for &(resource, limit) in &self.ceilings {
            engine.ceiling(resource, limit);
        }
        let config = RunConfig {
            iterations: settings.iterations,
            warmup: None,
            max_iterations: settings.ceiling,
            time_budget_secs: Some(self.duration.as_secs_f64()),
            probe,
            resources: engine.resources(),
            capture_sites: false,
            isolation: Isolation::Target,
            interval_secs: Some(interval.as_secs_f64()),
        };
        let mut ticks = Ticks {
            pid,
            interval,
            started: None,
            target: target.as_mut(),
        };
        let name = format!("pid {pid}");
        let mut report = engine.run(&name, config, &mut ticks, &mut progress)?;
        report.slope_per_second(interval.as_secs_f64());
        let wall = ticks.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        report.notes.extend(pace.and_then(|p| p.spent(wall)));
        Ok(report)
    }
}

/// Time between an attached agent's two pictures of the locate phase: a service that leaks per
/// request leaks a few times over it even under light traffic.
const LOCATE_SPAN: Duration = Duration::from_secs(3);

/// The settings of a watch of `duration` sampled every `interval` (paced for an attached agent),
/// its locate phase [`LOCATE_SPAN`] long.
fn paced_settings(duration: Duration, interval: Duration) -> Result<Settings, SettingsError> {
    let plan = WatchPlan::new(duration, Some(interval));
    let locate = LOCATE_SPAN.as_nanos().div_ceil(interval.as_nanos().max(1)) as usize;
    Settings::new(plan.samples, None, 0, None, locate)
}

fn ended_at_once(pid: u32, target: Option<&mut Target>) -> WatchError {
    match target {
        None => WatchError::NoSuchProcess(pid),
        Some(t) => WatchError::EndedAtOnce {
            pid,
            status: t
                .wait_status(Duration::from_millis(500))
                .map_or_else(|| "it exited".to_owned(), describe_status),
        },
    }
}

/// The passing of time as the engine's workload: iteration `k` waits until `(k - 1)` intervals
/// after the first.
struct Ticks<'a> {
    pid: u32,
    interval: Duration,
    started: Option<Instant>,
    target: Option<&'a mut Target>,
}

impl Workload for Ticks<'_> {
    fn iterate(&mut self, iteration: usize) -> Result<(), Stop> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = self.interval * (iteration as u32).saturating_sub(1);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        Ok(())
    }

    fn sampling_failed(&mut self, _iteration: usize, error: &ProbeError) -> Stop {
        let ProbeError::Gone { .. } = error else {
            return Stop::Failed(format!("cannot sample PID {}: {error}", self.pid));
        };
        let status = self
            .target
            .as_mut()
            .and_then(|t| t.wait_status(Duration::from_millis(500)))
            .map_or_else(|| "it exited".to_owned(), describe_status);
        let after = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let mut note = format!("process {} ended after {after:.1} s ({status})", self.pid);
        if let Some(last) = self.target.as_ref().and_then(|t| t.last_stderr_line()) {
            note.push_str(&format!("; its last stderr line: {last}"));
        }
        Stop::Finished(note)
    }
}
