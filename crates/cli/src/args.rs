//! Command-line arguments (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_size};

/// Prove that a program does not leak memory, file descriptors or threads.
#[derive(Debug, Parser)]
#[command(
    name = "leakproof",
    version,
    after_help = "Exit codes: 0 stable, 1 leaking (or a ceiling crossed, or a leak proven before \
                  the workload failed), 2 bad usage or input, 3 inconclusive, 4 the workload or \
                  target failed.\n\
                  Results go to stdout; progress and errors to stderr."
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge a series of numbers, or every series of a Prometheus export: stable, leaking or
    /// inconclusive.
    #[command(
        after_help = "Input (--format csv, the default): one number per line, or CSV/TSV with a \
header row. Sizes like 12MiB or '4 KiB' are accepted; blank lines and # comments are skipped.
Input (--format prometheus): a Prometheus /api/v1/query_range JSON response, or long CSV with the \
header timestamp,<label columns>...,value (unix seconds); every series is judged, slopes per second, \
and the exit code is the worst verdict (leaking, then bad input, then inconclusive).
The noise model is inferred from the data unless --model is given; the output says which and why.

Examples:
  leakproof analyze rss.txt
  ps -o rss= -p 1234 | leakproof analyze -          # one number per line on stdin (KiB: quantum 4)
  leakproof analyze --column rss_bytes --json metrics.csv
  leakproof analyze --model counts open_fds.txt     # exact counts: any sustained growth is a leak
  curl -s 'http://prom:9090/api/v1/query_range?query=process_resident_memory_bytes&start=...&end=...&step=15s' \\
    | leakproof analyze --format prometheus -"
    )]
    Analyze(AnalyzeArgs),
    /// Start a target, run a workload against it N times, and judge its RSS, fds and threads.
    #[command(
        after_help = "The target runs in its own process group and is always stopped \
(SIGTERM, then SIGKILL after --grace), also on Ctrl-C.

Examples:
  leakproof drive --target './server --port 8080' --http http://127.0.0.1:8080/ -n 300
  leakproof drive --target 'python3 app.py' --ready-tcp 127.0.0.1:5000 \\
                  --each 'curl -sf http://127.0.0.1:5000/api >/dev/null' --json
  leakproof drive --target ./worker --each './client --once' --report leak-report/"
    )]
    Drive(DriveArgs),
    /// Sample a process tree over time; judge growth per second, enforce ceilings.
    #[command(after_help = "Examples:
  leakproof watch --pid 1234 --interval 1s --duration 10m --max-rss 500MiB
  leakproof watch --duration 60s --max-fds 1000 -- ./server --port 8080
  leakproof watch --interval 10ms --duration 5s --json -- python3 job.py")]
    Watch(WatchArgs),
    /// Compare two allocation snapshots (leakproof JSON) and show what grew.
    #[command(
        after_help = "Exit code 0 when nothing grew by more than --threshold, 1 when something did.

Examples:
  leakproof diff before.json after.json
  leakproof diff --group-by traceback --top 3 --threshold 64KiB before.json after.json
  leakproof diff --group-by function --cumulative --json before.json after.json"
    )]
    Diff(DiffArgs),
}

/// Noise model for `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// Inferred from the data: the quantum (GCD of the differences of whole numbers), exact versus
    /// noisy, small counts (see docs/detection.md).
    Auto,
    /// Noisy, page-quantized process RSS in bytes.
    Rss,
    /// Exact byte counts (a tracking allocator's live heap).
    Heap,
    /// Exact small counts (open fds, threads): any sustained growth is a leak.
    Counts,
}

/// Input format of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One series: one number per line, or CSV/TSV with a header row (`--column`).
    Csv,
    /// Many labelled time series: a Prometheus `query_range` JSON response, or long CSV
    /// `timestamp,<label columns>...,value`.
    Prometheus,
}

/// Arguments of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// File with the series, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    pub input: String,
    /// CSV column to judge (header name, or 1-based number without a header) [default: the last
    /// numeric column].
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,
    /// Noise model of the series (the one used is printed, with the reason).
    #[arg(long, value_enum, default_value = "auto")]
    pub model: Model,
    /// Input format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Leading samples excluded as warm-up [default: detected].
    #[arg(long, value_name = "N")]
    pub warmup: Option<usize>,
    /// Treat the values as bytes in the text output (automatic when sizes like 12MiB were used).
    #[arg(long)]
    pub bytes: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `drive`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("driver").required(true).args(["each", "http"])))]
