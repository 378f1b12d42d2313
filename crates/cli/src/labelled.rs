//! Judging many labelled time series (`analyze --format prometheus`): one row per series, slopes per
//! second, and the worst verdict as the exit code.
//!
//! Each series is judged on its sample index (one scrape, one sample), as any series is; the slope per
//! sample is then divided by the series' median time step to give units per second. A range query's
//! samples are evenly spaced; where a series has gaps (a target down for a while), the median step
//! ignores them and a note says so.

use std::collections::BTreeMap;

use anyhow::anyhow;
use leakproof_report::{Report, Resource, ResourceReport, SCHEMA_VERSION};
use leakproof_trend::{analyze, Verdict};
use serde::Serialize;

use crate::analyze::choose;
use crate::args::AnalyzeArgs;
use crate::prometheus::{parse, LabelledSeries};
use crate::{ExitWith, Outcome, EXIT_USAGE};

/// A series whose largest step is more than this many median steps apart has gaps.
const GAP_FACTOR: f64 = 2.0;

/// One input series and what became of it: its report (slopes per second over its median step),
/// or why it could not be judged.
struct Row<'a> {
    series: &'a LabelledSeries,
    judged: Result<Report, String>,
    /// Notes of a series that could not be judged (a judged one's are in its report).
    notes: Vec<String>,
}

impl Row<'_> {
    /// Severity for the exit code: Leaking, then bad input, then Inconclusive, then Stable.
    fn rank(&self) -> u8 {
        match &self.judged {
            Ok(r) if r.verdict == Verdict::Leaking => 3,
            Err(_) => 2,
            Ok(r) if r.verdict == Verdict::Inconclusive => 1,
            Ok(_) => 0,
        }
    }

    fn verdict(&self) -> &'static str {
        match &self.judged {
            Ok(r) => r.verdict.as_str(),
            Err(_) => "invalid",
        }
    }

    fn code(&self) -> u8 {
        match &self.judged {
            Ok(r) => r.exit_code(),
            Err(_) => EXIT_USAGE,
        }
    }
}

/// `analyze --format prometheus`: parse, judge every series, print, exit with the worst verdict.
pub(crate) fn run(args: &AnalyzeArgs, text: &str, input: &str) -> Outcome {
    let all = parse(text)
        .map_err(|e| anyhow!("{input}: {e}"))
        .exit_with(EXIT_USAGE)?;
    let longest = all.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let bytes = |s: &LabelledSeries| {
        args.bytes
            || s.name()
                .split('{')
                .next()
                .is_some_and(|m| m.ends_with("_bytes"))
    };
    let rows: Vec<Row> = all
        .iter()
        .map(|s| judge(s, args, longest, bytes(s)))
        .collect();
    // Nothing to judge: one line, naming the first series' problem.
    if rows.iter().all(|r| r.judged.is_err()) {
        let (name, err) = rows
            .first()
            .and_then(|r| Some((r.series.name(), r.judged.as_ref().err()?.as_str())))
            .unwrap_or_default();
        let more = match rows.len() {
            1 => String::new(),
            n => format!(" (none of the {n} series can be judged)"),
        };
        return Err(anyhow!("{input}: {name}: {err}{more}")).exit_with(EXIT_USAGE);
    }
    if args.json {
        let json = to_json(&rows)
            .ok_or_else(|| anyhow!("{input}: no series judged"))
            .exit_with(EXIT_USAGE)?;
        let json = serde_json::to_string_pretty(&json).exit_with(EXIT_USAGE)?;
        crate::emit(
            &(json
                + "
"),
        )?;
    } else {
        crate::emit(&render(&rows, input))?;
    }
    Ok(exit_code(&rows))
}

/// The exit code of the worst row: Leaking (1), then a series that could not be judged (2), then
/// Inconclusive (3), then Stable (0).
fn exit_code(rows: &[Row]) -> u8 {
    rows.iter()
        .max_by_key(|r| r.rank())
        .map_or(EXIT_USAGE, Row::code)
}

fn judge<'a>(
    series: &'a LabelledSeries,
    args: &AnalyzeArgs,
    longest: usize,
    bytes: bool,
) -> Row<'a> {
    let mut notes = Vec::new();
    let n = series.values.len();
    if n < longest {
        notes.push(format!(
            "{n} samples, fewer than the longest series ({longest}): judged on its own"
        ));
    }
    if let Some(why) = &series.invalid {
        return Row {
            series,
            judged: Err(why.clone()),
            notes,
        };
    }
    let mut steps: Vec<f64> = series.times.windows(2).map(|w| w[1] - w[0]).collect();
    steps.sort_by(f64::total_cmp);
    let step = (!steps.is_empty()).then(|| steps[steps.len() / 2]);
    if let (Some(median), Some(&max)) = (step, steps.last()) {
        if max > GAP_FACTOR * median {
            notes.push(format!(
                "uneven steps: up to {} against a median of {}; the slope per second assumes the \
                 median step",
                secs(max),
                secs(median)
            ));
        }
    }
    let (config, model) = choose(args.model, &series.values, args.warmup);
    let judged = analyze(&series.values, &config)
        .map(|analysis| {
            let resource = if bytes {
                Resource::Memory
            } else {
                Resource::Series
            };
            let name = series.name();
            let mut judged = ResourceReport::new(resource, &name, series.values.clone(), analysis);
            judged.model = Some(model);
            let mut report = Report::recorded(name, judged, args.warmup, step);
            report.notes = std::mem::take(&mut notes);
            report
        })
        .map_err(|e| e.to_string());
    Row {
        series,
        judged,
        notes,
    }
}

