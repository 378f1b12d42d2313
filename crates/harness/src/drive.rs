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
//! use leakproof_harness::Drive;
//!
//! let report = Drive::new(Command::new("target/debug/my-server"))
//!     .ready_tcp("127.0.0.1:8080")
//!     .ready_timeout(Duration::from_secs(10))
//!     .iterations(200)
//!     .run(|| std::net::TcpStream::connect("127.0.0.1:8080").map(drop))?;
//! assert!(report.passed(), "{}", report.render_text());
//! # Ok::<(), leakproof_harness::DriveError>(())
//! ```

mod ready;

use std::fmt::Display;
use std::process::Command;
use std::time::Duration;

use leakproof_sample::ProbeError;
use leakproof_trend::TrendError;

use crate::engine::{Engine, Progress, Settings, SettingsError, Stop, Workload};
use crate::in_process::DEFAULT_CAPTURE_ITERATIONS;
use crate::samplers::agent::AgentSampler;
use crate::samplers::tree::ProcessTree;
use crate::target::{describe_status, last_line, SpawnError, Target};
use leakproof_agents::AgentChoice;
use leakproof_report::{Isolation, Probe, Report, RunConfig};

pub use ready::{HttpUrl, Readiness};

/// Why a drive could not produce a [`Report`]. Failures *during* the measured run (the target exits,
/// the driver fails) are not errors: they are a `Report` with `failure` set (exit code 4).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// The target could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
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
    /// The builder was given inconsistent settings.
    #[error("invalid drive settings: {0}")]
    Settings(#[from] SettingsError),
    /// A readiness URL that is not a plain `http://HOST:PORT/PATH`.
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
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
    match last_line(&lines.join("\n")) {
        Some(last) => format!("; its last stderr line: {last}"),
        None => String::new(),
    }
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
    agent: AgentChoice,
    /// A readiness URL that did not parse, reported by `run`.
    bad_url: Option<DriveError>,
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
            grace: crate::target::DEFAULT_GRACE,
            resources: true,
            agent: AgentChoice::Auto,
            bad_url: None,
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

    /// Ready when a `GET` of the plain-`http://` `url` answers with a status below 500. The URL
    /// is parsed here, once; a malformed one makes [`Drive::run`] fail with
    /// [`DriveError::BadUrl`].
    pub fn ready_http(mut self, url: impl AsRef<str>) -> Drive {
        match HttpUrl::parse(url.as_ref()) {
            Ok(url) => self.readiness = Readiness::Http(url),
            Err(e) => self.bad_url = Some(e),
        }
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

    /// The agent injected into the target by environment (default [`AgentChoice::Auto`]: Python
    /// and node targets get their runtime agent, other dynamically linked programs the preloaded
    /// malloc agent), so that its own heap is judged and, when it grows, the growing lines of its
    /// code are named.
    pub fn agent(mut self, agent: AgentChoice) -> Drive {
        self.agent = agent;
        self
    }

    /// Runs the drive: see the [module docs](self).
    pub fn run<E, F>(self, mut driver: F) -> Result<Report, DriveError>
    where
        E: Display,
        F: FnMut() -> Result<(), E>,
    {
        self.run_with_progress(|_| driver(), |_| {})
    }

    /// [`Drive::run`] with a driver told the iteration it runs (from 1, counting the locate
    /// phase's), calling `progress` after every iteration.
    pub fn run_with_progress<E, F, P>(
        self,
        mut driver: F,
        mut progress: P,
    ) -> Result<Report, DriveError>
    where
        E: Display,
        F: FnMut(usize) -> Result<(), E>,
        P: FnMut(&Progress),
    {
        if let Some(e) = self.bad_url {
            return Err(e);
        }
        let settings = Settings::new(
            self.iterations,
            self.warmup,
            self.max_iterations,
            None,
            DEFAULT_CAPTURE_ITERATIONS,
        )?;
        let mut notes = Vec::new();
        let (mut target, pending) = Target::start(self.command, self.agent, &mut notes)?;
        target.set_grace(self.grace);
        let name = self.name.unwrap_or_else(|| target.program().to_string());
        ready::wait_ready(&mut target, &self.readiness, self.ready_timeout)?;
        let agent = pending.and_then(|p| p.ready(target.pid(), &mut notes));
        // An agent's snapshots sample allocations (node: one per 8 KiB): locate over more requests.
        let settings = match &agent {
            Some(agent) => settings.locating_for(agent.descriptor().locate_iterations),
            None => settings,
        };
        let agent = agent.map(AgentSampler::new);
        // Descendants are looked for on every iteration: a forking server's new worker counts.
        let tree = ProcessTree::new(target.pid(), Duration::ZERO, self.resources)?;
        let mut engine = Engine::new(settings);
        let probe = Probe::target(agent.as_ref().map(|a| a.resource()));
        if let Some(agent) = agent {
            // Optional: an agent that stops answering is dropped with a note, RSS goes on.
            engine.sampler(Box::new(agent), false);
        }
        engine.sampler(Box::new(tree), true);
        notes.into_iter().for_each(|n| engine.note(n));
        let config = RunConfig {
            iterations: settings.iterations,
            warmup: settings.warmup,
            max_iterations: settings.ceiling,
            time_budget_secs: None,
            probe,
            resources: engine.resources(),
            capture_sites: false,
            isolation: Isolation::Target,
            interval_secs: None,
        };
        let mut workload = Driven {
            target: &mut target,
            driver: &mut driver,
            allow_failures: self.allow_failures,
            failures: 0,
        };
        let report = engine.run(&name, config, &mut workload, &mut progress);
        // Stop before reporting: the report says the target was stopped cleanly, or how it ended.
        let stopped = target.stop();
        let mut report = report?;
        if let (Some(status), None) = (stopped, &report.failure) {
            report
                .notes
                .push(format!("target stopped ({})", describe_status(status)));
        }
        Ok(report)
    }
}

/// A driver calling a target as the engine's workload.
struct Driven<'a, F> {
    target: &'a mut Target,
    driver: &'a mut F,
    allow_failures: usize,
    failures: usize,
}

impl<E: Display, F: FnMut(usize) -> Result<(), E>> Workload for Driven<'_, F> {
    fn iterate(&mut self, iteration: usize) -> Result<(), Stop> {
        if let Some(status) = self.target.try_status() {
            return Err(self.exited(iteration, status));
        }
        if let Err(e) = (self.driver)(iteration) {
            // A driver failing because the target just died is the target's failure.
            if let Some(status) = self.target.wait_status(Duration::from_millis(200)) {
                return Err(self.exited(iteration, status));
            }
            self.failures += 1;
            if self.failures > self.allow_failures {
                return Err(Stop::Failed(format!(
                    "the driver failed at iteration {iteration}: {e}"
                )));
            }
        }
        Ok(())
    }

    fn sampling_failed(&mut self, iteration: usize, error: &ProbeError) -> Stop {
        match error {
            ProbeError::Gone { .. } => {
                let status = self
                    .target
                    .wait_status(Duration::from_millis(500))
                    .map_or_else(|| "it vanished".to_string(), describe_status);
                Stop::Failed(exit_failure(self.target, iteration, &status))
            }
            e => Stop::Failed(format!(
                "cannot sample the target at iteration {iteration}: {e}"
            )),
        }
    }
}

impl<F> Driven<'_, F> {
    fn exited(&self, iteration: usize, status: std::process::ExitStatus) -> Stop {
        Stop::Failed(exit_failure(
            self.target,
            iteration,
            &describe_status(status),
        ))
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
