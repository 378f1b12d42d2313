//! `leakproof watch`: sample a process tree over time, judge growth per second, enforce ceilings.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use leakproof_harness::drive::{describe_status, Target, TreeSeries};
use leakproof_sample::{ProbeError, TreeProbe};
use leakproof_trend::{analyze, Analysis, Config, Verdict};
use serde::Serialize;

use crate::analyze::value;
use crate::args::WatchArgs;
use crate::progress::Progress;
use crate::{
    install_signal_handler, verdict_code, wait_if_interrupted, ExitWith, Outcome, EXIT_FAILED,
    EXIT_LEAKING, EXIT_USAGE,
};

/// Fewer samples than this from a process that exited early: exit 4 instead of a verdict.
const MIN_SAMPLES: usize = 10;

/// How often a watched tree is searched for new descendants.
const RESCAN: Duration = Duration::from_millis(250);

#[derive(Serialize)]
struct ResourceJson<'a> {
    resource: &'static str,
    verdict: Verdict,
    /// Units per second.
    slope: f64,
    slope_ci: (f64, f64),
    samples: &'a [f64],
    analysis: &'a Analysis,
}

#[derive(Serialize)]
struct Ceiling {
    resource: &'static str,
    limit: f64,
    value: f64,
    at_secs: f64,
}

#[derive(Serialize)]
struct WatchJson<'a> {
    verdict: Verdict,
    /// RSS growth in bytes per second.
    slope: f64,
    slope_ci: (f64, f64),
    samples: &'a [f64],
    pid: u32,
    interval_secs: f64,
    duration_secs: f64,
    resources: Vec<ResourceJson<'a>>,
    ceiling: Option<Ceiling>,
    exited: Option<String>,
}