/// Three significant digits, no exponent for ordinary values.
fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{x:.digits$}")
}

/// Seconds: `15s`, `0.250s`.
fn secs(s: f64) -> String {
    if s.fract() == 0.0 && s.abs() < 1e15 {
        format!("{s:.0}s")
    } else {
        format!("{}s", sig(s))
    }
}

/// A signed rate for people: bytes as `+2.7 KiB` (leakproof's one size formatter) when the series
/// is bytes, else a plain number with three significant digits.
fn rate(v: Option<f64>, resource: Resource) -> String {
    match v {
        None => "-".into(),
        Some(v) if resource.is_memory() => resource.format_rate(v, true),
        Some(v) if v > 0.0 => format!("+{}", sig(v)),
        Some(v) => sig(v),
    }
}

/// The series' resource (`memory` or `series`) and its report, when it was judged.
fn judged<'a>(r: &'a Row<'_>) -> Option<(Resource, &'a Report)> {
    let report = r.judged.as_ref().ok()?;
    Some((report.resources.first()?.resource, report))
}

fn render(rows: &[Row], input: &str) -> String {
    let mut out = format!(
        "{} series from {input}; each judged per sample, slopes per second over its median step\n\n",
        rows.len()
    );
    out.push_str(&format!(
        "{:<13} {:>12} {:>12} {:>8} {:>8}  SERIES\n",
        "VERDICT", "SLOPE/S", "SLOPE/H", "SAMPLES", "STEP"
    ));
    for r in rows {
        let (s, h, step) = match judged(r) {
            Some((resource, report)) => {
                let step = report.config.interval_secs;
                let per_s = step.and(report.slope);
                (
                    rate(per_s, resource),
                    rate(per_s.map(|v| v * 3600.0), resource),
                    step.map_or("-".into(), secs),
                )
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        out.push_str(&format!(
            "{:<13} {:>12} {:>12} {:>8} {:>8}  {}\n",
            r.verdict(),
            s,
            h,
            r.series.values.len(),
            step,
            r.series.name()
        ));
    }
    for r in rows {
        out.push_str(&format!("\n{}: {}\n", r.series.name(), r.verdict()));
        render_details(&mut out, r);
    }
    out
}

/// A series' slope per second with its interval, the model and the reason (or why it could not be
/// judged), then its notes.
fn render_details(out: &mut String, r: &Row) {
    let notes = match &r.judged {
        Ok(report) => {
            render_judged(out, report);
            &report.notes
        }
        Err(why) => {
            out.push_str(&format!("  cannot be judged: {why}\n"));
            &r.notes
        }
    };
    for n in notes {
        out.push_str(&format!("  note: {n}\n"));
    }
}

fn render_judged(out: &mut String, report: &Report) {
    let Some(series) = report.resources.first() else {
        return;
    };
    let per_s = |v: f64| report.config.interval_secs.map(|_| v);
    let model = series.model.as_ref().map(ToString::to_string);
    let slope = match (report.slope, report.slope_ci, series.no_estimate()) {
        (Some(slope), Some((lo, hi)), _) => format!(
            "slope {}/s ({:.0}% CI {} .. {})",
            rate(per_s(slope), series.resource),
            series.analysis.confidence * 100.0,
            rate(per_s(lo), series.resource),
            rate(per_s(hi), series.resource),
        ),
        (_, _, missing) => format!("slope: {}", missing.unwrap_or_default()),
    };
    out.push_str(&format!(
        "  {slope}\n  model: {}\n  {}\n",
        model.unwrap_or_default(),
        series.analysis.reason
    ));
}

/// One series in `--json`: its report (the shape of every leakproof report, with slopes per second
/// at the top level), or why it could not be judged.
#[derive(Serialize)]
struct SeriesJson<'a> {
    name: String,
    labels: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

/// `--json` of `--format prometheus`: the worst verdict of the judged series and the series that
/// decided it, how many could not be judged, then every series.
#[derive(Serialize)]
struct LabelledJson<'a> {
    schema: u32,
    verdict: Verdict,
    /// Units per second, of the deciding series (per sample when it has one sample); null when it
    /// has no estimate (too few samples).
    slope: Option<f64>,
    slope_ci: Option<(f64, f64)>,
    /// Number of samples of the deciding series.
    samples: usize,
    deciding_series: String,
    /// Series that could not be judged (a NaN, a negative value, timestamps going back).
    invalid_series: usize,
    series: Vec<SeriesJson<'a>>,
}

fn series_json<'a>(r: &'a Row) -> SeriesJson<'a> {
    SeriesJson {
        name: r.series.name(),
        labels: r
            .series
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        report: r.judged.as_ref().ok(),
        error: r.judged.as_ref().err().map(String::as_str),
        notes: &r.notes,
    }
}

