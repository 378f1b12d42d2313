//! The report for people: verdict, per-resource slopes with intervals, why, charts, sites, notes.

use std::fmt::Write as _;
use std::path::Path;

use leakproof_diff::{Holder, StatDiff};
use leakproof_trend::Verdict;

use super::chart::text_chart;
use super::units::{format_estimate, format_rate};
use crate::failure::FailureLink;
use crate::model::{Isolation, Report, ResourceReport, RunConfig};
use crate::resource::Resource;

impl Report {
    /// The report for people: verdict, per-resource slopes with confidence intervals, iterations and
    /// warm-up, a text chart of every resource that is not stable (or of memory when all are), the
    /// growing allocation sites, and notes. A leak proven before the workload failed leads the
    /// report, the failure after it, linked to the leak.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if let (Some(failure), None) = (&self.failure, &self.leak_before_failure) {
            let _ = writeln!(out, "{}: the workload failed: {failure}", self.subject());
            out.push_str(&self.render_before_failure());
            for note in &self.notes {
                let _ = writeln!(out, "  note: {note}");
            }
            return out;
        }
        self.render_summary(&mut out);
        self.render_failure_after_leak(&mut out);
        self.render_charts(&mut out);
        self.render_sites_and_notes(&mut out);
        out
    }

    /// The failure that followed a proven leak, linked to it: "the leak exhausted the descriptor
    /// limit at iteration 129; the workload failed: ..." when the error is the leaked resource
    /// running out, else that it failed after the leak was proven.
    fn render_failure_after_leak(&self, out: &mut String) {
        let (Some(failure), Some(lead)) = (&self.failure, &self.leak_before_failure) else {
            return;
        };
        let _ = match lead.link {
            FailureLink::Exhausted => writeln!(
                out,
                "  the {} leak exhausted the {} at iteration {}; the workload failed: {failure}",
                lead.resource,
                limit_of(lead.resource),
                lead.iteration
            ),
            // The headline names every leak; none of them is known to have caused this.
            _ => writeln!(
                out,
                "  after the leak was proven, the workload failed at iteration {}: {failure}",
                lead.iteration
            ),
        };
    }

    /// The verdict line, a line per resource, iterations, why, and how to decide.
    fn render_summary(&self, out: &mut String) {
        let grew: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| r.analysis.verdict != Verdict::Stable && !r.advisory)
            .map(|r| r.resource.name())
            .collect();
        let _ = write!(
            out,
            "{}: {}",
            self.subject(),
            self.verdict.as_str().to_uppercase()
        );
        if !grew.is_empty() && self.config.isolation != Isolation::Recorded {
            let _ = write!(out, " ({})", grew.join(", "));
        }
        out.push('\n');
        let width = self
            .resources
            .iter()
            .map(|r| r.resource.name().len())
            .max()
            .unwrap_or(4);
        let steps = Steps::of(&self.config);
        for r in &self.resources {
            let a = &r.analysis;
            let verdict = match r.advisory {
                true => format!("({})", a.verdict),
                false => a.verdict.to_string(),
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {:<12}  {}  [{}]",
                r.resource.name(),
                verdict,
                format_estimate(r.resource, a, steps.scale, steps.per, true),
                r.source,
            );
        }
        for r in &self.resources {
            if let Some(model) = &r.model {
                let _ = writeln!(out, "  model ({}): {model}", r.resource);
            }
        }
        let _ = write!(
            out,
            "  {}s: {} (warm-up: {})",
            steps.noun, self.iterations, self.warmup
        );
        if self.config.isolation != Isolation::Recorded {
            let _ = write!(out, ", {:.2} s", self.duration_secs);
        }
        out.push('\n');
        for r in &self.resources {
            if r.analysis.verdict != Verdict::Stable {
                let _ = writeln!(out, "  why ({}): {}", r.resource, why(r, steps));
            } else if r.analysis.slope_ci.is_some_and(|(lo, _)| lo > 0.0) {
                let _ = writeln!(out, "  why ({}): {}", r.resource, below_floor(r, steps));
            } else if self.config.isolation == Isolation::Recorded {
                // No run to read the plateau off: the trend's own words say what was proven.
                let _ = writeln!(out, "  why ({}): {}", r.resource, r.analysis.reason);
            }
        }
        if self.verdict == Verdict::Inconclusive {
            let _ = writeln!(out, "  to decide it: {}", self.how_to_decide());
        }
    }

    /// A chart of every resource that is not Stable (or of the first when all are), with details.
    fn render_charts(&self, out: &mut String) {
        let steps = Steps::of(&self.config);
        let charted: Vec<&ResourceReport> = {
            let bad: Vec<&ResourceReport> = self
                .resources
                .iter()
                .filter(|r| r.analysis.verdict != Verdict::Stable)
                .collect();
            if bad.is_empty() {
                self.resources.iter().take(1).collect()
            } else {
                bad
            }
        };
        for r in charted {
            out.push('\n');
            let _ = writeln!(
                out,
                "{} after each {} ({} samples; '.' = warm-up):",
                r.resource,
                steps.noun,
                r.samples.len()
            );
            out.push_str(&labelled_chart(r, 60, 6));
            if let Some(detail) = &r.detail {
                out.push('\n');
                out.push_str(detail.trim_end());
                out.push('\n');
            }
            render_open_sites(out, r);
        }
    }

    /// The growing allocation sites and the notes.
    fn render_sites_and_notes(&self, out: &mut String) {
        if !self.sites.is_empty() {
            out.push('\n');
            let _ = writeln!(out, "growing allocation sites (user frame first):");
            for (i, site) in self.sites.iter().enumerate() {
                render_site(out, i + 1, site, SiteUnit::Blocks, &self.holders_of(site));
            }
        }
        self.render_unplaced_holders(out);
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "note: {note}");
            }
        }
    }

    /// The holders of the objects allocated at `site` (matched by its user line), for people.
    fn holders_of(&self, site: &StatDiff) -> Vec<String> {
        let line = site
            .user_frame
            .and_then(|u| site.traceback.get(u))
            .map(|f| f.location());
        self.holders
            .iter()
            .filter(|h| line.is_some() && h.site == line)
            .map(|h| format!("held by {}", holder_line(h)))
            .collect()
    }

    /// Holders of objects known by type only, or whose site is not among those listed.
    fn render_unplaced_holders(&self, out: &mut String) {
        let listed: Vec<String> = self
            .sites
            .iter()
            .filter_map(|s| s.user_frame.and_then(|u| s.traceback.get(u)))
            .map(|f| f.location())
            .collect();
        let unplaced: Vec<&Holder> = self
            .holders
            .iter()
            .filter(|h| h.site.as_ref().is_none_or(|s| !listed.contains(s)))
            .collect();
        if unplaced.is_empty() {
            return;
        }
        out.push('\n');
        let _ = writeln!(out, "what keeps the growth alive:");
        for h in unplaced {
            let at = h
                .site
                .as_deref()
                .map(|s| format!(" (from {s})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}{at}: held by {}", h.object, holder_line(h));
        }
    }

    /// What the samples taken before a failure showed: every resource that was not Stable, with
    /// its rate, so a leak that exhausted a limit (`Too many open files`) is named as one.
    pub fn render_before_failure(&self) -> String {
        let steps = Steps::of(&self.config);
        let mut out = String::new();
        for r in self.resources.iter() {
            if r.analysis.verdict != Verdict::Stable {
                let _ = writeln!(
                    out,
                    "  before it failed, {} was {}: {}",
                    r.resource,
                    r.analysis.verdict,
                    why(r, steps)
                );
            }
        }
        out
    }

    /// What the report is about: ``leak test `name` ``, ``target `cmd` `` for a driven process, or
    /// ``series `file` `` for a recorded one.
    fn subject(&self) -> String {
        let kind = match self.config.isolation {
            Isolation::Target => "target",
            Isolation::Recorded => "series",
            _ => "leak test",
        };
        format!("{kind} `{}`", self.name)
    }

    /// What would decide an Inconclusive report.
    fn how_to_decide(&self) -> &'static str {
        match self.config.isolation {
            Isolation::Target if self.config.interval_secs.is_some() => {
                "watch longer or sample more often (`--duration` / `--interval`, or \
                 `Watch::duration` / `Watch::interval`)"
            }
            Isolation::Target => {
                "run more iterations (`-n N` / `--max-iterations M`, or `Drive::iterations` / \
                 `Drive::max_iterations`), or make each iteration's work steadier"
            }
            Isolation::Recorded => {
                "record a longer series (each resource's `why` says about how many more samples)"
            }
            _ => {
                "run more iterations (LEAKPROOF_ITERATIONS=N, or `iterations = N` / \
                 `max_iterations = N` on the test), or make each iteration's work steadier"
            }
        }
    }
}

