//! Judging many labelled time series (`analyze --format prometheus`): one row per series, slopes per
//! second, and the worst verdict as the exit code.
//!
//! Each series is judged on its sample index (one scrape, one sample), as any series is; the slope per
//! sample is then divided by the series' median time step to give units per second. A range query's
//! samples are evenly spaced; where a series has gaps (a target down for a while), the median step
//! ignores them and a note says so.

use std::collections::BTreeMap;

use anyhow::anyhow;
use leakproof_trend::{analyze, Analysis, Verdict};
use serde::Serialize;

use crate::analyze::{choose, Chosen};
use crate::args::AnalyzeArgs;
use crate::prometheus::{parse, LabelledSeries};
use crate::{ExitWith, Outcome, EXIT_USAGE};

/// A series whose largest step is more than this many median steps apart has gaps.
const GAP_FACTOR: f64 = 2.0;

/// A judged series.
struct Judgement {
    analysis: Analysis,
    model: Chosen,
    /// Median seconds between samples (None with fewer than 2 samples).
    step: Option<f64>,
}

impl Judgement {
    fn per_second(&self, v: f64) -> Option<f64> {
        self.step.map(|s| v / s)
    }
}

/// One input series and what became of it.
struct Row<'a> {
    series: &'a LabelledSeries,
    judged: Result<Judgement, String>,
    notes: Vec<String>,
}

