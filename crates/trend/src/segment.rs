//! Piecewise-constant segmentation of a series into levels.
//!
//! With no noise (sigma = 0) segments are runs of exactly equal values. Otherwise binary segmentation:
//! a segment is split at the point maximizing the standardized difference of the means on either side,
//! `|mean_l - mean_r| / (sigma * sqrt(1/n_l + 1/n_r))`, while that exceeds `threshold(len)`. Long series
//! are first averaged in blocks (at most [`MAX_BLOCKS`]) so the cost stays O(n).

/// A segment of points `[a, b)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Segment {
    pub a: usize,
    pub b: usize,
}

/// Series longer than this are block-averaged before binary segmentation.
const MAX_BLOCKS: usize = 2048;
/// At most this many segments from binary segmentation.
const MAX_SEGMENTS: usize = 512;

/// Split threshold for a segment of `len` points: about the 1e-4 upper quantile of the maximum of the
/// standardized CUSUM under pure noise, with room for a rough noise estimate.
fn threshold(len: usize) -> f64 {
    (2.0 * (len.max(2) as f64).ln()).sqrt() + 1.5
}

/// Segments `y` into levels; `sigma` is the noise standard deviation of one point.
pub(crate) fn segments(y: &[f64], sigma: f64, short: usize) -> Vec<Segment> {
    let m = y.len();
    if m == 0 {
        return Vec::new();
    }
    if sigma <= 0.0 {
        return runs(y);
    }
    let segs = if m > MAX_BLOCKS {
        let bs = m.div_ceil(MAX_BLOCKS);
        let blocks: Vec<f64> = y
            .chunks(bs)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect();
        // The last block may be shorter; treat it as full (slightly optimistic noise), fine for a threshold.
        binary(&blocks, sigma / (bs as f64).sqrt())
            .into_iter()
            .map(|s| Segment {
                a: s.a * bs,
                b: (s.b * bs).min(m),
            })
            .collect()
    } else {
        binary(y, sigma)
    };
    merge_bursts(y, segs, sigma, short)
}

/// Merges a segment shorter than `short` points with both neighbours when the neighbours' levels do not
/// differ significantly: a burst that came and went, not a change of level.
fn merge_bursts(y: &[f64], mut segs: Vec<Segment>, sigma: f64, short: usize) -> Vec<Segment> {
    let base = y[0];
    let mut prefix = Vec::with_capacity(y.len() + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for &v in y {
        acc += v - base;
        prefix.push(acc);
    }
    let mean = |s: Segment| (prefix[s.b] - prefix[s.a]) / (s.b - s.a) as f64;
    let mut i = 1;
    while i + 1 < segs.len() {
        // A run of short segments i..j (fewer than `short` points in all) between two longer ones.
        let mut j = i;
        while j + 1 < segs.len() && segs[j].b - segs[i].a < short {
            j += 1;
        }
        if j > i && segs[j - 1].b - segs[i].a < short {
            let (l, r) = (segs[i - 1], segs[j]);
            let (nl, nr) = ((l.b - l.a) as f64, (r.b - r.a) as f64);
            let se = sigma * (1.0 / nl + 1.0 / nr).sqrt();
            if (mean(l) - mean(r)).abs() <= threshold(l.b - l.a + r.b - r.a) * se {
                segs[i - 1] = Segment { a: l.a, b: r.b };
                segs.drain(i..=j);
                // The merged segment may now sit beside another burst: look again from its left.
                i = i.saturating_sub(1).max(1);
                continue;
            }
        }
        i += 1;
    }
    segs
}

fn runs(y: &[f64]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut a = 0;
    for i in 1..y.len() {
        if y[i] != y[a] {
            out.push(Segment { a, b: i });
            a = i;
        }
    }
    out.push(Segment { a, b: y.len() });
    out
}

fn binary(y: &[f64], sigma: f64) -> Vec<Segment> {
    let m = y.len();
    let base = y[0];
    let mut prefix = Vec::with_capacity(m + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for &v in y {
        acc += v - base;
        prefix.push(acc);
    }
    let mut done = Vec::new();
    let mut todo = vec![Segment { a: 0, b: m }];
    while let Some(s) = todo.pop() {
        let len = s.b - s.a;
        if len < 2 || done.len() + todo.len() + 1 >= MAX_SEGMENTS {
            done.push(s);
            continue;
        }
        let total = prefix[s.b] - prefix[s.a];
        let mut best = (0.0, 0);
        for k in s.a + 1..s.b {
            let nl = (k - s.a) as f64;
            let nr = (s.b - k) as f64;
            let left = prefix[k] - prefix[s.a];
            let diff = left / nl - (total - left) / nr;
            // Squared standardized difference (no square root in the loop).
            let stat = diff * diff * (nl * nr / (nl + nr));
            if stat > best.0 {
                best = (stat, k);
            }
        }
        if best.0.sqrt() / sigma > threshold(len) {
            todo.push(Segment { a: s.a, b: best.1 });
            todo.push(Segment { a: best.1, b: s.b });
        } else {
            done.push(s);
        }
    }
    done.sort_by_key(|s| s.a);
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_exact_values() {
        let y = [1.0, 1.0, 2.0, 2.0, 2.0, 1.0];
        let s = segments(&y, 0.0, 10);
        assert_eq!(
            s,
            vec![
                Segment { a: 0, b: 2 },
                Segment { a: 2, b: 5 },
                Segment { a: 5, b: 6 }
            ]
        );
    }

    #[test]
    fn binary_finds_a_step_in_noise_and_not_in_pure_noise() {
        let mut x: u64 = 7;
        let mut noise = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 3.46
        };
        let flat: Vec<f64> = (0..1000).map(|_| noise()).collect();
        assert_eq!(segments(&flat, 1.0, 10).len(), 1);
        let step: Vec<f64> = (0..1000)
            .map(|i| noise() + if i >= 600 { 2.0 } else { 0.0 })
            .collect();
        let s = segments(&step, 1.0, 10);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!((s[1].a as i64 - 600).abs() <= 10);
        let long: Vec<f64> = (0..100_000)
            .map(|i| noise() + if i >= 70_000 { 0.5 } else { 0.0 })
            .collect();
        let s = segments(&long, 1.0, 10);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!((s[1].a as i64 - 70_000).abs() <= 100);
        // A burst of 5 points in the middle of a flat stretch is merged away.
        let burst: Vec<f64> = (0..1000)
            .map(|i| noise() + if (500..505).contains(&i) { 30.0 } else { 0.0 })
            .collect();
        let s = segments(&burst, 1.0, 10);
        assert!(s.iter().all(|s| !(490..=515).contains(&s.a)), "{s:?}");
    }
}