/// What a resource's leak exhausts, for people.
fn limit_of(resource: Resource) -> &'static str {
    match resource {
        Resource::Fds => "descriptor limit",
        Resource::Threads => "thread limit",
        _ => "memory available",
    }
}

/// What one sample stands for in the text: an iteration, or a time interval (slopes per second).
#[derive(Clone, Copy)]
struct Steps {
    /// The unit of a slope's denominator: `iteration` or `s`.
    per: &'static str,
    /// What one sample is called: `iteration` or `sample`.
    noun: &'static str,
    /// Units of `per` in one sample.
    scale: f64,
}

impl Steps {
    fn of(config: &RunConfig) -> Steps {
        match config.interval_secs {
            Some(secs) if secs > 0.0 => Steps {
                per: "s",
                noun: "sample",
                scale: secs,
            },
            _ if config.isolation == Isolation::Recorded => Steps {
                per: "sample",
                noun: "sample",
                scale: 1.0,
            },
            _ => Steps {
                per: "iteration",
                noun: "iteration",
                scale: 1.0,
            },
        }
    }
}

/// Why a resource is not Stable, in its own unit, built from the analysis (leakproof-trend's
/// `reason` speaks of unit-neutral samples): the rate with its interval over the judged
/// iterations, the warm-up, and for an Inconclusive series the plateau seen and what would decide.
fn why(r: &ResourceReport, steps: Steps) -> String {
    if let Some(missing) = r.no_estimate() {
        return missing;
    }
    let a = &r.analysis;
    let leaking = a.verdict == Verdict::Leaking;
    let judged = a.samples.saturating_sub(a.warmup_end);
    let noun = steps.noun;
    let mut out = format!(
        "{}{} over {judged} {noun}{}",
        if leaking { "grew " } else { "" },
        format_estimate(r.resource, a, steps.scale, steps.per, !leaking),
        if judged == 1 { "" } else { "s" },
    );
    if a.warmup_end > 0 {
        let _ = write!(out, " after a {}-{noun} warm-up", a.warmup_end);
    }
    if let Some(cycles) = a.cycles {
        let _ = write!(
            out,
            ", judged on the low points of {cycles} saw-tooth cycles"
        );
    }
    if !leaking {
        if let Some(plateau) = &a.plateau {
            let _ = write!(
                out,
                "; flat at {} from {noun} {}",
                r.resource.format_value(plateau.level),
                plateau.start + 1
            );
        }
        if let Some(more) = a.more_samples {
            let _ = write!(out, "; about {more} more {noun}s would decide it");
        }
    }
    out
}

