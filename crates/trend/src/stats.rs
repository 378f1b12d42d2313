//! Robust statistics used by the detector: medians, MAD, the normal distribution, Mann–Kendall with tie
//! correction (O(n log n) by merge-sort inversion counting) and Theil–Sen with its rank-based confidence
//! interval (exact O(m²) for small series, subsampled above [`EXACT_PAIRS_MAX`] pairs).

use std::cmp::Ordering;

/// Theil–Sen is computed exactly (every pairwise slope, then `select_nth_unstable_by`) while the number of
/// pairs `m(m-1)/2` is at most this (m <= 512 points). Above it, slopes of [`sampled_pairs`] uniformly drawn
/// pairs are used and the confidence interval is widened by twice the quantile's sampling error.
pub(crate) const EXACT_PAIRS_MAX: usize = 131_072;

/// Median of `v` (reorders `v`). `v` must be non-empty.
pub(crate) fn median_mut(v: &mut [f64]) -> f64 {
    let n = v.len();
    debug_assert!(n > 0);
    let mid = n / 2;
    let (left, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *m;
    if n % 2 == 1 {
        upper
    } else {
        let lower = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lower + (upper - lower) / 2.0
    }
}

/// Median of a slice (copies it).
pub(crate) fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut c = v.to_vec();
    median_mut(&mut c)
}

/// Median absolute deviation around the median, unscaled. Reorders `v`.
pub(crate) fn mad_mut(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let med = median_mut(v);
    for x in v.iter_mut() {
        *x = (*x - med).abs();
    }
    (med, median_mut(v))
}

