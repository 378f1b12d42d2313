//! `analyze --format prometheus`: many labelled time series, from a Prometheus HTTP API `query_range`
//! response (JSON) or from a long-format CSV export (`timestamp,<label columns>...,value`).
//!
//! Problems of the whole input (not JSON, `"status":"error"`, not a matrix, no series, a malformed
//! CSV line) are errors; problems of one series (a NaN or infinite value, a negative value, timestamps
//! that do not increase) make that series invalid, with a note, so the others can still be judged.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use crate::units::parse_size;

/// One labelled series: timestamps (unix seconds) and values, and what makes it unusable, if anything.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LabelledSeries {
    /// Label names and values; `__name__` is the metric name.
    pub labels: Vec<(String, String)>,
    /// Unix seconds, one per value.
    pub times: Vec<f64>,
    /// The samples.
    pub values: Vec<f64>,
    /// Why the series cannot be judged (a NaN, a negative value, timestamps going back).
    pub invalid: Option<String>,
}

impl LabelledSeries {
    /// A series, checked: `invalid` says what keeps it from being judged.
    pub(crate) fn new(labels: Vec<(String, String)>, times: Vec<f64>, values: Vec<f64>) -> Self {
        let invalid = check(&times, &values);
        LabelledSeries {
            labels,
            times,
            values,
            invalid,
        }
    }

    /// `name{label="value",...}`, as Prometheus prints a series.
    pub fn name(&self) -> String {
        let metric = self
            .labels
            .iter()
            .find(|(k, _)| k == "__name__")
            .map_or("", |(_, v)| v.as_str());
        let rest: Vec<String> = self
            .labels
            .iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{metric}{{{}}}", rest.join(","))
    }
}

/// The first problem that keeps a series from being judged, if any.
fn check(times: &[f64], values: &[f64]) -> Option<String> {
    if values.is_empty() {
        return Some("no samples".into());
    }
    for (k, (&t, &v)) in times.iter().zip(values).enumerate() {
        let at = format!("sample {} (t={t})", k + 1);
        if !t.is_finite() {
            return Some(format!(
                "sample {}: the timestamp is not a finite number",
                k + 1
            ));
        }
        if !v.is_finite() {
            return Some(format!("{at} is {v}: not a finite number"));
        }
        if v < 0.0 {
            return Some(format!(
                "{at} is negative ({v}): sizes and counts are never negative"
            ));
        }
        if k > 0 && t <= times[k - 1] {
            return Some(format!(
                "timestamps do not increase: {at} follows t={}",
                times[k - 1]
            ));
        }
    }
    None
}

/// Parses either input shape: JSON when the text starts with `{`, long CSV otherwise.
pub(crate) fn parse(text: &str) -> Result<Vec<LabelledSeries>, String> {
    let series = if text.trim_start().starts_with('{') {
        parse_json(text)?
    } else {
        parse_long_csv(text)?
    };
    if series.is_empty() {
        return Err("empty matrix: the query matched no series".into());
    }
    Ok(series)
}

#[derive(Deserialize)]
struct Response {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<MatrixSeries>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(Value, Value)>,
}

/// A Prometheus `query_range` response:
/// `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{..},"values":[[t,"v"],..]}]}}`.
fn parse_json(text: &str) -> Result<Vec<LabelledSeries>, String> {
    let peek: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if peek.get("status").and_then(Value::as_str) == Some("error") {
        let r: Response = serde_json::from_value(peek).map_err(|e| format!("{e}"))?;
        return Err(format!(
            "Prometheus returned an error ({}): {}",
            r.error_type.as_deref().unwrap_or("unknown"),
            r.error.as_deref().unwrap_or("no message")
        ));
    }
    let result_type = peek.pointer("/data/resultType").and_then(Value::as_str);
    if let Some(rt) = result_type.filter(|&rt| rt != "matrix") {
        return Err(format!(
            "resultType `{rt}`: need a range query result (`matrix`, from /api/v1/query_range)"
        ));
    }
    let r: Response = serde_json::from_value(peek).map_err(|e| {
        format!("not a Prometheus query_range response ({e}); expected {{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[...]}}}}")
    })?;
    if r.status != "success" {
        return Err(format!("status `{}`: expected `success`", r.status));
    }
    let data = r.data.ok_or("a success response without `data`")?;
    data.result.into_iter().map(matrix_series).collect()
}