/// Why a resource whose slope interval lies above zero is still Stable: its growth is below the
/// floor of its model (so the report never reads as a contradiction).
fn below_floor(r: &ResourceReport, steps: Steps) -> String {
    let a = &r.analysis;
    let rate = |v: f64| format_rate(r.resource, v / steps.scale, false);
    format!(
        "stable: grows {}, above zero but below the floor of {}/{} ({} model)",
        format_estimate(r.resource, a, steps.scale, steps.per, false),
        rate(a.floor),
        steps.per,
        r.model
            .as_ref()
            .map_or_else(|| r.resource.model_name(), |m| m.name.as_str())
    )
}

/// Frames shown after the user frame, at most.
const FRAMES_AFTER_USER: usize = 6;
/// Frames shown before (inside) the user frame, at most: the library call that allocated.
const FRAMES_BEFORE_USER: usize = 2;

/// Where the descriptors or threads of `r` that grew were opened or started.
fn render_open_sites(out: &mut String, r: &ResourceReport) {
    if r.sites.is_empty() {
        return;
    }
    let (opened, still) = match r.resource {
        Resource::Threads => ("started", "still running"),
        _ => ("opened", "still open"),
    };
    out.push('\n');
    let _ = writeln!(
        out,
        "where the new {} were {opened} (user frame first):",
        r.resource
    );
    for (i, site) in r.sites.iter().enumerate() {
        render_site(out, i + 1, site, SiteUnit::Handles(still), &[]);
    }
}