pub(crate) fn run(args: WatchArgs) -> Outcome {
    install_signal_handler();
    if args.interval.is_zero() {
        return Err(anyhow!("--interval must be greater than zero")).exit_with(EXIT_USAGE);
    }
    let mut target = None;
    let pid = match (args.pid, args.command.split_first()) {
        (Some(pid), _) => pid,
        (None, Some((program, rest))) => {
            let mut cmd = Command::new(program);
            cmd.args(rest).stdout(Stdio::null());
            let t = Target::spawn(cmd).exit_with(EXIT_FAILED)?;
            let pid = t.pid();
            target = Some(t);
            pid
        }
        (None, None) => return Err(anyhow!("give --pid PID or -- CMD ARGS")).exit_with(EXIT_USAGE),
    };
    // New descendants are looked for at most every 250 ms (every sample at longer intervals):
    // the kept-open per-process probes keep a 10 ms interval cheap.
    let mut probe = match TreeProbe::new(pid, RESCAN) {
        Ok(p) => p,
        Err(ProbeError::Gone { .. }) if target.is_none() => {
            return Err(anyhow!("no process with PID {pid}")).exit_with(EXIT_USAGE)
        }
        Err(ProbeError::Gone { .. }) => {
            let status = target
                .as_mut()
                .and_then(|t| t.wait_status(Duration::from_millis(500)))
                .map_or_else(|| "it exited".to_string(), describe_status);
            return Err(anyhow!(
                "process {pid} ended before the first sample ({status}): too few samples to judge"
            ))
            .exit_with(EXIT_FAILED);
        }
        Err(e) => return Err(anyhow!("cannot watch PID {pid}: {e}")).exit_with(EXIT_FAILED),
    };
    let interval = args.interval.as_secs_f64();
    let planned = (args.duration.as_secs_f64() / interval).floor() as u64 + 1;
    let mut progress = Progress::new("sample", planned);
    let mut series = TreeSeries::default();
    let mut ceiling = None;
    let mut exited = None;
    let start = Instant::now();
    let mut k: u32 = 0;
    loop {
        // A process that exited (reaped by now, or a zombie: no memory and no descriptors) is not
        // sampled at work.
        let sampled = probe.sample().and_then(|s| {
            let reaped = target.as_mut().is_some_and(|t| t.try_status().is_some());
            if (s.rss_bytes == 0 && s.fds == 0) || reaped {
                Err(ProbeError::Gone { pid })
            } else {
                Ok(s)
            }
        });
        match sampled {
            Ok(s) => {
                series.push(&s);
                let at_secs = start.elapsed().as_secs_f64();
                if let Some(limit) = args.max_rss {
                    if s.rss_bytes as f64 > limit {
                        ceiling = Some(Ceiling {
                            resource: "rss",
                            limit,
                            value: s.rss_bytes as f64,
                            at_secs,
                        });
                    }
                }
                if let Some(limit) = args.max_fds {
                    if s.fds > limit && ceiling.is_none() {
                        ceiling = Some(Ceiling {
                            resource: "fds",
                            limit: limit as f64,
                            value: s.fds as f64,
                            at_secs,
                        });
                    }
                }
                progress.update(
                    series.len() as u64,
                    planned,
                    &format!(
                        "rss {}, {} fds, {} threads",
                        leakproof_diff::format_bytes(s.rss_bytes),
                        s.fds,
                        s.threads
                    ),
                );
                if ceiling.is_some() {
                    break;
                }
            }
            Err(ProbeError::Gone { .. }) => {
                let status = target
                    .as_mut()
                    .and_then(|t| t.wait_status(Duration::from_millis(500)))
                    .map_or_else(|| "it exited".to_string(), describe_status);
                exited = Some(format!(
                    "process {pid} ended after {:.1} s ({status})",
                    start.elapsed().as_secs_f64()
                ));
                // The last sample may have caught the process tearing down (closing its files,
                // freeing memory on its way out): it is not judged.
                series.pop();
                break;
            }
            Err(e) => {
                return Err(anyhow!("cannot sample PID {pid}: {e}")).exit_with(EXIT_FAILED);
            }
        }
        k += 1;
        let next = args.interval * k;
        if next > args.duration {
            break;
        }
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
    }
    progress.finish();
    wait_if_interrupted();
    let duration_secs = start.elapsed().as_secs_f64();
    let tail = target.as_ref().map(Target::stderr_tail).unwrap_or_default();
    drop(target); // stop a started command now: no orphan, whatever happens next
    if let Some(msg) = &exited {
        if series.len() < MIN_SAMPLES && ceiling.is_none() {
            let last = tail
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| format!("; its last stderr line: {}", l.trim()))
                .unwrap_or_default();
            return Err(anyhow!(
                "{msg}: only {} samples, too few to judge (need {MIN_SAMPLES}){last}",
                series.len()
            ))
            .exit_with(EXIT_FAILED);
        }
        eprintln!(
            "leakproof: {msg}; judging the {} samples collected",
            series.len()
        );
    }
    let judged = [
        ("rss", &series.rss, Config::rss()),
        ("fds", &series.fds, Config::counts()),
        ("threads", &series.threads, Config::counts()),
    ]
    .into_iter()
    .map(|(name, samples, config)| analyze(samples, &config).map(|a| (name, samples, a)))
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| anyhow!("cannot analyze the samples: {e}"))
    .exit_with(EXIT_FAILED)?;
    let verdict = judged
        .iter()
        .map(|(_, _, a)| a.verdict)
        .fold(Verdict::Stable, leakproof_harness::worst);
    let per_sec = |x: f64| x / interval;
    if args.json {
        let rss = &judged[0].2;
        let json = WatchJson {
            verdict,
            slope: per_sec(rss.slope),
            slope_ci: (per_sec(rss.slope_ci.0), per_sec(rss.slope_ci.1)),
            samples: &series.rss,
            pid,
            interval_secs: interval,
            duration_secs,
            resources: judged
                .iter()
                .map(|(name, samples, a)| ResourceJson {
                    resource: name,
                    verdict: a.verdict,
                    slope: per_sec(a.slope),
                    slope_ci: (per_sec(a.slope_ci.0), per_sec(a.slope_ci.1)),
                    samples,
                    analysis: a,
                })
                .collect(),
            ceiling,
            exited,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json).exit_with(EXIT_FAILED)?
        );
        return Ok(if json.ceiling.is_some() {
            EXIT_LEAKING
        } else {
            verdict_code(verdict)
        });
    }
    let mut out = format!("verdict: {verdict}\n");
    for (name, _, a) in &judged {
        let bytes = *name == "rss";
        out.push_str(&format!(
            "{name:<8} {:<12} {}/s (CI {}/s .. {}/s)\n",
            a.verdict.to_string(),
            value(per_sec(a.slope), bytes),
            value(per_sec(a.slope_ci.0), bytes),
            value(per_sec(a.slope_ci.1), bytes),
        ));
    }
    out.push_str(&format!(
        "{} samples over {duration_secs:.1} s, every {}\n",
        series.len(),
        humanize(args.interval)
    ));
    out.push_str(&leakproof_harness::text_chart(
        &series.rss,
        judged[0].2.warmup_end,
        60,
        8,
    ));
    print!("{out}");
    if let Some(c) = ceiling {
        let (val, lim) = if c.resource == "rss" {
            (value(c.value, true), value(c.limit, true))
        } else {
            (format!("{:.0}", c.value), format!("{:.0}", c.limit))
        };
        eprintln!(
            "leakproof: ceiling crossed: {} is {val}, above --max-{} {lim}, after {:.1} s",
            c.resource, c.resource, c.at_secs
        );
        return Ok(EXIT_LEAKING);
    }
    Ok(verdict_code(verdict))
}

fn humanize(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