/// Complementary error function, Chebyshev approximation (Numerical Recipes `erfcc`): fractional error
/// below 1.2e-7 everywhere, ample for p-values.
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Upper tail of the standard normal: P(Z >= z).
pub(crate) fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Quantile of the standard normal (Acklam's rational approximation, relative error < 1.2e-9).
/// `p` must be in (0, 1).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let p_low = 0.024_25;
    if p < p_low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - p_low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// P(|T| < t) for Student's t with `df` (≥ 1) degrees of freedom, in closed form (Abramowitz and
/// Stegun 26.7.3–4): with θ = atan(t/√df), a finite sum in cos θ.
fn student_central(t: f64, df: usize) -> f64 {
    let theta = (t / (df as f64).sqrt()).atan();
    let (s, c) = (theta.sin(), theta.cos());
    let c2 = c * c;
    // Even df: sin θ · (1 + ½cos²θ + (1·3)/(2·4)cos⁴θ + ...), df/2 terms; odd df: 2/π · (θ +
    // sin θ cos θ · (1 + ⅔cos²θ + (2·4)/(3·5)cos⁴θ + ...)), (df − 1)/2 terms.
    let (mut term, mut sum) = (1.0, 1.0);
    if df % 2 == 0 {
        for k in 1..df / 2 {
            term *= c2 * (2 * k - 1) as f64 / (2 * k) as f64;
            sum += term;
        }
        s * sum
    } else if df == 1 {
        2.0 * theta / std::f64::consts::PI
    } else {
        for k in 1..(df - 1) / 2 {
            term *= c2 * (2 * k) as f64 / (2 * k + 1) as f64;
            sum += term;
        }
        2.0 / std::f64::consts::PI * (theta + s * c * sum)
    }
}

/// The two-sided quantile of Student's t: the t with P(|T| < t) = `confidence`, for `df` ≥ 1 (by
/// bisection on the closed-form distribution; 12.71 for 1 df at 95%, 2.57 for 5, 1.96 in the limit).
pub(crate) fn student_quantile(confidence: f64, df: usize) -> f64 {
    let df = df.max(1);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while student_central(hi, df) < confidence && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if student_central(mid, df) < confidence {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Result of the Mann–Kendall test on a series ordered in time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct MannKendall {
    /// Kendall's S: concordant minus discordant pairs.
    pub s: f64,
    /// Tie-corrected variance of S under the null hypothesis.
    pub var_s: f64,
    /// Continuity-corrected z score.
    pub z: f64,
    /// One-sided p-value for an increasing trend, P(Z >= z).
    pub p_increasing: f64,
}

/// Mann–Kendall trend test with tie correction. O(n log n): values are ranked by one sort (which also
/// gives the tie groups), then Kendall's S comes from counting inversions with a Fenwick tree over the
/// ranks. (A merge-sort count is also O(n log n) but was several times slower here: its merges
/// mispredict on real data.)
pub(crate) fn mann_kendall(y: &[f64]) -> MannKendall {
    let n = y.len();
    if n < 2 {
        return MannKendall {
            s: 0.0,
            var_s: 0.0,
            z: 0.0,
            p_increasing: 1.0,
        };
    }
    // Sort (order-preserving integer key, index): integer tuples sort about twice as fast as f64 with a
    // comparison closure. `v + 0.0` turns -0.0 into 0.0, so equal keys are exactly equal values.
    let mut order: Vec<(u64, u32)> = y
        .iter()
        .zip(0u32..)
        .map(|(&v, i)| (total_order_key(v + 0.0), i))
        .collect();
    order.sort_unstable();
    let mut rank = vec![0u32; n];
    let mut tie_pairs: u128 = 0;
    let mut tie_var: f64 = 0.0;
    let mut groups = 0u32;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && order[j].0 == order[i].0 {
            j += 1;
        }
        groups += 1;
        for &(_, at) in &order[i..j] {
            rank[at as usize] = groups;
        }
        let t = (j - i) as u128;
        if t > 1 {
            tie_pairs += t * (t - 1) / 2;
            let tf = t as f64;
            tie_var += tf * (tf - 1.0) * (2.0 * tf + 5.0);
        }
        i = j;
    }
    let inversions = count_inversions(&rank, groups as usize);
    let nn = n as u128;
    let pairs = nn * (nn - 1) / 2;
    let concordant = pairs - inversions - tie_pairs;
    let s = concordant as f64 - inversions as f64;
    let nf = n as f64;
    let var_s = ((nf * (nf - 1.0) * (2.0 * nf + 5.0) - tie_var) / 18.0).max(0.0);
    let z = if var_s > 0.0 {
        if s > 0.0 {
            (s - 1.0) / var_s.sqrt()
        } else if s < 0.0 {
            (s + 1.0) / var_s.sqrt()
        } else {
            0.0
        }
    } else {
        0.0
    };
    let p_increasing = if var_s > 0.0 { normal_sf(z) } else { 1.0 };
    MannKendall {
        s,
        var_s,
        z,
        p_increasing,
    }
}

/// Maps an f64 to a u64 whose unsigned order is `f64::total_cmp`'s order.
fn total_order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Pairs i < j with rank[i] > rank[j], ranks in 1..=k, by a Fenwick tree.
fn count_inversions(rank: &[u32], k: usize) -> u128 {
    let mut tree = vec![0u32; k + 1];
    let mut inv: u128 = 0;
    for (j, &r) in rank.iter().enumerate() {
        // How many earlier ranks are <= r.
        let mut le = 0u64;
        let mut x = r as usize;
        while x > 0 {
            le += u64::from(tree[x]);
            x &= x - 1;
        }
        inv += u128::from(j as u64 - le);
        let mut x = r as usize;
        while x <= k {
            tree[x] += 1;
            x += x & x.wrapping_neg();
        }
    }
    inv
}

/// A Theil–Sen fit: the median pairwise slope and its rank-based confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SenFit {
    pub slope: f64,
    pub lo: f64,
    pub hi: f64,
}

/// How many random pairs the subsampled Theil–Sen draws for `m` points: about m, at least 16,384 and at
/// most 2^20. The quantile's sampling error (about 0.5/sqrt(draws)) is then below the width of the
/// interval in rank terms (about 0.92/sqrt(m)) and is added to it.
pub(crate) fn sampled_pairs(m: usize) -> usize {
    m.clamp(16_384, 1 << 20)
}

/// Pairs drawn by [`sen_slope`] above the exact limit.
const SLOPE_ONLY_PAIRS: usize = 4_096;

/// Theil–Sen slope only (no interval): exact up to [`SLOPE_ONLY_PAIRS`] pairs, else the median of that
/// many random pairwise slopes. Used to place the warm-up end, where a rough line is enough.
pub(crate) fn sen_slope(t: &[f64], y: &[f64]) -> f64 {
    let m = t.len().min(y.len());
    if m < 2 {
        return 0.0;
    }
    let n_pairs = m * (m - 1) / 2;
    let mut slopes = if n_pairs <= SLOPE_ONLY_PAIRS {
        let mut v = Vec::with_capacity(n_pairs);
        for i in 0..m {
            for j in i + 1..m {
                v.push((y[j] - y[i]) / (t[j] - t[i]));
            }
        }
        v
    } else {
        random_slopes(t, y, SLOPE_ONLY_PAIRS)
    };
    median_mut(&mut slopes)
}

fn random_slopes(t: &[f64], y: &[f64], draws: usize) -> Vec<f64> {
    let m = t.len().min(y.len());
    let mut rng = SplitMix(0x1EA6_9A00_F00D ^ m as u64);
    let mut slopes = Vec::with_capacity(draws);
    // One 64-bit draw gives both indices (m < 2^32 here: the input is a slice of f64 in memory).
    let (mm, m1) = (m as u64, (m - 1) as u64);
    for _ in 0..draws {
        let r = rng.next();
        let i = (((r & 0xFFFF_FFFF) * mm) >> 32) as usize;
        let mut j = (((r >> 32) * m1) >> 32) as usize;
        if j >= i {
            j += 1;
        }
        let (a, b) = if i < j { (i, j) } else { (j, i) };
        slopes.push((y[b] - y[a]) / (t[b] - t[a]));
    }
    slopes
}

/// Small deterministic PRNG (SplitMix64): the analysis is a pure function of its input.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Theil–Sen slope of y against t (t strictly increasing) with the confidence interval of Sen (1968):
/// the slopes of rank (N ∓ z·sqrt(Var S))/2, where Var S is Mann–Kendall's tie-corrected variance.
pub(crate) fn theil_sen(t: &[f64], y: &[f64], confidence: f64, var_s: f64) -> SenFit {
    let m = t.len().min(y.len());
    if m < 2 {
        return SenFit {
            slope: 0.0,
            lo: 0.0,
            hi: 0.0,
        };
    }
    let n_pairs = m * (m - 1) / 2;
    let zq = normal_quantile(0.5 + confidence / 2.0);
    let c = zq * var_s.max(0.0).sqrt();
    let nf = n_pairs as f64;
    // 1-based ranks of the bounds, as fractions of the N slopes.
    let r_lo = ((nf - c) / 2.0).max(1.0);
    let r_hi = ((nf + c) / 2.0 + 1.0).min(nf);
    let (slope, lo, hi) = if n_pairs <= EXACT_PAIRS_MAX {
        let mut slopes = Vec::with_capacity(n_pairs);
        for i in 0..m {
            let (ti, yi) = (t[i], y[i]);
            for j in i + 1..m {
                slopes.push((y[j] - yi) / (t[j] - ti));
            }
        }
        let k_lo = (r_lo.round() as usize).saturating_sub(1).min(n_pairs - 1);
        let k_hi = (r_hi.round() as usize).saturating_sub(1).min(n_pairs - 1);
        quantiles3(&mut slopes, k_lo, k_hi)
    } else {
        let draws = sampled_pairs(m);
        let mut slopes = random_slopes(t, y, draws);
        let df = draws as f64;
        let q_lo = (r_lo - 1.0) / nf;
        let q_hi = (r_hi - 1.0) / nf;
        let widen = |q: f64| 2.0 * (q * (1.0 - q) / df).sqrt();
        let q_lo = (q_lo - widen(q_lo)).clamp(0.0, 1.0);
        let q_hi = (q_hi + widen(q_hi)).clamp(0.0, 1.0);
        let k_lo = ((q_lo * (df - 1.0)).round() as usize).min(draws - 1);
        let k_hi = ((q_hi * (df - 1.0)).round() as usize).min(draws - 1);
        quantiles3(&mut slopes, k_lo, k_hi)
    };
    SenFit {
        slope,
        lo: lo.min(slope),
        hi: hi.max(slope),
    }
}

/// Median of `v` (midpoint of the two middle elements for an even count), and the elements of rank
/// `k_lo` and `k_hi` (0-based, sorted order), with at most three selections.
fn quantiles3(v: &mut [f64], k_lo: usize, k_hi: usize) -> (f64, f64, f64) {
    let n = v.len();
    let mid = n / 2;
    v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper_mid = v[mid];
    let med = if n % 2 == 1 {
        upper_mid
    } else {
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lower + (upper_mid - lower) / 2.0
    };
    // Selecting inside one side of the partition keeps the partition valid.
    let pick = |v: &mut [f64], k: usize| -> f64 {
        match k.cmp(&mid) {
            Ordering::Less => *v[..mid].select_nth_unstable_by(k, f64::total_cmp).1,
            Ordering::Equal => v[mid],
            Ordering::Greater => {
                *v[mid + 1..]
                    .select_nth_unstable_by(k - mid - 1, f64::total_cmp)
                    .1
            }
        }
    };
    let lo = pick(v, k_lo.min(n - 1));
    let hi = pick(v, k_hi.min(n - 1));
    (med, lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_quantiles_match_the_tables() {
        // Two-sided 95% and 99% points of Student's t (any statistics table).
        for (df, t95, t99) in [
            (1, 12.706, 63.657),
            (2, 4.303, 9.925),
            (3, 3.182, 5.841),
            (4, 2.776, 4.604),
            (5, 2.571, 4.032),
            (10, 2.228, 3.169),
            (30, 2.042, 2.750),
        ] {
            assert!((student_quantile(0.95, df) - t95).abs() < 1e-3, "df {df}");
            assert!((student_quantile(0.99, df) - t99).abs() < 1e-3, "df {df}");
        }
        assert!((student_quantile(0.95, 100_000) - 1.960).abs() < 1e-3);
    }

    fn mk_naive(y: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..y.len() {
            for j in i + 1..y.len() {
                s += match y[j].partial_cmp(&y[i]) {
                    Some(Ordering::Greater) => 1.0,
                    Some(Ordering::Less) => -1.0,
                    _ => 0.0,
                };
            }
        }
        s
    }

    fn mk_naive_inversions(y: &[f64]) -> u128 {
        let mut c = 0;
        for i in 0..y.len() {
            for j in i + 1..y.len() {
                if y[i] > y[j] {
                    c += 1;
                }
            }
        }
        c
    }

    #[test]
    fn normal_functions_match_tables() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_sf(1.959_963_985) - 0.025).abs() < 1e-7);
        assert!((normal_sf(-1.644_853_627) - 0.95).abs() < 1e-7);
        assert!((normal_sf(5.0) - 2.866_515_7e-7).abs() / 2.866_515_7e-7 < 1e-5);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
        assert!((normal_quantile(0.999_5) - 3.290_526_731).abs() < 1e-8);
    }

    #[test]
    fn median_and_mad() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let mut v = vec![1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0];
        assert_eq!(mad_mut(&mut v), (2.0, 1.0));
    }

    #[test]
    fn mann_kendall_matches_naive_with_ties() {
        let mut x: u64 = 12345;
        for n in [2usize, 3, 10, 17, 33, 100, 257] {
            let y: Vec<f64> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((x >> 59) % 5) as f64
                })
                .collect();
            let mk = mann_kendall(&y);
            assert_eq!(mk.s, mk_naive(&y), "n={n}");
        }
        // All tied: no evidence, no division by zero.
        let mk = mann_kendall(&[3.0; 50]);
        assert_eq!((mk.s, mk.var_s, mk.p_increasing), (0.0, 0.0, 1.0));
        // Known value: 1..=10 strictly increasing: S = 45, Var = 10*9*25/18 = 125.
        let y: Vec<f64> = (1..=10).map(f64::from).collect();
        let mk = mann_kendall(&y);
        assert_eq!(mk.s, 45.0);
        assert!((mk.var_s - 125.0).abs() < 1e-9);
        assert!((mk.z - 44.0 / 125f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn theil_sen_exact_and_sampled_agree_on_a_line() {
        for m in [5usize, 100, 600, 5000] {
            let t: Vec<f64> = (0..m).map(|i| i as f64).collect();
            let y: Vec<f64> = t.iter().map(|&i| 1e7 + 8.0 * i).collect();
            let mk = mann_kendall(&y);
            let fit = theil_sen(&t, &y, 0.95, mk.var_s);
            assert_eq!((fit.slope, fit.lo, fit.hi), (8.0, 8.0, 8.0), "m={m}");
            assert_eq!(sen_slope(&t, &y), 8.0);
        }
    }

    #[test]
    fn theil_sen_interval_covers_noisy_truth() {
        let mut x: u64 = 99;
        let mut unif = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for m in [200usize, 2000] {
            let t: Vec<f64> = (0..m).map(|i| i as f64).collect();
            let y: Vec<f64> = t.iter().map(|&i| 3.0 * i + 100.0 * unif()).collect();
            let mk = mann_kendall(&y);
            let fit = theil_sen(&t, &y, 0.95, mk.var_s);
            assert!(fit.lo <= 3.0 && 3.0 <= fit.hi, "m={m} {fit:?}");
            assert!(fit.hi - fit.lo < 1.0, "m={m} {fit:?}");
        }
    }

    #[test]
    fn fenwick_inversions_match_naive() {
        let y: Vec<f64> = (0..300).map(|i| ((i * 37) % 23) as f64).collect();
        let mk = mann_kendall(&y);
        assert_eq!(mk.s, mk_naive(&y));
        let ranks: Vec<u32> = y.iter().map(|&v| v as u32 + 1).collect();
        assert_eq!(count_inversions(&ranks, 23), mk_naive_inversions(&y));
    }
}
