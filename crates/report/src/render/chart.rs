//! A small text chart of a series, for failure messages in a terminal.

/// Render `samples` as a `height`-row, at most `width`-column text chart (rows joined by `\n`, top
/// row first). Each column summarizes consecutive samples by their maximum; columns made only of
/// warm-up samples (index `< warmup_end`) are drawn with `.`, the rest with `#`. A flat series is
/// drawn as one row at the bottom. An empty series or a zero size gives an empty string.
pub fn text_chart(samples: &[f64], warmup_end: usize, width: usize, height: usize) -> String {
    if samples.is_empty() || width == 0 || height == 0 {
        return String::new();
    }
    let columns = width.min(samples.len());
    // Column c covers samples [c*n/columns, (c+1)*n/columns).
    let n = samples.len();
    let mut levels = Vec::with_capacity(columns);
    let mut warm = Vec::with_capacity(columns);
    for c in 0..columns {
        let start = c * n / columns;
        let end = ((c + 1) * n / columns).max(start + 1);
        let max = samples[start..end]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        levels.push(max);
        warm.push(end <= warmup_end);
    }
    let finite = levels.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    // Row index (0 = bottom) that each column reaches.
    let reach: Vec<Option<usize>> = levels
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                None
            } else if span <= 0.0 {
                Some(0)
            } else {
                let r = ((v - lo) / span * (height - 1) as f64).round() as usize;
                Some(r.min(height - 1))
            }
        })
        .collect();
    let mut rows = Vec::with_capacity(height);
    for row in (0..height).rev() {
        let line: String = reach
            .iter()
            .zip(&warm)
            .map(|(r, &w)| match r {
                Some(r) if *r >= row => {
                    if w {
                        '.'
                    } else {
                        '#'
                    }
                }
                _ => ' ',
            })
            .collect();
        rows.push(line.trim_end().to_owned());
    }
    rows.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_series_fills_a_triangle() {
        let samples: Vec<f64> = (0..4).map(f64::from).collect();
        assert_eq!(text_chart(&samples, 0, 4, 4), "   #\n  ##\n ###\n####");
    }

    #[test]
    fn warmup_columns_use_dots() {
        let samples = [0.0, 10.0, 10.0, 10.0];
        assert_eq!(text_chart(&samples, 2, 4, 2), " .##\n..##");
    }

    #[test]
    fn long_series_are_bucketed_to_width() {
        let samples: Vec<f64> = (0..1000).map(f64::from).collect();
        let chart = text_chart(&samples, 0, 50, 5);
        assert_eq!(chart.lines().count(), 5);
        assert!(chart.lines().all(|l| l.chars().count() <= 50));
        assert_eq!(chart.lines().last().map(|l| l.len()), Some(50));
    }

    #[test]
    fn flat_and_empty_series() {
        assert_eq!(text_chart(&[5.0; 3], 0, 10, 3), "\n\n###");
        assert_eq!(text_chart(&[], 0, 10, 3), "");
        assert_eq!(text_chart(&[1.0], 0, 0, 3), "");
    }

    #[test]
    fn non_finite_samples_leave_gaps() {
        let chart = text_chart(&[0.0, f64::NAN, 2.0], 0, 3, 2);
        assert_eq!(chart, "  #\n# #");
    }
}
