//! `leakproof analyze`: judge a series read from a file or stdin.

use std::io::Read;

use anyhow::{anyhow, Context};
use leakproof_report::{ModelChoice, Report, Resource, ResourceReport};
use leakproof_trend::{analyze, infer_model, Config, NoiseModel, Warmup};

use crate::args::{AnalyzeArgs, Format, Model};
use crate::units::parse_series;
use crate::{ExitWith, Outcome, EXIT_USAGE};

/// The config a series is judged with, and the model it stands for with why: `--model`, or the
/// model inferred from `values` for `auto`; the `--warmup` applied.
pub(crate) fn choose(model: Model, values: &[f64], warmup: Option<usize>) -> (Config, ModelChoice) {
    let given = |config: Config, name: &str| {
        let quantum = match config.noise {
            NoiseModel::Noisy { quantum } => quantum,
            _ => 0.0,
        };
        let choice = ModelChoice {
            name: name.to_owned(),
            quantum,
            inferred: false,
            reason: format!("--model {name}"),
        };
        (config, choice)
    };
    let (config, choice) = match model {
        Model::Auto => {
            let m = infer_model(values);
            let choice = ModelChoice {
                name: m.name.to_owned(),
                quantum: m.quantum,
                inferred: true,
                reason: m.reason,
            };
            (m.config, choice)
        }
        Model::Rss => given(Config::rss(), "rss"),
        Model::Heap => given(Config::heap(), "heap"),
        Model::Counts => given(Config::counts(), "counts"),
    };
    match warmup {
        Some(w) => (config.with_warmup(Warmup::Fixed(w)), choice),
        None => (config, choice),
    }
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
    let (config, model) = choose(args.model, &series.values, args.warmup);
    let analysis = analyze(&series.values, &config)
        .with_context(|| format!("{name}: cannot analyze the series"))
        .exit_with(EXIT_USAGE)?;
    let resource = match args.bytes || series.bytes {
        true => Resource::Memory,
        false => Resource::Series,
    };
    let source = match &series.column {
        Some(column) => format!("column `{column}` of {name}"),
        None => name.to_owned(),
    };
    let mut judged = ResourceReport::new(resource, source, series.values, analysis);
    judged.model = Some(model);
    let report = Report::recorded(name, judged, args.warmup, None);
    crate::print_report(&report, args.json, None)
}