fn matrix_series(s: MatrixSeries) -> Result<LabelledSeries, String> {
    let labels: Vec<(String, String)> = s.metric.into_iter().collect();
    let mut times = Vec::with_capacity(s.values.len());
    let mut values = Vec::with_capacity(s.values.len());
    for (k, (t, v)) in s.values.iter().enumerate() {
        let bad = |what: &str, x: &Value| {
            let name = LabelledSeries::new(labels.clone(), vec![], vec![]).name();
            format!("{name}: sample {}: {what} {x} is not a number", k + 1)
        };
        times.push(json_number(t).ok_or_else(|| bad("timestamp", t))?);
        values.push(json_number(v).ok_or_else(|| bad("value", v))?);
    }
    Ok(LabelledSeries::new(labels, times, values))
}

/// A number, or a string holding one (Prometheus writes values as strings, `"NaN"` and `"+Inf"`
/// included).
fn json_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => number(s),
        _ => None,
    }
}

/// A plain number (`NaN`, `+Inf` included), or a size like `12MiB`.
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    s.parse::<f64>().ok().or_else(|| parse_size(s).ok())
}

/// Long CSV: a header `timestamp,<label columns>...,value` (first column `timestamp` or `time`, last
/// `value`; `,`, tab or `;` separated; fields may be double-quoted), then one row per sample; rows are
/// grouped into series by their label values, in order of first appearance. A single label column
/// holding `name{k="v",...}` is read as those labels. Blank lines and `#` comments are skipped.
fn parse_long_csv(text: &str) -> Result<Vec<LabelledSeries>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err("no samples: the input is empty".into());
    };
    let delim = [',', '\t', ';']
        .into_iter()
        .find(|&d| header.contains(d))
        .unwrap_or(',');
    let split = |l: &str| split_fields(l, delim);
    let names = split(header);
    let first = names[0].to_ascii_lowercase();
    let last = names[names.len() - 1].to_ascii_lowercase();
    if names.len() < 2 || !(first == "timestamp" || first == "time") || last != "value" {
        return Err(format!(
            "long CSV needs a header `timestamp,<label columns>...,value` (got `{header}`)"
        ));
    }
    let label_names = &names[1..names.len() - 1];
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    let mut groups: Vec<(Vec<String>, Vec<f64>, Vec<f64>)> = Vec::new();
    for (no, line) in lines {
        let fields = split(line);
        if fields.len() != names.len() {
            return Err(format!(
                "line {no}: {} fields, the header has {}",
                fields.len(),
                names.len()
            ));
        }
        let t = number(&fields[0])
            .ok_or_else(|| format!("line {no}: timestamp `{}` is not a number", fields[0]))?;
        let v = number(&fields[fields.len() - 1]).ok_or_else(|| {
            format!(
                "line {no}: value `{}` is not a number",
                fields[fields.len() - 1]
            )
        })?;
        let key = fields[1..fields.len() - 1].to_vec();
        let g = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(t);
        groups[g].2.push(v);
    }
    Ok(groups
        .into_iter()
        .map(|(key, times, values)| {
            let labels = match &key[..] {
                [one] if label_names.len() == 1 => selector(one),
                _ => None,
            }
            .unwrap_or_else(|| label_names.iter().cloned().zip(key).collect());
            LabelledSeries::new(labels, times, values)
        })
        .collect())
}

/// Splits a CSV line: a field in double quotes may hold the delimiter, and `""` inside it is a quote.
fn split_fields(line: &str, delim: char) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            c if c == delim && !quoted => {
                fields.push(std::mem::take(&mut field).trim().to_string())
            }
            c => field.push(c),
        }
    }
    fields.push(field.trim().to_string());
    fields
}

