//! Parsing of sizes (`12MiB`, `4 KiB`), durations (`10ms`, `1.5s`) and numeric series (one number per
//! line, or CSV with a header).

use std::time::Duration;

/// Parses a size: a number with an optional unit. `B`, `K`/`KB` (1000), `KiB` (1024), `M`/`MB`,
/// `MiB`, `G`/`GB`, `GiB`, `T`/`TB`, `TiB`; case-insensitive; a space before the unit is allowed.
pub fn parse_size(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(t.len());
    // "1e3" is a number; "12EiB" is not supported anyway.
    let (num, unit) = t.split_at(split);
    let num = num.trim();
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a number or a size like 12MiB"))?;
    if !value.is_finite() {
        return Err(format!("`{text}` is not a finite number"));
    }
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" | "ki" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" | "mi" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" | "gi" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" | "ti" => 1024.0_f64.powi(4),
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{}` (use B, KiB, MiB, GiB, KB, MB, GB)",
                unit.trim()
            ))
        }
    };
    Ok(value * factor)
}

/// Whether a value text carries a size unit (so the series is in bytes).
pub fn has_size_unit(text: &str) -> bool {
    text.trim()
        .chars()
        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        || text.trim().ends_with(['B', 'b'])
}

/// Parses a duration: a number with `ns`, `us`, `ms`, `s`, `m`, `h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 500ms, 1s or 2m"))?;
    let secs = match unit.trim() {
        "ns" => value / 1e9,
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "" | "s" | "sec" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "`{text}`: unknown duration unit `{other}` (use ms, s, m, h)"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{text}` is not a valid duration"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is out of range"))
}

/// A series read from a file: the values, and whether they carried size units.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The numbers, in order.
    pub values: Vec<f64>,
    /// True when any value had a size suffix (so they are bytes).
    pub bytes: bool,
    /// The CSV column used, when the input had a header.
    pub column: Option<String>,
}

fn delimiter(line: &str) -> Option<char> {
    [',', '\t', ';'].into_iter().find(|&d| line.contains(d))
}

fn fields(line: &str, delim: Option<char>) -> Vec<&str> {
    match delim {
        Some(d) => line
            .split(d)
            .map(|f| f.trim().trim_matches('"').trim())
            .collect(),
        None => vec![line.trim()],
    }
}

/// Parses a series: one number per line (blank lines and `#` comments skipped), or CSV/TSV with a
/// header row; `column` names the CSV column (default: the last column whose first value is a
/// number). Errors are one line naming the input line.
pub fn parse_series(text: &str, column: Option<&str>) -> Result<Series, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((first_no, first)) = lines.next() else {
        return Err("no samples: the input is empty".into());
    };
    let delim = delimiter(first);
    let first_fields = fields(first, delim);
    let header = first_fields.iter().any(|f| parse_size(f).is_err());
    let mut rows: Vec<(usize, Vec<&str>)> = Vec::new();
    if !header {
        rows.push((first_no, first_fields.clone()));
    }
    rows.extend(lines.map(|(n, l)| (n, fields(l, delim))));
    let index = match (column, header) {
        (Some(name), true) => first_fields
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "no column `{name}` in the header (columns: {})",
                    first_fields.join(", ")
                )
            })?,
        (Some(name), false) => match name.parse::<usize>() {
            Ok(n) if n >= 1 => n - 1,
            _ => {
                return Err(format!(
                    "--column {name}: the input has no header row (give a 1-based column number)"
                ))
            }
        },
        (None, _) => {
            let Some((_, row)) = rows.first() else {
                return Err("no samples: the input has only a header".into());
            };
            row.iter()
                .rposition(|f| parse_size(f).is_ok())
                .ok_or_else(|| format!("line {}: no numeric column (use --column)", rows[0].0))?
        }
    };
    if rows.is_empty() {
        return Err("no samples: the input has only a header".into());
    }
    let mut values = Vec::with_capacity(rows.len());
    let mut bytes = false;
    for (no, row) in &rows {
        let Some(field) = row.get(index) else {
            return Err(format!("line {no}: has no column {}", index + 1));
        };
        let v = parse_size(field).map_err(|e| format!("line {no}: {e}"))?;
        bytes |= has_size_unit(field);
        values.push(v);
    }
    Ok(Series {
        values,
        bytes,
        column: header.then(|| first_fields[index].to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("12MiB"), Ok(12.0 * 1024.0 * 1024.0));
        assert_eq!(parse_size("4 KiB"), Ok(4096.0));
        assert_eq!(parse_size("1.5k"), Ok(1500.0));
        assert_eq!(parse_size("2GB"), Ok(2e9));
        assert_eq!(parse_size(" 42 "), Ok(42.0));
        assert_eq!(parse_size("1e3"), Ok(1000.0));
        assert_eq!(parse_size("-3"), Ok(-3.0));
        assert!(parse_size("abc").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("NaN").is_err());
        assert!(parse_size("inf").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
    }

    #[test]
    fn one_number_per_line_with_comments_and_units() {
        let s = parse_series("# rss\n100\n\n 4 KiB\n1e2\n", None).unwrap();
        assert_eq!(s.values, vec![100.0, 4096.0, 100.0]);
        assert!(s.bytes);
        assert_eq!(s.column, None);
    }

    #[test]
    fn csv_with_header_defaults_to_the_last_numeric_column() {
        let text = "time,rss,name\n0,100,a\n1,200,b\n";
        let s = parse_series(text, None).unwrap();
        assert_eq!(s.values, vec![100.0, 200.0]);
        assert_eq!(s.column.as_deref(), Some("rss"));
        let s = parse_series(text, Some("TIME")).unwrap();
        assert_eq!(s.values, vec![0.0, 1.0]);
        let tsv = "t\tv\n1\t5\n2\t6\n";
        assert_eq!(parse_series(tsv, None).unwrap().values, vec![5.0, 6.0]);
    }

    #[test]
    fn bad_inputs_are_one_line_errors() {
        for (text, col, want) in [
            ("", None, "empty"),
            ("\n# only a comment\n", None, "empty"),
            ("rss\n", None, "only a header"),
            ("1\n2\nabc\n", None, "line 3"),
            ("a,b\n1,2\n", Some("c"), "no column `c`"),
            ("a,b\n1,2\n3\n", Some("b"), "line 3"),
            ("1,2\n", Some("x"), "no header"),
        ] {
            let err = parse_series(text, col).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    proptest! {
        #[test]
        fn any_list_of_numbers_round_trips(values in proptest::collection::vec(-1e12f64..1e12, 1..50)) {
            let text: String = values.iter().map(|v| format!("{v}\n")).collect();
            let parsed = parse_series(&text, None).unwrap();
            prop_assert_eq!(parsed.values, values);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = parse_series(&text, None);
            let _ = parse_size(&text);
            let _ = parse_duration(&text);
        }
    }
}
