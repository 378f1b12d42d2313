//! `leakproof diff`: compare two allocation snapshots.

use anyhow::Context;
use leakproof_diff::{compare, render_table, Snapshot, StatDiff};
use serde::Serialize;

use crate::args::{DiffArgs, GroupBy};
use crate::{ExitWith, Outcome, EXIT_LEAKING, EXIT_STABLE, EXIT_USAGE};

#[derive(Serialize)]
struct DiffJson<'a> {
    grew: bool,
    threshold: f64,
    total_bytes_diff: i64,
    diffs: &'a [StatDiff],
}

pub(crate) fn run(args: DiffArgs) -> Outcome {
    let load = |p: &std::path::Path| {
        Snapshot::load(p).with_context(|| format!("cannot load snapshot {}", p.display()))
    };
    let old = load(&args.old).exit_with(EXIT_USAGE)?;
    let new = load(&args.new).exit_with(EXIT_USAGE)?;
    let group_by = match args.group_by {
        GroupBy::Line => leakproof_diff::GroupBy::Line,
        GroupBy::Function => leakproof_diff::GroupBy::Function,
        GroupBy::File => leakproof_diff::GroupBy::File,
        GroupBy::Traceback => leakproof_diff::GroupBy::Traceback,
    };
    let diffs = compare(&old, &new, group_by, args.cumulative);
    let grew = diffs.iter().any(|d| d.size_diff as f64 > args.threshold);
    let total = new.total_bytes as i64 - old.total_bytes as i64;
    if args.json {
        let json = DiffJson {
            grew,
            threshold: args.threshold,
            total_bytes_diff: total,
            diffs: &diffs[..diffs.len().min(args.top)],
        };
        let json = serde_json::to_string_pretty(&json).exit_with(EXIT_USAGE)?;
        crate::emit(&(json + "\n"))?;
    } else {
        let verdict = if grew {
            "grew"
        } else {
            "no growth above the threshold"
        };
        crate::emit(&format!(
            "{}total: {} ({verdict})\n",
            render_table(&diffs, args.top),
            leakproof_diff::format_bytes_signed(total),
        ))?;
    }
    Ok(if grew { EXIT_LEAKING } else { EXIT_STABLE })
}