pub struct DriveArgs {
    /// The target: a shell command line, started in its own process group.
    #[arg(long, value_name = "CMD")]
    pub target: String,
    /// Driver: a shell command run once per iteration (it gets LEAKPROOF_ITERATION in its
    /// environment); a non-zero exit is a failure.
    #[arg(long, value_name = "CMD")]
    pub each: Option<String>,
    /// Driver: one HTTP GET of this plain-http URL per iteration, in-process; a status >= 400 or a
    /// connection error is a failure.
    #[arg(long, value_name = "URL")]
    pub http: Option<String>,
    /// Ready when HOST:PORT accepts TCP connections.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "ready_http")]
    pub ready_tcp: Option<String>,
    /// Ready when this URL answers with a status below 500 [default with --http: the --http URL].
    #[arg(long, value_name = "URL")]
    pub ready_http: Option<String>,
    /// How long to wait until the target is ready.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub ready_timeout: Duration,
    /// Iterations (extended up to --max-iterations while the verdict is inconclusive).
    #[arg(short = 'n', long = "iterations", value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,
    /// Leading iterations excluded as warm-up [default: detected].
    #[arg(long, value_name = "W")]
    pub warmup: Option<usize>,
    /// Upper bound when an inconclusive run is extended [default: 10 x N].
    #[arg(long, value_name = "M")]
    pub max_iterations: Option<usize>,
    /// Tolerate this many failing driver iterations.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub allow_failures: usize,
    /// Time between SIGTERM and SIGKILL when stopping the target.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Agent injected by environment: auto recognises Python and node targets, attaches to a
    /// `java` target (HotSpot's Dynamic Attach; Linux), and preloads the native malloc agent into
    /// other dynamically linked executables (C, C++, Rust; Linux, glibc); their own heap is judged
    /// and its growing lines (a JVM's growing classes) named. python, node, native and jvm force
    /// one; none judges the process tree's RSS only.
    #[arg(long, value_name = "AGENT", default_value = "auto", value_parser = parse_agent)]
    pub agent: leakproof_harness::AgentChoice,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the report as JSON and an SVG chart into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// Arguments of `watch`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["pid", "command"])))]
pub struct WatchArgs {
    /// Watch this running process (and its descendants).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
    /// Time between samples [default: chosen from --duration: 1s for a minute or more, else a
    /// sixtieth of it, at least 10ms]. One that gives fewer samples than a verdict needs is
    /// warned about at the start.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// How long to watch.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Exit 1 as soon as the tree's RSS is above this size (e.g. 500MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size_arg)]
    pub max_rss: Option<f64>,
    /// Exit 1 as soon as the tree has more open file descriptors than this.
    #[arg(long, value_name = "N")]
    pub max_fds: Option<u64>,
    /// Agent for a started command (auto, python, node, native, jvm, none): its own heap is
    /// judged over time beside the tree's RSS. With --pid only a JVM's (attached to from outside).
    #[arg(long, value_name = "AGENT", default_value = "auto", value_parser = parse_agent)]
    pub agent: leakproof_harness::AgentChoice,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Start this command (in its own process group) and watch it.
    #[arg(last = true, value_name = "CMD ARGS")]
    pub command: Vec<String>,
}

fn parse_size_arg(s: &str) -> Result<f64, String> {
    let v = parse_size(s)?;
    if v < 0.0 {
        return Err(format!("`{s}` is negative"));
    }
    Ok(v)
}

/// How `diff` groups allocation sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    /// By source line of the user frame.
    Line,
    /// By function.
    Function,
    /// By source file.
    File,
    /// By whole traceback.
    Traceback,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier snapshot (leakproof JSON).
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    /// The later snapshot.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// How to group allocation sites.
    #[arg(long, value_enum, default_value = "line")]
    pub group_by: GroupBy,
    /// Rows to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Count a site in every frame of its traceback, not only the first.
    #[arg(long)]
    pub cumulative: bool,
    /// Growth (bytes, sizes like 64KiB allowed) above which a group counts as grown.
    #[arg(long, value_name = "SIZE", default_value = "0", value_parser = parse_size_arg)]
    pub threshold: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_agent(s: &str) -> Result<leakproof_harness::AgentChoice, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn drive_needs_exactly_one_driver() {
        assert!(Cli::try_parse_from(["leakproof", "drive", "--target", "x"]).is_err());
        assert!(Cli::try_parse_from([
            "leakproof",
            "drive",
            "--target",
            "x",
            "--each",
            "y",
            "--http",
            "http://h/"
        ])
        .is_err());
        let cli = Cli::try_parse_from([
            "leakproof",
            "drive",
            "--target",
            "x",
            "--each",
            "y",
            "-n",
            "5",
        ])
        .unwrap();
        match cli.command {
            Command::Drive(d) => assert_eq!(d.iterations, 5),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from([
            "leakproof",
            "drive",
            "--target",
            "x",
            "--each",
            "y",
            "-n",
            "0"
        ])
        .is_err());
    }

    #[test]
    fn watch_takes_a_pid_or_a_command() {
        let cli = Cli::try_parse_from([
            "leakproof",
            "watch",
            "--max-rss",
            "500MiB",
            "--",
            "sleep",
            "1",
        ])
        .unwrap();
        match cli.command {
            Command::Watch(w) => {
                assert_eq!(w.command, vec!["sleep", "1"]);
                assert_eq!(w.max_rss, Some(500.0 * 1024.0 * 1024.0));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["leakproof", "watch"]).is_err());
        assert!(Cli::try_parse_from(["leakproof", "watch", "--pid", "1", "--", "x"]).is_err());
        assert!(
            Cli::try_parse_from(["leakproof", "watch", "--pid", "1", "--interval", "soon"])
                .is_err()
        );
    }
}