/// The labels of a series written as Prometheus prints it, `name{k="v",...}` or `{k="v",...}`
/// (a single `series` column of an export); None for anything else.
fn selector(text: &str) -> Option<Vec<(String, String)>> {
    let (name, rest) = text.trim().split_once('{')?;
    let body = rest.strip_suffix('}')?;
    let mut labels = Vec::new();
    if !name.is_empty() {
        labels.push(("__name__".to_string(), name.trim().to_string()));
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(labels);
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => value.push(chars.next()?),
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((key.trim().to_string(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(result: &str) -> String {
        format!(r#"{{"status":"success","data":{{"resultType":"matrix","result":[{result}]}}}}"#)
    }

    #[test]
    fn a_query_range_matrix() {
        let text = matrix(
            r#"{"metric":{"__name__":"process_resident_memory_bytes","job":"api","instance":"a:9100"},
                "values":[[1733119200,"1000"],[1733119215.5,"1.5e3"]]},
               {"metric":{"job":"db"},"values":[[1,"7"]]}"#,
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].name(),
            r#"process_resident_memory_bytes{instance="a:9100",job="api"}"#
        );
        assert_eq!(s[0].times, vec![1733119200.0, 1733119215.5]);
        assert_eq!(s[0].values, vec![1000.0, 1500.0]);
        assert_eq!(s[0].invalid, None);
        assert_eq!(s[1].name(), r#"{job="db"}"#);
    }

    #[test]
    fn whole_input_errors_are_one_line() {
        for (text, want) in [
            (
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#
                    .to_string(),
                "bad_data",
            ),
            (matrix(""), "empty matrix"),
            (
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into(),
                "resultType `vector`",
            ),
            ("{not json".into(), "not valid JSON"),
            (r#"{"data":1}"#.into(), "not a Prometheus"),
            (matrix(r#"{"metric":{},"values":[[1,"x"]]}"#), "value \"x\""),
            ("time,job\n1,a\n".into(), "header"),
            ("timestamp,job,value\n1,a\n".into(), "line 2: 2 fields"),
            ("timestamp,value\nnow,1\n".into(), "line 2: timestamp"),
            ("timestamp,value\n".into(), "empty matrix"),
            ("".into(), "empty"),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn bad_series_are_marked_not_fatal() {
        let text = matrix(
            r#"{"metric":{"s":"nan"},"values":[[1,"1"],[2,"NaN"]]},
               {"metric":{"s":"inf"},"values":[[1,"+Inf"]]},
               {"metric":{"s":"neg"},"values":[[1,"-4"]]},
               {"metric":{"s":"back"},"values":[[2,"1"],[1,"1"]]},
               {"metric":{"s":"empty"},"values":[]},
               {"metric":{"s":"ok"},"values":[[1,"1"],[2,"2"]]}"#,
        );
        let s = parse(&text).unwrap();
        let notes: Vec<_> = s.iter().map(|s| s.invalid.clone()).collect();
        assert!(notes[0]
            .as_deref()
            .unwrap()
            .contains("sample 2 (t=2) is NaN"));
        assert!(notes[1].as_deref().unwrap().contains("inf"));
        assert!(notes[2].as_deref().unwrap().contains("negative"));
        assert!(notes[3].as_deref().unwrap().contains("do not increase"));
        assert_eq!(notes[4].as_deref(), Some("no samples"));
        assert_eq!(notes[5], None);
    }

    #[test]
    fn long_csv_groups_rows_by_labels() {
        let text = "# exported\ntimestamp,instance,job,value\n\
                    1,a,api,10\n1,b,api,20\n2,a,api,11\n2,b,api,21 KiB\n3,a,api,12\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name(), r#"{instance="a",job="api"}"#);
        assert_eq!(s[0].values, vec![10.0, 11.0, 12.0]);
        assert_eq!(s[1].times, vec![1.0, 2.0]);
        assert_eq!(s[1].values, vec![20.0, 21.0 * 1024.0]);
        // One quoted `series` column holding Prometheus's own notation.
        let text = "timestamp,series,value\n\
                    1,\"rss_bytes{job=\"\"api\"\",pod=\"\"a,b\"\"}\",5\n\
                    2,\"rss_bytes{job=\"\"api\"\",pod=\"\"a,b\"\"}\",6\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name(), r#"rss_bytes{job="api",pod="a,b"}"#);
        assert_eq!(s[0].values, vec![5.0, 6.0]);
        // Anything else in the column is one label.
        let s = parse("time,series,value\n1,api-1,5\n").unwrap();
        assert_eq!(s[0].name(), r#"{series="api-1"}"#);
        let tsv = parse("time\tvalue\n1\t5\n2\t6\n").unwrap();
        assert_eq!(tsv[0].name(), "{}");
        assert_eq!(tsv[0].values, vec![5.0, 6.0]);
    }

    #[test]
    fn selectors_and_quoted_fields() {
        assert_eq!(
            split_fields(r#" a ,"b,""c""", d"#, ','),
            vec!["a", r#"b,"c""#, "d"]
        );
        assert_eq!(
            selector(r#"up{job="a\"b", x = "1"}"#),
            Some(vec![
                ("__name__".into(), "up".into()),
                ("job".into(), "a\"b".into()),
                ("x".into(), "1".into())
            ])
        );
        assert_eq!(selector("{}"), Some(vec![]));
        for bad in ["up", "{job=a}", r#"{job="a"#, "x{"] {
            assert_eq!(selector(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = selector(&text);
            let _ = split_fields(&text, ',');
            let _ = parse(&text);
            let _ = parse(&format!("{{{text}"));
            let _ = parse(&format!("timestamp,a,value\n{text}"));
        }
    }
}
