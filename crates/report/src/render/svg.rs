//! A small hand-written SVG chart of a report (no plotting dependency: it keeps build times short).

use std::fmt::Write as _;

use leakproof_trend::Verdict;

use super::units::format_estimate;
use crate::model::{Report, ResourceReport};

const WIDTH: f64 = 640.0;
const PANEL: f64 = 170.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 22.0;

/// Render the report as an SVG document: one panel per resource.
pub(crate) fn render(report: &Report) -> String {
    let panels = report.resources.len().max(1);
    let height = 30.0 + PANEL * panels as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let title = match &report.failure {
        Some(f) => format!("{}: workload failed: {f}", report.name),
        None => format!(
            "{}: {} ({} iterations, warm-up {})",
            report.name,
            Verdict::as_str(report.verdict),
            report.iterations,
            report.warmup
        ),
    };
    let _ = writeln!(
        out,
        r#"<text x="8" y="18" font-size="13" font-weight="bold">{}</text>"#,
        escape(&title)
    );
    for (i, r) in report.resources.iter().enumerate() {
        panel(&mut out, r, 30.0 + PANEL * i as f64);
    }
    out.push_str("</svg>\n");
    out
}

/// One resource's panel: its heading, axes, warm-up, series and fitted slope.
fn panel(out: &mut String, r: &ResourceReport, y0: f64) {
    let plot = Plot::new(r, y0);
    let colour = match r.analysis.verdict {
        Verdict::Stable => "#2b7a2b",
        Verdict::Leaking => "#c0392b",
        Verdict::Inconclusive => "#b7770e",
    };
    heading(out, r, y0, colour);
    plot.axes(out, r);
    plot.warmup(out, r.analysis.warmup_end.min(plot.n));
    plot.series(out, &r.samples);
    plot.fitted(out, r, colour);
}

fn heading(out: &mut String, r: &ResourceReport, y0: f64, colour: &str) {
    let a = &r.analysis;
    let _ = writeln!(
        out,
        r#"<text x="8" y="{:.1}" fill="{colour}">{} — {}: {} [{}]</text>"#,
        y0 + 16.0,
        r.resource,
        Verdict::as_str(a.verdict),
        escape(&format_estimate(r.resource, a, 1.0, "iteration", true)),
        escape(&r.source)
    );
}

/// The plotting area of a panel and the value range it shows.
struct Plot {
    top: f64,
    bottom: f64,
    width: f64,
    lo: f64,
    hi: f64,
    /// Samples plotted.
    n: usize,
}

impl Plot {
    fn new(r: &ResourceReport, y0: f64) -> Plot {
        let finite = r.samples.iter().copied().filter(|v| v.is_finite());
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 1.0, hi + 1.0)
        };
        Plot {
            top: y0 + TOP,
            bottom: y0 + PANEL - BOTTOM,
            width: WIDTH - LEFT - RIGHT,
            lo,
            hi,
            n: r.samples.len(),
        }
    }

    fn height(&self) -> f64 {
        self.bottom - self.top
    }

    /// The x of sample `i`.
    fn x(&self, i: f64) -> f64 {
        LEFT + if self.n > 1 {
            i / (self.n - 1) as f64 * self.width
        } else {
            0.0
        }
    }

    /// The y of value `v`.
    fn y(&self, v: f64) -> f64 {
        self.bottom - (v - self.lo) / (self.hi - self.lo) * self.height()
    }

    /// The frame and the axis labels.
    fn axes(&self, out: &mut String, r: &ResourceReport) {
        let (top, bottom, w, h) = (self.top, self.bottom, self.width, self.height());
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="none" stroke="#999"/>"##
        );
        for (y, v) in [(top + 8.0, self.hi), (bottom, self.lo)] {
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{y:.1}" text-anchor="end">{}</text>"#,
                LEFT - 4.0,
                escape(&r.resource.format_value(v))
            );
        }
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="{:.1}">0</text><text x="{:.1}" y="{:.1}" text-anchor="end">{} iterations</text>"#,
            bottom + 14.0,
            WIDTH - RIGHT,
            bottom + 14.0,
            self.n
        );
    }

    /// The warm-up, shaded.
    fn warmup(&self, out: &mut String, warm: usize) {
        if warm > 0 && self.n > 1 {
            let _ = writeln!(
                out,
                r##"<rect x="{LEFT}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#ddd" fill-opacity="0.6"><title>warm-up: {warm} iterations</title></rect>"##,
                self.top,
                self.x((warm - 1) as f64) - LEFT,
                self.height()
            );
        }
    }

    /// The samples as a line.
    fn series(&self, out: &mut String, samples: &[f64]) {
        if samples.is_empty() {
            return;
        }
        let mut points = String::new();
        for (i, v) in samples.iter().enumerate() {
            if v.is_finite() {
                let _ = write!(points, "{:.1},{:.1} ", self.x(i as f64), self.y(*v));
            }
        }
        let _ = writeln!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#1f4e99" stroke-width="1.2"/>"##,
            points.trim_end()
        );
    }

    /// The fitted slope over the part after the warm-up, dashed.
    fn fitted(&self, out: &mut String, r: &ResourceReport, colour: &str) {
        let a = &r.analysis;
        let warm = a.warmup_end.min(self.n);
        let Some(slope) = a.slope else {
            return;
        };
        let Some(intercept) = intercept(&r.samples, warm, slope) else {
            return;
        };
        let (x1, x2) = (warm as f64, (self.n - 1) as f64);
        let (v1, v2) = (intercept + slope * x1, intercept + slope * x2);
        let clamp = |y: f64| y.clamp(self.top, self.bottom);
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="5,3"><title>fitted slope</title></line>"#,
            self.x(x1),
            clamp(self.y(v1)),
            self.x(x2),
            clamp(self.y(v2))
        );
    }
}

/// The intercept of a line with the given slope through the samples after the warm-up: the median
/// of `y_i - slope * i` (robust, like the Theil–Sen slope it goes with).
fn intercept(samples: &[f64], warmup_end: usize, slope: f64) -> Option<f64> {
    if !slope.is_finite() || samples.len() < warmup_end + 2 {
        return None;
    }
    let mut residuals: Vec<f64> = samples
        .iter()
        .enumerate()
        .skip(warmup_end)
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| v - slope * i as f64)
        .collect();
    if residuals.is_empty() {
        return None;
    }
    residuals.sort_by(f64::total_cmp);
    Some(residuals[residuals.len() / 2])
}

/// Escape text for SVG/XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup() {
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
    }

    #[test]
    fn intercept_of_an_exact_line() {
        let samples: Vec<f64> = (0..10).map(|i| 5.0 + 2.0 * i as f64).collect();
        assert_eq!(intercept(&samples, 3, 2.0), Some(5.0));
        assert_eq!(intercept(&samples, 9, 2.0), None);
    }
}
