//! A small hand-written SVG chart of a report (no plotting dependency: it keeps build times short).

use std::fmt::Write as _;

use leakproof_trend::Verdict;

use super::units::format_slope;
use crate::report::{Report, ResourceReport};

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

fn panel(out: &mut String, r: &ResourceReport, y0: f64) {
    let a = &r.analysis;
    let plot_top = y0 + TOP;
    let plot_bottom = y0 + PANEL - BOTTOM;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = plot_bottom - plot_top;
    let colour = match a.verdict {
        Verdict::Stable => "#2b7a2b",
        Verdict::Leaking => "#c0392b",
        Verdict::Inconclusive => "#b7770e",
    };
    let _ = writeln!(
        out,
        r#"<text x="8" y="{:.1}" fill="{colour}">{} — {}: {}/iteration (95% CI {} .. {}) [{}]</text>"#,
        y0 + 16.0,
        r.resource,
        Verdict::as_str(a.verdict),
        escape(&format_slope(r.resource, a.slope)),
        escape(&format_slope(r.resource, a.slope_ci.0)),
        escape(&format_slope(r.resource, a.slope_ci.1)),
        escape(&r.source)
    );
    let n = r.samples.len();
    let finite = r.samples.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let x = |i: f64| {
        LEFT + if n > 1 {
            i / (n - 1) as f64 * plot_w
        } else {
            0.0
        }
    };
    let y = |v: f64| plot_bottom - (v - lo) / (hi - lo) * plot_h;
    // Frame and axis labels.
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{plot_top:.1}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#999"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        LEFT - 4.0,
        plot_top + 8.0,
        escape(&r.resource.format_value(hi))
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        LEFT - 4.0,
        plot_bottom,
        escape(&r.resource.format_value(lo))
    );
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{:.1}">0</text><text x="{:.1}" y="{:.1}" text-anchor="end">{} iterations</text>"#,
        plot_bottom + 14.0,
        WIDTH - RIGHT,
        plot_bottom + 14.0,
        n
    );
    // Warm-up shading.
    let warm = a.warmup_end.min(n);
    if warm > 0 && n > 1 {
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{plot_top:.1}" width="{:.1}" height="{plot_h:.1}" fill="#ddd" fill-opacity="0.6"><title>warm-up: {warm} iterations</title></rect>"##,
            x((warm - 1) as f64) - LEFT
        );
    }
    // The series.
    if n > 0 {
        let mut points = String::new();
        for (i, v) in r.samples.iter().enumerate() {
            if v.is_finite() {
                let _ = write!(points, "{:.1},{:.1} ", x(i as f64), y(*v));
            }
        }
        let _ = writeln!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#1f4e99" stroke-width="1.2"/>"##,
            points.trim_end()
        );
    }
    // The fitted slope over the part after the warm-up.
    if let Some(intercept) = intercept(&r.samples, warm, a.slope) {
        let (x1, x2) = (warm as f64, (n - 1) as f64);
        let (v1, v2) = (intercept + a.slope * x1, intercept + a.slope * x2);
        let _ = writeln!(
            out,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="5,3"><title>fitted slope</title></line>"#,
            x(x1),
            y(v1).clamp(plot_top, plot_bottom),
            x(x2),
            y(v2).clamp(plot_top, plot_bottom)
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