/// One growing site: the user frame's `file:LINE` first, then the part of the traceback around it
/// (from the allocating library call out to the harness's closure call).
/// What a site counts: heap blocks, or descriptors and threads still open.
#[derive(Clone, Copy)]
enum SiteUnit {
    /// Allocated bytes in blocks.
    Blocks,
    /// Descriptors still open (or threads still running): the adjective.
    Handles(&'static str),
}

/// One growing site: its user line, what grew there, `extra` lines (its holders), and its
/// traceback around the user frame.
fn render_site(out: &mut String, rank: usize, site: &StatDiff, unit: SiteUnit, extra: &[String]) {
    let place = site
        .user_frame
        .and_then(|u| site.traceback.get(u))
        .map(display_location)
        .unwrap_or_else(|| site.key.clone());
    let what = match unit {
        SiteUnit::Blocks => {
            let each = if site.count_diff > 0 {
                format!(
                    ", ~{} each",
                    leakproof_diff::format_size(
                        (site.size_diff / site.count_diff).max(0) as f64,
                        false
                    )
                )
            } else {
                String::new()
            };
            format!(
                "{} in {:+} blocks{each}",
                leakproof_diff::format_bytes_signed(site.size_diff),
                site.count_diff,
            )
        }
        SiteUnit::Handles(still) => format!("{:+} {still}", site.count_diff),
    };
    let _ = writeln!(out, "  #{rank} {place}  {what}");
    for line in extra {
        let _ = writeln!(out, "     {line}");
    }
    render_traceback(out, site);
}

/// The frames of a site's traceback around its user frame, the user frame marked `->`.
fn render_traceback(out: &mut String, site: &StatDiff) {
    let frames = &site.traceback;
    let (start, end) = match site.user_frame {
        Some(u) => {
            // Outward from the user frame, keep the user's own callers; stop at the first frame
            // of the harness, the standard library or a dependency (e.g. an async runtime).
            let attribution = leakproof_diff::Attribution::new();
            let outer = frames
                .iter()
                .enumerate()
                .skip(u + 1)
                .find(|(_, f)| !attribution.is_user(f))
                .map_or(frames.len(), |(j, _)| j);
            (
                u.saturating_sub(FRAMES_BEFORE_USER),
                outer.min(u + 1 + FRAMES_AFTER_USER),
            )
        }
        None => (
            0,
            frames.len().min(FRAMES_BEFORE_USER + 1 + FRAMES_AFTER_USER),
        ),
    };
    for (j, frame) in frames.iter().enumerate().take(end).skip(start) {
        let marker = if site.user_frame == Some(j) {
            "->"
        } else {
            "  "
        };
        match (&frame.function, &frame.file) {
            (Some(function), Some(_)) => {
                let _ = writeln!(out, "     {marker} {function}  {}", display_location(frame));
            }
            _ => {
                let _ = writeln!(out, "     {marker} {}", display_location(frame));
            }
        }
    }
    if end < frames.len() {
        let _ = writeln!(out, "        ... {} outer frames", frames.len() - end);
    }
}

/// A holder for people: its name, and how many new objects it holds when counted.
fn holder_line(h: &Holder) -> String {
    match h.count {
        Some(n) => format!("{}  ({n} new {})", h.name, h.object),
        None => h.name.clone(),
    }
}

/// `file:line` with toolchain and registry prefixes cut and paths under the current directory made
/// relative, so the user's own line reads `src/cache.rs:42`.
fn display_location(frame: &leakproof_diff::Frame) -> String {
    let Some(file) = frame.file.as_deref() else {
        return frame.location();
    };
    let mut path = leakproof_diff::display_path(file);
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = Path::new(&path).strip_prefix(&cwd) {
            path = rel.display().to_string();
        }
    }
    match frame.line {
        Some(line) => format!("{path}:{line}"),
        None => path,
    }
}

