//! Text rendering: tracemalloc-style table lines, tracebacks and human-readable sizes.

use std::fmt::Write as _;

use crate::{display_path, Frame, StatDiff};

const UNITS: &[&str] = &["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// A byte quantity for humans, in binary units: `512 B`, `8.5 B`, `12.5 KiB`, `977 KiB` (one
/// decimal below 100 of a unit, none above); with `signed`, positive values get a leading `+`.
/// The one size formatter of leakproof: tables, reports, slopes and the CLI all use it.
pub fn format_size(value: f64, signed: bool) -> String {
    if !value.is_finite() {
        return format!("{value}");
    }
    let sign = if value < 0.0 {
        "-"
    } else if signed && value > 0.0 {
        "+"
    } else {
        ""
    };
    let abs = value.abs();
    if abs < 1024.0 {
        return if abs.fract() == 0.0 {
            format!("{sign}{abs:.0} B")
        } else {
            format!("{sign}{abs:.1} B")
        };
    }
    let mut v = abs / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 99.95 {
        format!("{sign}{v:.1} {}", UNITS[unit])
    } else {
        format!("{sign}{v:.0} {}", UNITS[unit])
    }
}

/// A byte count for humans: `512 B`, `1.2 MiB` (see [`format_size`]).
pub fn format_bytes(bytes: u64) -> String {
    format_size(bytes as f64, false)
}

/// A signed byte difference: `+1.1 MiB`, `-3.0 KiB`, `+0 B`.
pub fn format_bytes_signed(bytes: i64) -> String {
    let sign = if bytes < 0 { '-' } else { '+' };
    format!("{sign}{}", format_bytes(bytes.unsigned_abs()))
}

/// A signed count difference: `+2900`, `-3`, `+0`.
pub fn format_count_signed(n: i64) -> String {
    if n < 0 {
        format!("-{}", n.unsigned_abs())
    } else {
        format!("+{n}")
    }
}

/// What a diff is called in a table: its key, or for a traceback group its user frame's location
/// and the traceback's depth.
pub fn label(diff: &StatDiff) -> String {
    if diff.key.contains(" <- ") && !diff.traceback.is_empty() {
        let i = diff.user_frame.unwrap_or(0);
        let named = diff
            .traceback
            .get(i)
            .map_or_else(|| diff.key.clone(), Frame::location);
        format!("{named} ({} frames)", diff.traceback.len())
    } else {
        diff.key.clone()
    }
}

/// One table line, tracemalloc's `StatisticDiff` string:
/// `src/cache.rs:42: size=1.2 MiB (+1.1 MiB), count=3000 (+2900), average=400 B`.
pub fn render_line(diff: &StatDiff) -> String {
    let mut s = format!(
        "{}: size={} ({}), count={} ({})",
        label(diff),
        format_bytes(diff.size),
        format_bytes_signed(diff.size_diff),
        diff.count,
        format_count_signed(diff.count_diff)
    );
    if let Some(avg) = diff.average() {
        let _ = write!(s, ", average={}", format_bytes(avg));
    }
    s
}

/// The first `top` diffs as table lines (in the given order; [`compare`](crate::compare) sorts),
/// followed by how many were left out, if any.
pub fn render_table(diffs: &[StatDiff], top: usize) -> String {
    if diffs.is_empty() {
        return "no allocation sites\n".to_owned();
    }
    let mut out = String::new();
    for d in diffs.iter().take(top) {
        out.push_str(&render_line(d));
        out.push('\n');
    }
    if diffs.len() > top {
        let rest = &diffs[top..];
        let bytes: i64 = rest.iter().fold(0i64, |a, d| a.saturating_add(d.size_diff));
        let _ = writeln!(
            out,
            "... {} more ({} in total)",
            rest.len(),
            format_bytes_signed(bytes)
        );
    }
    out
}

/// One frame as `function [inlined]` and an `at file:line:col` line, as Rust backtraces print.
fn render_frame(out: &mut String, idx: usize, f: &Frame, marked: bool) {
    let marker = if marked { "->" } else { "  " };
    let name = match (&f.function, f.ip) {
        (Some(func), _) => func.clone(),
        (None, Some(ip)) if !f.is_resolved() => format!("<unresolved {ip:#x}>"),
        (None, _) => "<unknown>".to_owned(),
    };
    let inl = if f.inlined { " [inlined]" } else { "" };
    let _ = writeln!(out, "{marker}{idx:>4}: {name}{inl}");
    if let Some(file) = &f.file {
        let mut loc = display_path(file);
        if let Some(l) = f.line {
            let _ = write!(loc, ":{l}");
            if let Some(c) = f.column {
                let _ = write!(loc, ":{c}");
            }
        }
        let _ = writeln!(out, "             at {loc}");
    }
}

/// A diff's table line followed by its traceback, innermost frame first, the user frame marked
/// with `->`.
pub fn render_traceback(diff: &StatDiff) -> String {
    let mut out = render_line(diff);
    out.push('\n');
    if diff.traceback.is_empty() {
        out.push_str("      (no traceback)\n");
    }
    for (i, f) in diff.traceback.iter().enumerate() {
        render_frame(&mut out, i, f, diff.user_frame == Some(i));
    }
    out
}
