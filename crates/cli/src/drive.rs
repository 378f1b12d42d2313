//! `leakproof drive`: a thin layer over [`leakproof_harness::Drive`].

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, Context};
use leakproof_harness::{shell_command, Drive, DriveError, HttpUrl, Readiness};

use crate::args::DriveArgs;
use crate::progress::Progress;
use crate::{
    install_signal_handler, print_report, wait_if_interrupted, ExitWith, Outcome, EXIT_FAILED,
    EXIT_USAGE,
};

/// Runs one iteration of the workload.
enum Driver {
    Shell(String),
    Http { agent: ureq::Agent, url: String },
}

impl Driver {
    fn call(&mut self, iteration: usize) -> anyhow::Result<()> {
        match self {
            Driver::Shell(line) => crate::each::shell_step(line, iteration).map_err(|e| anyhow!(e)),
            Driver::Http { agent, url } => {
                let response = agent.get(url).call().map_err(|e| anyhow!("{e}"))?;
                // Read the body so the connection can be reused.
                let mut sink = Vec::new();
                response
                    .into_reader()
                    .take(64 * 1024 * 1024)
                    .read_to_end(&mut sink)
                    .with_context(|| format!("GET {url}: reading the body"))?;
                Ok(())
            }
        }
    }
}

fn drive_error_code(e: &DriveError) -> u8 {
    match e {
        DriveError::Settings(_) | DriveError::BadUrl { .. } => EXIT_USAGE,
        _ => EXIT_FAILED,
    }
}

pub(crate) fn run(args: DriveArgs) -> Outcome {
    install_signal_handler();
    let iterations = usize::try_from(args.iterations).exit_with(EXIT_USAGE)?;
    let max_iterations = args.max_iterations.unwrap_or(iterations.saturating_mul(10));
    // The target's stdout would mix with the results on ours: discarded (its stderr tail is kept).
    let mut target = shell_command(&args.target);
    target.stdout(Stdio::null());
    let mut drive = Drive::new(target)
        .iterations(iterations)
        .max_iterations(max_iterations)
        .allow_failures(args.allow_failures)
        .ready_timeout(args.ready_timeout)
        .grace(args.grace)
        .agent(args.agent);
    if let Some(w) = args.warmup {
        drive = drive.warmup(w);
    }
    let http = match &args.http {
        Some(url) => Some(
            HttpUrl::parse(url)
                .map_err(|e| anyhow!("--http: {e}"))
                .exit_with(EXIT_USAGE)?,
        ),
        None => None,
    };
    if let Some(addr) = &args.ready_tcp {
        drive = drive.ready_tcp(addr.clone());
    } else if let Some(url) = &args.ready_http {
        drive = drive.ready_http(url);
    } else if let Some(url) = http {
        drive = drive.readiness(Readiness::Http(url));
    }
    let mut driver = match (&args.each, &args.http) {
        (Some(line), _) => Driver::Shell(line.clone()),
        (None, Some(url)) => {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build();
            Driver::Http {
                agent,
                url: url.clone(),
            }
        }
        (None, None) => return Err(anyhow!("give --each CMD or --http URL")).exit_with(EXIT_USAGE),
    };
    eprintln!("leakproof: starting `{}`", args.target);
    let mut progress = Progress::new("iteration", iterations as u64);
    let result = drive.run_with_progress(
        |iteration| driver.call(iteration),
        |p| progress.update(p.iteration as u64, p.planned as u64, &p.summary()),
    );
    progress.finish();
    wait_if_interrupted();
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            let code = drive_error_code(&e);
            return Err(anyhow!(e)).exit_with(code);
        }
    };
    print_report(&report, args.json, args.report.as_deref())
}
