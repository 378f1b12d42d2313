//! Which preset fits a series of unknown origin: the noise model inferred from the data.
//!
//! The rule, in order (the first that applies wins):
//! 1. Fewer than 3 samples, or a sample that is not finite: [`Config::heap`] (nothing to infer from;
//!    [`analyze`](crate::analyze) answers Inconclusive or an error anyway).
//! 2. Fractional values: no quantum. Steady (most second differences exactly 0) is exact data:
//!    [`Config::heap`] with no absolute floor (1e-7 of the level per sample); otherwise measured
//!    noisy data: the `rss` model without a quantum, floor 1e-6 of the level per sample.
//! 3. Whole numbers whose non-zero differences have a GCD (the quantum) of 1, all in `0..=10_000`:
//!    small counts (open fds, threads), [`Config::counts`].
//! 4. Whole numbers with quantum 1: exact byte counts, [`Config::heap`].
//! 5. Whole numbers with a quantum `q >= 2` in steady steps (more than half of the second
//!    differences exactly 0, e.g. a heap growing by 8-byte blocks): exact, [`Config::heap`] with the
//!    floor `q / 100` per sample (one quantum per 100 samples) or 1e-7 of the level.
//! 6. Whole numbers with a quantum `q >= 2` and noise (4096 for RSS in bytes, 4 for RSS in KiB from
//!    `ps`): a quantized measurement, [`Config::rss`] scaled to the quantum: noise never below `q`'s
//!    quantization error, floor `q / 100` per sample or 1e-8 of the level. A page-quantized series with
//!    noise is never exact, and with 5 and 6 the verdict does not depend on the unit (KiB or bytes).

use serde::Serialize;

use crate::config::{Config, NoiseModel};

/// Largest value of a series that can still be small counts (open fds, threads).
const MAX_COUNT: f64 = 10_000.0;

/// The preset [`infer_model`] chose for a series, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelChoice {
    /// The detector settings to judge the series with.
    pub config: Config,
    /// The model's name: `"heap"`, `"rss"` or `"counts"`, as the presets.
    pub name: &'static str,
    /// The measurement quantum found (GCD of the non-zero differences of whole-number data); 0 when
    /// none (fractional values, or fewer than two distinct values).
    pub quantum: f64,
    /// One sentence saying why this model was chosen.
    pub reason: String,
}

/// Infers the noise model of a series from its values (pure; never panics). See the module
/// documentation for the rule.
///
/// ```
/// use leakproof_trend::{analyze, infer_model, Verdict};
///
/// // 8 bytes more per sample on a 1 MB heap: whole numbers moving by 8, not page-quantized RSS.
/// let heap: Vec<f64> = (0..300).map(|i| 1e6 + 8.0 * i as f64).collect();
/// let choice = infer_model(&heap);
/// assert_eq!(choice.quantum, 8.0);
/// assert_eq!(analyze(&heap, &choice.config).unwrap().verdict, Verdict::Leaking);
/// ```
pub fn infer_model(samples: &[f64]) -> ModelChoice {
    if samples.len() < 3 {
        return choice(
            Config::heap(),
            "heap",
            0.0,
            "fewer than 3 samples: the default".into(),
        );
    }
    if samples.iter().any(|v| !v.is_finite()) {
        return choice(
            Config::heap(),
            "heap",
            0.0,
            "not every sample is finite".into(),
        );
    }
    let steady = steady(samples);
    let Some(q) = quantum(samples) else {
        return fractional(steady);
    };
    let (min, max) = samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if q <= 1.0 && min >= 0.0 && max <= MAX_COUNT {
        let reason = format!(
            "whole numbers from {} to {} that move by single units: small exact counts (fds, threads)",
            min, max
        );
        return choice(Config::counts(), "counts", q, reason);
    }
    if q <= 1.0 {
        let reason =
            "whole numbers that move by single units: exact counts such as heap bytes".into();
        return choice(Config::heap(), "heap", q, reason);
    }
    if steady {
        let reason = format!(
            "whole multiples of {q} in steady steps: exact data such as a heap growing in {q}-unit \
             blocks (floor {} per sample or 1e-7 of the level)",
            q / 100.0
        );
        let config = Config::heap().with_min_slope(q / 100.0);
        return choice(config, "heap", q, reason);
    }
    let reason = format!(
        "whole multiples of {q} with noise: a quantized measurement such as RSS (floor {} per sample or \
         1e-8 of the level)",
        q / 100.0
    );
    choice(quantized(q), "rss", q, reason)
}

/// [`Config::rss`] for a measurement quantum `q`: everything that is in units scaled by `q / 4096`.
fn quantized(q: f64) -> Config {
    let rss = Config::rss();
    let scale = q / 4096.0;
    let min_slope = rss.min_slope * scale;
    rss.with_min_slope(min_slope)
        .with_noise(NoiseModel::Noisy { quantum: q })
}

fn fractional(steady: bool) -> ModelChoice {
    if steady {
        let config = Config::heap().with_min_slope(0.0);
        let reason =
            "fractional values that change in steady steps: exact, floor 1e-7 of the level \
                      per sample"
                .into();
        choice(config, "heap", 0.0, reason)
    } else {
        let config = Config::rss()
            .with_min_slope(0.0)
            .with_min_relative_slope(1e-6)
            .with_noise(NoiseModel::Noisy { quantum: 0.0 });
        let reason =
            "fractional values with noise: a measurement without a quantum, floor 1e-6 of the \
                      level per sample"
                .into();
        choice(config, "rss", 0.0, reason)
    }
}

