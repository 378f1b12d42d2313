//! Number formatting for reports: fractional byte counts and per-iteration slopes.

use leakproof_trend::Verdict;

use crate::report::Resource;

/// Format a possibly fractional byte count with binary units: `8.0 B`, `1.5 KiB`, `-3.2 MiB`.
/// With `signed`, positive values get a leading `+`.
pub(crate) fn format_bytes_f64(value: f64, signed: bool) -> String {
    if !value.is_finite() {
        return format!("{value}");
    }
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let sign = if value < 0.0 {
        "-"
    } else if signed && value > 0.0 {
        "+"
    } else {
        ""
    };
    let mut magnitude = value.abs();
    let mut unit = 0;
    while magnitude >= 1024.0 && unit + 1 < UNITS.len() {
        magnitude /= 1024.0;
        unit += 1;
    }
    if unit == 0 && magnitude == magnitude.trunc() && magnitude >= 10.0 {
        format!("{sign}{magnitude:.0} B")
    } else {
        format!("{sign}{magnitude:.1} {}", UNITS[unit])
    }
}

/// A slope in the resource's unit, signed: `+8.0 B`, `+0.10 fds`, `0.00 threads`.
pub(crate) fn format_slope(resource: Resource, slope: f64) -> String {
    if resource.is_memory() {
        format_bytes_f64(slope, true)
    } else {
        let sign = if slope > 0.0 { "+" } else { "" };
        format!("{sign}{slope:.2} {}", resource.unit())
    }
}

/// The verdict as a lowercase word.
pub(crate) fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Stable => "stable",
        Verdict::Leaking => "leaking",
        Verdict::Inconclusive => "inconclusive",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pick_binary_units() {
        assert_eq!(format_bytes_f64(8.0, true), "+8.0 B");
        assert_eq!(format_bytes_f64(512.0, false), "512 B");
        assert_eq!(format_bytes_f64(1536.0, true), "+1.5 KiB");
        assert_eq!(format_bytes_f64(-3.0 * 1024.0 * 1024.0, true), "-3.0 MiB");
        assert_eq!(format_bytes_f64(0.0, true), "0.0 B");
    }

    #[test]
    fn counts_keep_two_decimals() {
        assert_eq!(format_slope(Resource::Fds, 0.1), "+0.10 fds");
        assert_eq!(format_slope(Resource::Threads, 0.0), "0.00 threads");
        assert_eq!(format_slope(Resource::Heap, 1024.0), "+1.0 KiB");
    }
}