fn to_json<'a>(rows: &'a [Row]) -> Option<LabelledJson<'a>> {
    let (_, decider) = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.judged.as_ref().ok()?)))
        .max_by_key(|&(i, r)| (r.verdict, std::cmp::Reverse(i)))?;
    Some(LabelledJson {
        schema: SCHEMA_VERSION,
        verdict: decider.verdict,
        slope: decider.slope,
        slope_ci: decider.slope_ci,
        samples: decider.samples.len(),
        deciding_series: decider.name.clone(),
        invalid_series: rows.iter().filter(|r| r.judged.is_err()).count(),
        series: rows.iter().map(series_json).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Format, Model};

    fn args() -> AnalyzeArgs {
        AnalyzeArgs {
            input: "-".into(),
            column: None,
            model: Model::Auto,
            format: Format::Prometheus,
            warmup: None,
            bytes: false,
            json: false,
        }
    }

    fn every_10s(values: Vec<f64>) -> LabelledSeries {
        let times = (0..values.len()).map(|i| 10.0 * i as f64).collect();
        LabelledSeries::new(vec![("job".into(), "a".into())], times, values)
    }

    #[test]
    fn slopes_per_second_use_the_median_step_and_gaps_are_noted() {
        // +5 per sample, every 10 s but for one 300 s gap: 0.5 per second.
        let mut s = every_10s((0..100).map(|i| 1000.0 + 5.0 * i as f64).collect());
        for t in &mut s.times[50..] {
            *t += 290.0;
        }
        let row = judge(&s, &args(), 100, false);
        let report = row.judged.as_ref().expect("judged");
        assert_eq!(report.verdict, Verdict::Leaking);
        assert_eq!(report.config.interval_secs, Some(10.0));
        assert_eq!(report.slope, Some(0.5));
        assert_eq!(report.resources[0].resource, Resource::Series);
        assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
        assert!(report.notes[0].starts_with("uneven steps: up to 300s against a median of 10s"));
        let short = judge(&s, &args(), 150, false);
        let notes = &short.judged.as_ref().expect("judged").notes;
        assert!(notes[0].contains("100 samples, fewer than the longest series (150)"));
    }

    #[test]
    fn the_exit_code_is_the_worst_verdict() {
        let stable = every_10s(vec![50.0; 100]);
        let leaking = every_10s((0..100).map(|i| 1000.0 + 5.0 * i as f64).collect());
        let short = every_10s(vec![1.0, 2.0, 3.0]);
        let bad = every_10s(vec![1.0, f64::NAN, 3.0]);
        let code = |series: &[&LabelledSeries]| {
            let rows: Vec<Row> = series
                .iter()
                .map(|s| judge(s, &args(), 100, false))
                .collect();
            exit_code(&rows)
        };
        assert_eq!(code(&[&stable]), 0);
        assert_eq!(code(&[&stable, &short]), 3);
        assert_eq!(code(&[&stable, &short, &bad]), 2);
        assert_eq!(code(&[&bad, &leaking, &short]), 1);
    }

    /// A series too short for an estimate prints no slope (never a 0 it did not measure), and one
    /// too short for a verdict prints the slope it has.
    #[test]
    fn short_series_print_their_estimate_or_none() {
        let text = |values: Vec<f64>| {
            let series = every_10s(values);
            render(&[judge(&series, &args(), 10, false)], "-")
        };
        let none = text(vec![1.0, 2.0, 3.0]);
        assert!(
            none.contains("  slope: no estimate yet (3 samples, 20 needed)\n"),
            "{none}"
        );
        assert!(!none.contains(" 0 "), "{none}");
        let some = text((0..10).map(|i| 5.0 * f64::from(i)).collect());
        assert!(
            some.contains("  slope +0.500/s (95% CI +0.500 .. +0.500)\n"),
            "{some}"
        );
    }
    #[test]
    fn numbers_for_people() {
        assert_eq!(sig(15.0), "15.0");
        assert_eq!(sig(0.0123456), "0.0123");
        assert_eq!(sig(1234.5), "1234");
        assert_eq!(rate(Some(2764.8), Resource::Memory), "+2.7 KiB");
        assert_eq!(rate(Some(0.5), Resource::Series), "+0.500");
        assert_eq!(rate(Some(0.0), Resource::Series), "0");
        assert_eq!(rate(None, Resource::Series), "-");
        assert_eq!(secs(15.0), "15s");
        assert_eq!(secs(0.25), "0.250s");
    }
}
