//! Invariants of the text chart and of the report's overall verdict, for any input.

use leakproof_report::{text_chart, worst};
use leakproof_trend::Verdict;
use proptest::prelude::*;

fn verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        Just(Verdict::Stable),
        Just(Verdict::Inconclusive),
        Just(Verdict::Leaking)
    ]
}

proptest! {
    #[test]
    fn chart_has_the_asked_shape(
        samples in prop::collection::vec(prop_oneof![any::<f64>(), -1e12f64..1e12], 1..1000),
        warmup in 0usize..1200,
        width in 1usize..120,
        height in 1usize..20,
    ) {
        let chart = text_chart(&samples, warmup, width, height);
        let lines: Vec<&str> = chart.split('\n').collect();
        prop_assert_eq!(lines.len(), height);
        for line in &lines {
            prop_assert!(line.chars().count() <= width.min(samples.len()));
            prop_assert!(line.chars().all(|c| c == ' ' || c == '#' || c == '.'));
        }
        // With only finite samples every column reaches the bottom row.
        if samples.iter().all(|v| v.is_finite()) {
            let drawn = lines[height - 1].chars().filter(|c| *c != ' ').count();
            prop_assert_eq!(drawn, width.min(samples.len()));
        }
    }

    #[test]
    fn chart_of_a_rising_series_rises(n in 2usize..500, width in 2usize..80, height in 2usize..12) {
        let samples: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let chart = text_chart(&samples, 0, width, height);
        let top = chart.split('\n').next().unwrap_or("");
        // The last column is the highest: it reaches the top row.
        prop_assert!(top.ends_with('#'), "{}", chart);
    }

    #[test]
    fn worst_is_a_commutative_maximum(a in verdict(), b in verdict(), c in verdict()) {
        prop_assert_eq!(worst(a, b), worst(b, a));
        prop_assert_eq!(worst(worst(a, b), c), worst(a, worst(b, c)));
        prop_assert_eq!(worst(a, Verdict::Stable), a);
        prop_assert_eq!(worst(a, Verdict::Leaking), Verdict::Leaking);
        prop_assert!(worst(a, b) == a || worst(a, b) == b);
    }
}