impl Row<'_> {
    /// Severity for the exit code: Leaking, then bad input, then Inconclusive, then Stable.
    fn rank(&self) -> u8 {
        match &self.judged {
            Ok(j) if j.analysis.verdict == Verdict::Leaking => 3,
            Err(_) => 2,
            Ok(j) if j.analysis.verdict == Verdict::Inconclusive => 1,
            Ok(_) => 0,
        }
    }

    fn verdict(&self) -> &'static str {
        match &self.judged {
            Ok(j) => j.analysis.verdict.as_str(),
            Err(_) => "invalid",
        }
    }

    fn code(&self) -> u8 {
        match &self.judged {
            Ok(j) => j.analysis.verdict.exit_code(),
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
    let rows: Vec<Row> = all.iter().map(|s| judge(s, args, longest)).collect();
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
    let bytes = |s: &LabelledSeries| {
        args.bytes
            || s.name()
                .split('{')
                .next()
                .is_some_and(|m| m.ends_with("_bytes"))
    };
    if args.json {
        let json = to_json(&rows)
            .ok_or_else(|| anyhow!("{input}: no series judged"))
            .exit_with(EXIT_USAGE)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&json).exit_with(EXIT_USAGE)?
        );
    } else {
        print!("{}", render(&rows, input, &bytes));
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

fn judge<'a>(series: &'a LabelledSeries, args: &AnalyzeArgs, longest: usize) -> Row<'a> {
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
    let model = choose(args.model, &series.values, args.warmup);
    let judged = analyze(&series.values, &model.config)
        .map(|analysis| Judgement {
            analysis,
            model,
            step,
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

/// A signed rate for people: bytes as `+2.7 KiB` when the series is bytes, else a plain number.
fn rate(v: Option<f64>, bytes: bool) -> String {
    let Some(v) = v else {
        return "-".into();
    };
    let sign = if v > 0.0 {
        "+"
    } else if v < 0.0 {
        "-"
    } else {
        ""
    };
    let a = v.abs();
    if bytes && a >= 1024.0 {
        format!("{sign}{}", leakproof_diff::format_bytes(a.round() as u64))
    } else if bytes {
        format!("{sign}{} B", sig(a))
    } else {
        format!("{sign}{}", sig(a))
    }
}

fn render(rows: &[Row], input: &str, bytes: &dyn Fn(&LabelledSeries) -> bool) -> String {
    let mut out = format!(
        "{} series from {input}; each judged per sample, slopes per second over its median step\n\n",
        rows.len()
    );
    out.push_str(&format!(
        "{:<13} {:>12} {:>12} {:>8} {:>8}  SERIES\n",
        "VERDICT", "SLOPE/S", "SLOPE/H", "SAMPLES", "STEP"
    ));
    for r in rows {
        let b = bytes(r.series);
        let (s, h, step) = match &r.judged {
            Ok(j) => (
                j.per_second(j.analysis.slope),
                j.per_second(j.analysis.slope * 3600.0),
                j.step.map_or("-".into(), secs),
            ),
            Err(_) => (None, None, "-".into()),
        };
        out.push_str(&format!(
            "{:<13} {:>12} {:>12} {:>8} {:>8}  {}\n",
            r.verdict(),
            rate(s, b),
            rate(h, b),
            r.series.values.len(),
            step,
            r.series.name()
        ));
    }
    for r in rows {
        out.push_str(&format!("\n{}: {}\n", r.series.name(), r.verdict()));
        match &r.judged {
            Ok(j) => {
                let (lo, hi) = j.analysis.slope_ci;
                let b = bytes(r.series);
                out.push_str(&format!(
                    "  slope {}/s ({:.0}% CI {} .. {})\n  model: {}\n  {}\n",
                    rate(j.per_second(j.analysis.slope), b),
                    j.analysis.confidence * 100.0,
                    rate(j.per_second(lo), b),
                    rate(j.per_second(hi), b),
                    j.model.describe(),
                    j.analysis.reason
                ));
            }
            Err(why) => out.push_str(&format!("  cannot be judged: {why}\n")),
        }
        for n in &r.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    out
}

/// One series in `--json`.
#[derive(Serialize)]
struct SeriesJson<'a> {
    name: String,
    labels: BTreeMap<&'a str, &'a str>,
    /// None when the series could not be judged (see `error`).
    verdict: Option<Verdict>,
    samples: usize,
    median_step_secs: Option<f64>,
    slope_per_second: Option<f64>,
    slope_per_second_ci: Option<(f64, f64)>,
    slope_per_hour: Option<f64>,
    model: Option<&'a Chosen>,
    analysis: Option<&'a Analysis>,
    error: Option<&'a str>,
    notes: &'a [String],
}

/// `--json` of `--format prometheus`: the worst verdict of the judged series and the series that
/// decided it, how many could not be judged, then every series.
#[derive(Serialize)]
struct LabelledJson<'a> {
    verdict: Verdict,
    /// Units per second, of the deciding series.
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
    let j = r.judged.as_ref().ok();
    let per_s = |f: &dyn Fn(&Judgement) -> f64| j.and_then(|j| j.per_second(f(j)));
    SeriesJson {
        name: r.series.name(),
        labels: r
            .series
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        verdict: j.map(|j| j.analysis.verdict),
        samples: r.series.values.len(),
        median_step_secs: j.and_then(|j| j.step),
        slope_per_second: per_s(&|j| j.analysis.slope),
        slope_per_second_ci: per_s(&|j| j.analysis.slope_ci.0)
            .zip(per_s(&|j| j.analysis.slope_ci.1)),
        slope_per_hour: per_s(&|j| j.analysis.slope * 3600.0),
        model: j.map(|j| &j.model),
        analysis: j.map(|j| &j.analysis),
        error: r.judged.as_ref().err().map(String::as_str),
        notes: &r.notes,
    }
}

fn to_json<'a>(rows: &'a [Row]) -> Option<LabelledJson<'a>> {
    let severity = |v: Verdict| match v {
        Verdict::Leaking => 2,
        Verdict::Inconclusive => 1,
        Verdict::Stable => 0,
    };
    let (_, decider, verdict) = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r, r.judged.as_ref().ok()?.analysis.verdict)))
        .max_by_key(|&(i, _, v)| (severity(v), std::cmp::Reverse(i)))?;
    let w = series_json(decider);
    Some(LabelledJson {
        verdict,
        slope: w.slope_per_second,
        slope_ci: w.slope_per_second_ci,
        samples: w.samples,
        deciding_series: w.name,
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
        let row = judge(&s, &args(), 100);
        let j = row.judged.as_ref().expect("judged");
        assert_eq!(j.analysis.verdict, Verdict::Leaking);
        assert_eq!(j.step, Some(10.0));
        assert_eq!(j.per_second(j.analysis.slope), Some(0.5));
        assert_eq!(row.notes.len(), 1, "{:?}", row.notes);
        assert!(row.notes[0].starts_with("uneven steps: up to 300s against a median of 10s"));
        let short = judge(&s, &args(), 150);
        assert!(short.notes[0].contains("100 samples, fewer than the longest series (150)"));
    }

    #[test]
    fn the_exit_code_is_the_worst_verdict() {
        let stable = every_10s(vec![50.0; 100]);
        let leaking = every_10s((0..100).map(|i| 1000.0 + 5.0 * i as f64).collect());
        let short = every_10s(vec![1.0, 2.0, 3.0]);
        let bad = every_10s(vec![1.0, f64::NAN, 3.0]);
        let code = |series: &[&LabelledSeries]| {
            let rows: Vec<Row> = series.iter().map(|s| judge(s, &args(), 100)).collect();
            exit_code(&rows)
        };
        assert_eq!(code(&[&stable]), 0);
        assert_eq!(code(&[&stable, &short]), 3);
        assert_eq!(code(&[&stable, &short, &bad]), 2);
        assert_eq!(code(&[&bad, &leaking, &short]), 1);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(sig(15.0), "15.0");
        assert_eq!(sig(0.0123456), "0.0123");
        assert_eq!(sig(1234.5), "1234");
        assert_eq!(rate(Some(2764.8), true), "+2.7 KiB");
        assert_eq!(rate(Some(-0.5), true), "-0.500 B");
        assert_eq!(rate(Some(0.0), false), "0");
        assert_eq!(rate(None, false), "-");
        assert_eq!(secs(15.0), "15s");
        assert_eq!(secs(0.25), "0.250s");
    }
}
