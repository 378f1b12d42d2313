//! The `leakproof` command-line tool: `analyze` a series, `drive` a target process with a workload,
//! `watch` a running process, `diff` two allocation snapshots.
//!
//! Everything is a thin layer over the library crates (leakproof-trend, leakproof-sample,
//! leakproof-diff and the harness's [`leakproof_harness::Drive`] API); this crate only adds argument
//! parsing (clap), progress bars (indicatif), the in-process HTTP driver (ureq) and exit codes. It is
//! a separate crate so that library users of the harness never compile those.
//!
//! Exit codes, for every subcommand: 0 Stable (or no growth in a diff), 1 Leaking (or a ceiling
//! crossed, or a leak proven before the workload failed), 2 bad usage or unreadable input, 3
//! Inconclusive, 4 the workload or target failed.
//!
//! ```no_run
//! // src/bin/leakproof.rs of the facade package is exactly this:
//! fn main() -> std::process::ExitCode {
//!     leakproof_cli::main()
//! }
//! ```

mod analyze;
mod args;
mod diff;
mod drive;
mod each;
mod labelled;
mod progress;
mod prometheus;
mod units;
mod watch;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;

use args::Cli;

pub use leakproof_report::exit::{
    FAILED as EXIT_FAILED, INCONCLUSIVE as EXIT_INCONCLUSIVE, LEAKING as EXIT_LEAKING,
    STABLE as EXIT_STABLE, USAGE as EXIT_USAGE,
};

/// An error that ends the command with a given exit code; printed as one line (with its context).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: anyhow::Error,
}

/// `Result` of a subcommand: the exit code, or a failure.
pub(crate) type Outcome = Result<u8, Failure>;

/// Attaching an exit code to any error.
pub(crate) trait ExitWith<T> {
    /// Fails with `code` on error.
    fn exit_with(self, code: u8) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> ExitWith<T> for Result<T, E> {
    fn exit_with(self, code: u8) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            code,
            error: e.into(),
        })
    }
}

/// Writes a command's result to stdout. A reader that went away (`leakproof ... | head`) is not an
/// error: the output is cut where it stopped reading and the exit code is still the result's.
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure {
            code: EXIT_FAILED,
            error: anyhow::Error::new(e).context("cannot write to stdout"),
        }),
        _ => Ok(()),
    }
}

/// Runs the `leakproof` command line with the process's arguments; returns the exit code.
pub fn main() -> ExitCode {
    ExitCode::from(main_with_args(std::env::args_os()))
}

/// Runs the `leakproof` command line with `args` (the program name first) and returns the exit
/// code, for a front end that is not its own executable (the Python package's console script).
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    std::panic::set_hook(Box::new(|info| {
        eprintln!("leakproof: internal error: {info}");
    }));
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            eprintln!("leakproof: error: {:#}", failure.error);
            failure.code
        }
        Err(_) => {
            leakproof_harness::stop_all_targets(std::time::Duration::from_secs(2));
            101
        }
    }
}

/// Writes the report's artifacts to `dir` (when given), prints it as text or JSON, says a failure
/// or a crossed ceiling in one line on stderr, and returns its exit code.
pub(crate) fn print_report(
    report: &leakproof_report::Report,
    json: bool,
    dir: Option<&std::path::Path>,
) -> Outcome {
    use anyhow::Context;
    if let Some(dir) = dir {
        leakproof_harness::write_artifacts(report, dir, "drive")
            .with_context(|| format!("cannot write the report to {}", dir.display()))
            .exit_with(EXIT_USAGE)?;
        eprintln!("leakproof: report written to {}", dir.display());
    }
    if json {
        emit(&(report.render_json() + "\n"))?;
    } else {
        emit(&report.render_text())?;
    }
    if let Some(failure) = &report.failure {
        eprintln!("leakproof: error: {failure}");
    }
    if let Some(b) = &report.breach {
        eprintln!(
            "leakproof: ceiling crossed: {} is {}, above --max-{} {}, after {:.1} s",
            b.resource,
            b.resource.format_value(b.value),
            b.resource,
            b.resource.format_value(b.limit),
            b.at_secs
        );
    }
    Ok(report.exit_code())
}

fn run(cli: Cli) -> Outcome {
    match cli.command {
        args::Command::Analyze(a) => analyze::run(a),
        args::Command::Drive(a) => drive::run(a),
        args::Command::Watch(a) => watch::run(a),
        args::Command::Diff(a) => diff::run(a),
    }
}

/// Set by the Ctrl-C / SIGTERM handler, which then stops the targets and exits 130.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Stops every started target and exits 130 on Ctrl-C or SIGTERM, so no target outlives us.
pub(crate) fn install_signal_handler() {
    let _ = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        leakproof_harness::stop_all_targets(std::time::Duration::from_secs(2));
        eprintln!("leakproof: interrupted; target stopped");
        std::process::exit(130);
    });
}

/// When interrupted, the run ended because the handler stopped the target: report nothing and let
/// the handler exit 130.
pub(crate) fn wait_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
