//! `leakproof analyze`: judge a series read from a file or stdin.

use std::io::Read;

use anyhow::{anyhow, Context};
use leakproof_trend::{analyze, infer_model, Analysis, Config, NoiseModel, Warmup};
use serde::Serialize;

use crate::args::{AnalyzeArgs, Format, Model};
use crate::units::parse_series;
use crate::{ExitWith, Outcome, EXIT_USAGE};

/// The `--json` object of `analyze`.
#[derive(Serialize)]
struct AnalyzeJson<'a> {
    verdict: leakproof_trend::Verdict,
    slope: f64,
    slope_ci: (f64, f64),
    samples: &'a [f64],
    column: Option<&'a str>,
    /// The model's name (`heap`, `rss`, `counts`).
    model: &'static str,
    /// The measurement quantum the model assumes (0 for none).
    quantum: f64,
    /// Why this model: inferred from the data, or `--model`.
    model_reason: &'a str,
    analysis: &'a Analysis,
}

/// The noise model a series is judged with, and why.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Chosen {
    #[serde(skip)]
    pub(crate) config: Config,
    /// `heap`, `rss` or `counts`.
    pub(crate) name: &'static str,
    /// The measurement quantum (0 for none).
    pub(crate) quantum: f64,
    /// Inferred from the data (`--model auto`), or given.
    pub(crate) inferred: bool,
    /// One sentence.
    pub(crate) reason: String,
}

impl Chosen {
    /// `rss, quantum 4096 (inferred: ...)`, for the text output.
    pub(crate) fn describe(&self) -> String {
        let quantum = if self.quantum > 0.0 {
            format!(", quantum {}", self.quantum)
        } else {
            String::new()
        };
        let how = if self.inferred { "inferred: " } else { "" };
        format!("{}{quantum} ({how}{})", self.name, self.reason)
    }
}

/// The model of `--model` for these values (inferred for `auto`), with the `--warmup` applied.
pub(crate) fn choose(model: Model, values: &[f64], warmup: Option<usize>) -> Chosen {
    let given = |config: Config, name: &'static str| {
        let quantum = match config.noise {
            NoiseModel::Noisy { quantum } => quantum,
            _ => 0.0,
        };
        Chosen {
            config,
            name,
            quantum,
            inferred: false,
            reason: format!("--model {name}"),
        }
    };
    let mut chosen = match model {
        Model::Auto => {
            let m = infer_model(values);
            Chosen {
                config: m.config,
                name: m.name,
                quantum: m.quantum,
                inferred: true,
                reason: m.reason,
            }
        }
        Model::Rss => given(Config::rss(), "rss"),
        Model::Heap => given(Config::heap(), "heap"),
        Model::Counts => given(Config::counts(), "counts"),
    };
    if let Some(w) = warmup {
        chosen.config = chosen.config.with_warmup(Warmup::Fixed(w));
    }
    chosen
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
    match args.format {
        Format::Prometheus if args.column.is_some() => {
            Err(anyhow!("--column applies to --format csv only")).exit_with(EXIT_USAGE)
        }
        Format::Prometheus => crate::labelled::run(&args, &text, name),
        Format::Csv => run_csv(&args, &text, name),
    }
}

fn run_csv(args: &AnalyzeArgs, text: &str, name: &str) -> Outcome {
    let series = parse_series(text, args.column.as_deref())
        .map_err(|e| anyhow!("{name}: {e}"))
        .exit_with(EXIT_USAGE)?;
    if let Some((k, v)) = series.values.iter().enumerate().find(|(_, v)| **v < 0.0) {
        return Err(anyhow!(
            "{name}: sample {} is negative ({v}): sizes and counts are never negative",
            k + 1
        ))
        .exit_with(EXIT_USAGE);
    }
    let model = choose(args.model, &series.values, args.warmup);
    let analysis = analyze(&series.values, &model.config)
        .with_context(|| format!("{name}: cannot analyze the series"))
        .exit_with(EXIT_USAGE)?;
    if args.json {
        let json = AnalyzeJson {
            verdict: analysis.verdict,
            slope: analysis.slope,
            slope_ci: analysis.slope_ci,
            samples: &series.values,
            column: series.column.as_deref(),
            model: model.name,
            quantum: model.quantum,
            model_reason: &model.reason,
            analysis: &analysis,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json).exit_with(EXIT_USAGE)?
        );
    } else {
        let bytes = args.bytes || series.bytes;
        print!("{}", render(&analysis, &series.values, bytes, &model));
    }
    Ok(analysis.verdict.exit_code())
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

fn render(a: &Analysis, samples: &[f64], bytes: bool, model: &Chosen) -> String {
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
    out.push_str(&format!("model: {}\n", model.describe()));
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