fn choice(config: Config, name: &'static str, quantum: f64, reason: String) -> ModelChoice {
    ModelChoice {
        config,
        name,
        quantum,
        reason,
    }
}

/// Exact data: more than half of the second differences are exactly 0 (runs of equal values, steady
/// steps), which is when the detector's noise estimate is 0 too.
fn steady(y: &[f64]) -> bool {
    let d2 = y.windows(3).map(|w| (w[2] - w[1]) - (w[1] - w[0]));
    let total = y.len().saturating_sub(2);
    let zeros = d2.filter(|&d| d == 0.0).count();
    2 * zeros > total
}

/// Whole numbers this large or larger are not all representable, so their differences are not exact.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// The GCD of the non-zero first differences of whole-number data; 1 when every value is equal; `None`
/// for fractional values (or values too large to be exact).
fn quantum(y: &[f64]) -> Option<f64> {
    if y.iter().any(|v| v.fract() != 0.0 || v.abs() >= MAX_EXACT) {
        return None;
    }
    let g = y
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|&d| d > 0.0)
        // Differences of values below 2^53 are below 2^54: exact as u64.
        .fold(0u64, |g, d| gcd(g, d as u64));
    Some(g.max(1) as f64)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, Verdict};

    fn verdict(s: &[f64]) -> (Verdict, ModelChoice) {
        let c = infer_model(s);
        (analyze(s, &c.config).unwrap().verdict, c)
    }

    /// A deterministic jitter in `-amp..=amp` (xorshift).
    fn jitter(seed: u64, amp: i64) -> impl FnMut() -> f64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x % (2 * amp as u64 + 1)) as i64 - amp) as f64
        }
    }

    #[test]
    fn eight_bytes_per_sample_on_a_megabyte_is_leaking() {
        // Issue 15: the rss default called these three Stable.
        let s: Vec<f64> = (0..300).map(|i| 1e6 + 8.0 * i as f64).collect();
        let (v, c) = verdict(&s);
        assert_eq!(
            (v, c.name, c.quantum),
            (Verdict::Leaking, "heap", 8.0),
            "{}",
            c.reason
        );
        let mut j = jitter(7, 64);
        let s: Vec<f64> = (0..300).map(|i| 1e6 + 8.0 * i as f64 + j()).collect();
        let (v, c) = verdict(&s);
        assert_eq!((v, c.name), (Verdict::Leaking, "heap"), "{}", c.reason);
        let s: Vec<f64> = (0..300)
            .map(|i| 1e6 + 16.0 * (i as f64 - 100.0).max(0.0))
            .collect();
        let (v, c) = verdict(&s);
        assert_eq!((v, c.quantum), (Verdict::Leaking, 16.0), "{}", c.reason);
    }

    #[test]
    fn page_quantized_rss_gets_the_rss_preset() {
        let mut j = jitter(3, 3);
        let s: Vec<f64> = (0..400).map(|_| (25_000.0 + j()) * 4096.0).collect();
        let c = infer_model(&s);
        assert_eq!(c.config, Config::rss(), "{}", c.reason);
        assert_eq!(c.name, "rss");
        // The same RSS in KiB, as `ps -o rss=` prints it: the same preset in KiB.
        let kib: Vec<f64> = s.iter().map(|v| v / 1024.0).collect();
        let k = infer_model(&kib);
        assert_eq!(k.quantum, 4.0);
        assert_eq!(k.config.min_slope, 0.04);
        assert_eq!(k.config.noise, NoiseModel::Noisy { quantum: 4.0 });
    }

    #[test]
    fn small_whole_numbers_are_counts() {
        let fds: Vec<f64> = (0..100).map(|i| 12.0 + (i / 10) as f64).collect();
        let c = infer_model(&fds);
        assert_eq!((c.name, c.config.clone()), ("counts", Config::counts()));
        assert_eq!(analyze(&fds, &c.config).unwrap().verdict, Verdict::Leaking);
        assert_eq!(infer_model(&[12.0; 50]).name, "counts");
        // Negative or large values are not counts.
        assert_eq!(infer_model(&[-1.0, 0.0, 1.0, 0.0]).name, "heap");
        assert_eq!(infer_model(&[20_000.0, 20_001.0, 20_000.0]).name, "heap");
    }

    #[test]
    fn fractional_values_have_no_quantum() {
        let steady: Vec<f64> = (0..100).map(|i| 0.5 + 0.001 * i as f64).collect();
        let c = infer_model(&steady);
        assert_eq!(
            (c.name, c.quantum, c.config.noise),
            ("heap", 0.0, NoiseModel::Exact)
        );
        assert_eq!(
            analyze(&steady, &c.config).unwrap().verdict,
            Verdict::Leaking
        );
        let mut j = jitter(11, 1000);
        let noisy: Vec<f64> = (0..100).map(|_| 50.0 + j() / 997.0).collect();
        let c = infer_model(&noisy);
        assert_eq!(c.config.noise, NoiseModel::Noisy { quantum: 0.0 });
    }

    #[test]
    fn degenerate_inputs_fall_back_to_heap() {
        for s in [
            &[][..],
            &[1.0, 2.0][..],
            &[1.0, f64::NAN, 3.0][..],
            &[1e300, 0.0, 1.0][..],
        ] {
            let c = infer_model(s);
            assert!(c.config.validate().is_ok(), "{s:?}");
            assert!(!c.reason.is_empty());
        }
    }
}