/// A text chart with the largest and smallest value written at the left.
fn labelled_chart(r: &ResourceReport, width: usize, height: usize) -> String {
    let chart = text_chart(&r.samples, r.analysis.warmup_end, width, height);
    let (lo, hi) = r
        .samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
    let bottom = r.resource.format_value(lo);
    let mut top = r.resource.format_value(hi);
    if top == bottom && hi > lo {
        // A small rise on a large level: label the top by how far it is above the bottom.
        top = if r.resource.is_memory() {
            leakproof_diff::format_size(hi - lo, true)
        } else {
            format!("+{:.0}", hi - lo)
        };
    }
    let label_width = top.len().max(bottom.len());
    let lines: Vec<&str> = chart.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let label = if i == 0 {
            top.as_str()
        } else if i + 1 == lines.len() {
            bottom.as_str()
        } else {
            ""
        };
        let _ = writeln!(out, "  {label:>label_width$} |{line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::failure::{FailureLink, LeakBeforeFailure};
    use crate::model::fixtures::{analysis, leaking_report};
    use crate::model::*;
    use crate::resource::Resource;
    use leakproof_trend::{Plateau, Verdict};

    #[test]
    fn render_text_leaking() {
        insta::assert_snapshot!(leaking_report().render_text());
    }

    #[test]
    fn render_text_names_holders_and_open_sites() {
        use leakproof_diff::{Frame, Holder, StatDiff};
        let mut report = leaking_report();
        report.holders = vec![
            Holder {
                site: Some("src/cache.rs:42".into()),
                object: "String".into(),
                count: Some(40),
                name: "app.HISTORY (list) ← module app".into(),
                path: vec!["module app".into(), ".HISTORY (list)".into()],
            },
            Holder {
                site: None,
                object: "byte[]".into(),
                count: None,
                name: "static Server.HISTORY (ArrayList)".into(),
                path: vec![],
            },
        ];
        report.resources[1].sites = vec![StatDiff {
            key: "src/files.rs:9".into(),
            size: 10,
            size_diff: 10,
            count: 10,
            count_diff: 10,
            traceback: vec![
                Frame::at("open64", "libc.so.6", 0),
                Frame::at("std::fs::File::open", "library/std/src/fs.rs", 370),
                Frame::at("myapp::files::keep", "src/files.rs", 9),
                Frame::at("main", "src/main.rs", 3),
            ],
            user_frame: Some(2),
        }];
        insta::assert_snapshot!(report.render_text());
    }

    #[test]
    fn render_text_failed_workload() {
        let mut r = Report::failed("tests::parse", "panicked in iteration 3: bad input");
        r.notes.push("fds not tracked".into());
        insta::assert_snapshot!(r.render_text());
    }

    #[test]
    fn render_text_failed_after_a_leak_names_the_leak() {
        let mut r = Report::from_resources(
            "tests::watcher",
            vec![ResourceReport {
                resource: Resource::Fds,
                source: "open file descriptors".into(),
                samples: (0..128).map(|i| f64::from(i + 3)).collect(),
                analysis: analysis(Verdict::Leaking, 1.0, (1.0, 1.0), 0, 128),
                detail: None,
                advisory: false,
                model: None,
                sites: vec![],
            }],
            0.5,
        );
        r.failure = Some("panicked in iteration 129: Too many open files (os error 24)".into());
        r.leak_before_failure = Some(LeakBeforeFailure {
            resource: Resource::Fds,
            link: FailureLink::Exhausted,
            iteration: 129,
        });
        let text = r.render_text();
        assert!(
            text.starts_with("leak test `tests::watcher`: LEAKING (fds)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\n  the fds leak exhausted the descriptor limit at iteration 129; the workload \
                 failed: panicked in iteration 129: Too many open files (os error 24)\n"
            ),
            "{text}"
        );
        insta::assert_snapshot!(text);
        // Another error after the leak: linked to it, but not as its cause.
        r.failure = Some("panicked in iteration 129: boom".into());
        r.leak_before_failure = Some(LeakBeforeFailure {
            link: FailureLink::AfterLeak,
            ..r.leak_before_failure.unwrap()
        });
        let text = r.render_text();
        assert!(
            text.contains(
                "\n  after the leak was proven, the workload failed at iteration 129: panicked in \
                 iteration 129: boom\n"
            ),
            "{text}"
        );
        // Nothing proven before the failure: the failure leads, with what the samples showed.
        r.leak_before_failure = None;
        r.resources[0].analysis.verdict = Verdict::Inconclusive;
        let text = r.render_text();
        assert!(
            text.starts_with("leak test `tests::watcher`: the workload failed: panicked"),
            "{text}"
        );
        assert!(
            text.contains("before it failed, fds was inconclusive"),
            "{text}"
        );
    }

    #[test]
    fn a_stable_slope_above_zero_names_the_floor() {
        let mut r = leaking_report();
        for rr in &mut r.resources {
            rr.analysis = analysis(Verdict::Stable, 20.0, (18.0, 25.0), 0, 40);
            rr.analysis.floor = 40.96;
        }
        r.verdict = Verdict::Stable;
        let text = r.render_text();
        assert!(
            text.contains("why (heap): stable: grows 20 B/iteration (95% CI 18 B .. 25 B), above zero but below the floor of 41.0 B/iteration (heap model)"),
            "{text}"
        );
    }

    #[test]
    fn render_text_inconclusive_says_how_to_decide() {
        let mut r = leaking_report();
        r.resources.truncate(1);
        r.resources[0].analysis.verdict = Verdict::Inconclusive;
        r.resources[0].analysis.reason = "still climbing toward what may be a plateau".into();
        let r = Report::from_resources("tests::warming", r.resources, 1.5);
        let text = r.render_text();
        assert!(text.contains("INCONCLUSIVE (heap)"), "{text}");
        assert!(text.contains("LEAKPROOF_ITERATIONS"), "{text}");
    }

    #[test]
    fn render_text_target_inconclusive() {
        let n = 40;
        let rss: Vec<f64> = (0..n)
            .map(|i| 50.0 * 1024.0 * 1024.0 + (i.min(30) as f64) * 65_536.0)
            .collect();
        let mut a = analysis(Verdict::Inconclusive, 65_536.0, (-512.0, 131_072.0), 1, n);
        a.plateau = Some(Plateau {
            start: 30,
            level: rss[35],
        });
        a.more_samples = Some(18);
        let resources = vec![ResourceReport {
            resource: Resource::Rss,
            source: "RSS of the target process tree (pid 42)".into(),
            samples: rss,
            analysis: a,
            detail: None,
            advisory: false,
            model: None,
            sites: vec![],
        }];
        let mut r = Report::from_resources("./server --port 8080", resources, 2.0);
        r.config.isolation = Isolation::Target;
        insta::assert_snapshot!(r.render_text());
    }

    /// A watch too short for a verdict: each series gives its slope so far with its interval, and
    /// one with too few samples for any estimate says so; neither prints a zero.
    #[test]
    fn render_text_too_short_gives_the_estimate_so_far() {
        use leakproof_trend::{Config, NoiseModel};
        // The presets the engine and the agents' table judge these with.
        let preset = |resource: Resource| match resource {
            Resource::Rss => Config::rss(),
            Resource::Fds => Config::counts(),
            _ => Config::heap()
                .with_noise(NoiseModel::Noisy { quantum: 0.0 })
                .with_min_slope(64.0)
                .with_min_samples(30)
                .with_warming(true),
        };
        let judged = |resource: Resource, samples: Vec<f64>| {
            let analysis = leakproof_trend::analyze(&samples, &preset(resource)).unwrap();
            ResourceReport::new(resource, format!("{resource} of pid 42"), samples, analysis)
        };
        let heap: Vec<f64> = (0..21).map(|i| 36_000.0 + 230_000.0 * i as f64).collect();
        let rss: Vec<f64> = (0..21)
            .map(|i| 4096.0 * (3600 + 50 * i + [0, 2, 1][i % 3]) as f64)
            .collect();
        let mut r = Report::from_resources(
            "pid 42",
            vec![
                judged(Resource::agent_heap("python"), heap),
                judged(Resource::Rss, rss),
                judged(Resource::Fds, vec![6.0; 4]),
            ],
            20.0,
        );
        r.config.isolation = Isolation::Target;
        r.config.interval_secs = Some(1.0);
        r.slope_per_second(1.0);
        let text = r.render_text();
        assert!(!text.contains(" 0 B/s"), "{text}");
        assert!(
            text.contains("no estimate yet (4 samples, 20 needed)"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn render_svg_leaking() {
        insta::assert_snapshot!(leaking_report().render_svg());
    }

    #[test]
    fn svg_is_well_formed_enough() {
        let svg = leaking_report().render_svg();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("fitted slope").count(), 3);
        assert!(svg.contains("warm-up: 10 iterations"));
    }
}
