//! `leakproof analyze`: judge a series read from a file or stdin.

use std::io::Read;

use anyhow::Context;
use leakproof_trend::{analyze, Analysis, Config, Warmup};
use serde::Serialize;

use crate::args::{AnalyzeArgs, Model};
use crate::units::parse_series;
use crate::{verdict_code, ExitWith, Outcome, EXIT_USAGE};

/// The `--json` object of `analyze`.
#[derive(Serialize)]
struct AnalyzeJson<'a> {
    verdict: leakproof_trend::Verdict,
    slope: f64,
    slope_ci: (f64, f64),
    samples: &'a [f64],
    column: Option<&'a str>,
    model: &'static str,
    analysis: &'a Analysis,
}

fn read_input(input: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    if input == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read stdin")?;
    } else {
        text = std::fs::read_to_string(input).with_context(|| format!("cannot read `{input}`"))?;
    }
    Ok(text)
}

pub(crate) fn run(args: AnalyzeArgs) -> Outcome {
    let text = read_input(&args.input).exit_with(EXIT_USAGE)?;
    let name = if args.input == "-" {
        "stdin"
    } else {
        args.input.as_str()
    };
    let series = parse_series(&text, args.column.as_deref())
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))
        .exit_with(EXIT_USAGE)?;
    let (config, model) = match args.model {
        Model::Rss => (Config::rss(), "rss"),
        Model::Heap => (Config::heap(), "heap"),
        Model::Counts => (Config::counts(), "counts"),
    };
    let config = match args.warmup {
        Some(w) => config.with_warmup(Warmup::Fixed(w)),
        None => config,
    };
    let analysis = analyze(&series.values, &config)
        .with_context(|| format!("{name}: cannot analyze the series"))
        .exit_with(EXIT_USAGE)?;
    if args.json {
        let json = AnalyzeJson {
            verdict: analysis.verdict,
            slope: analysis.slope,
            slope_ci: analysis.slope_ci,
            samples: &series.values,
            column: series.column.as_deref(),
            model,
            analysis: &analysis,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json).exit_with(EXIT_USAGE)?
        );
    } else {
        let bytes = args.bytes || series.bytes;
        print!("{}", render(&analysis, &series.values, bytes));
    }
    Ok(verdict_code(analysis.verdict))
}

/// A value for people: bytes as `1.2 MiB` when the series is bytes, else a plain number.
pub(crate) fn value(v: f64, bytes: bool) -> String {
    if bytes {
        let sign = if v < 0.0 { "-" } else { "" };
        let abs = v.abs();
        if abs < 1024.0 {
            return format!("{sign}{abs:.0} B");
        }
        format!("{sign}{}", leakproof_diff::format_bytes(abs.round() as u64))
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

fn render(a: &Analysis, samples: &[f64], bytes: bool) -> String {
    let mut out = format!("verdict: {}\n", a.verdict);
    out.push_str(&format!(
        "slope: {} per sample ({:.0}% CI {} .. {})\n",
        value(a.slope, bytes),
        a.confidence * 100.0,
        value(a.slope_ci.0, bytes),
        value(a.slope_ci.1, bytes),
    ));
    out.push_str(&format!(
        "samples: {} (warm-up {}), total growth {}\n",
        a.samples,
        a.warmup_end,
        value(a.total_growth, bytes)
    ));
    if let Some(p) = &a.plateau {
        out.push_str(&format!(
            "plateau: from sample {} at {}\n",
            p.start,
            value(p.level, bytes)
        ));
    }
    if let Some(more) = a.more_samples {
        out.push_str(&format!("needs about {more} more samples to decide\n"));
    }
    out.push_str(&leakproof_harness::text_chart(
        samples,
        a.warmup_end,
        60,
        10,
    ));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&a.reason);
    out.push('\n');
    out
}
