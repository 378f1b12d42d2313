//! `leakproof watch`: a thin layer over [`leakproof_harness::Watch`].

use std::process::{Command, Stdio};

use anyhow::anyhow;
use leakproof_harness::{Watch, WatchError};

use crate::args::WatchArgs;
use crate::progress::Progress;
use crate::{install_signal_handler, print_report, wait_if_interrupted, ExitWith, Outcome};
use crate::{EXIT_FAILED, EXIT_USAGE};

pub(crate) fn run(args: WatchArgs) -> Outcome {
    install_signal_handler();
    let watch = match (args.pid, args.command.split_first()) {
        (Some(pid), _) => Watch::pid(pid),
        (None, Some((program, rest))) => {
            let mut cmd = Command::new(program);
            cmd.args(rest).stdout(Stdio::null());
            Watch::command(cmd)
        }
        (None, None) => return Err(anyhow!("give --pid PID or -- CMD ARGS")).exit_with(EXIT_USAGE),
    };
    let mut watch = watch.duration(args.duration).agent(args.agent);
    if let Some(interval) = args.interval {
        watch = watch.interval(interval);
    }
    if let Some(bytes) = args.max_rss {
        watch = watch.max_rss(bytes);
    }
    if let Some(fds) = args.max_fds {
        watch = watch.max_fds(fds);
    }
    let plan = watch.plan();
    if let Some(warning) = plan.too_few_samples() {
        eprintln!("leakproof: warning: {warning}");
    }
    let mut progress = Progress::new("sample", plan.samples as u64);
    let result = watch
        .run_with_progress(|p| progress.update(p.iteration as u64, p.planned as u64, &p.summary()));
    progress.finish();
    wait_if_interrupted();
    let report = result.map_err(|e| {
        let code = watch_error_code(&e);
        crate::Failure {
            code,
            error: e.into(),
        }
    })?;
    print_report(&report, args.json, None)
}

fn watch_error_code(e: &WatchError) -> u8 {
    match e {
        WatchError::NoSuchProcess(_) | WatchError::Settings(_) | WatchError::ZeroInterval => {
            EXIT_USAGE
        }
        _ => EXIT_FAILED,
    }
}
