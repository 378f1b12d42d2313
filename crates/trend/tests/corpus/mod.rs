//! The labelled corpus: generated series with known truth, fixed seeds (rand 0.8 `StdRng`).
//!
//! Shared by `tests/labelled.rs` (asserts the error-rate bounds; its ignored `confusion_table` test prints
//! the table published in docs/detection.md).

#![allow(dead_code)]

use leakproof_trend::{Config, Verdict};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One RSS page.
pub const PAGE: f64 = 4096.0;

/// What a case must satisfy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    /// No trend: Leaking counts against the <= 1% bound.
    Stable,
    /// A real leak. `must_leak`: must be Leaking (exact >= 8 units/sample over 300 samples; RSS >= 2
    /// pages per 100 samples over 1000). `visible`: above the floor and above what the noise lets one
    /// see, so it must never be Stable.
    Leak { must_leak: bool, visible: bool },
    /// Growth that never stops or slows only: never Stable.
    NotStable,
    /// No requirement (counted in the table only).
    Any,
    /// Warm-up then plateau: never Leaking; `proven` (flat >= 1.5 x growth + 1): must be Stable;
    /// `too_early` (flat < growth): must be Inconclusive.
    Plateau { proven: bool, too_early: bool },
}

/// A labelled series.
pub struct Case {
    pub class: &'static str,
    pub series: Vec<f64>,
    pub config: Config,
    pub expect: Expect,
    /// True slope after the warm-up, for exact linear leaks.
    pub truth: Option<f64>,
}

/// The classes, in table order: (name, what it is, number of series).
pub const CLASSES: &[(&str, &str, usize)] = &[
    (
        "leak-linear",
        "exact heap, 8 B..1 MiB per sample, 300 samples, warm-up 0..50",
        200,
    ),
    (
        "leak-linear-jitter",
        "exact heap, 1 B..1 MiB per sample plus +-J jitter, 300 samples",
        150,
    ),
    (
        "leak-late",
        "exact heap, flat for 20..150 samples, then >= 8 B per sample",
        100,
    ),
    (
        "leak-sawtooth",
        "saw-tooth (buffer cleared) whose baseline rises >= 8 B per sample",
        100,
    ),
    (
        "staircase-regular",
        "a step every 2..60 samples, 1 B..1 MiB per step",
        150,
    ),
    (
        "staircase-geometric",
        "steps at ratio 1.5 or 2 (1, 2, 4, ..., 256, ...)",
        120,
    ),
    (
        "every-kth",
        "random-size leak every k-th sample (k 2..40) over jitter",
        120,
    ),
    (
        "drip-below-floor",
        "2 B every 16 samples (below the 1 B/sample floor)",
        60,
    ),
    (
        "sublinear",
        "A*ln(1+t) or A*sqrt(t), 300..1000 samples",
        120,
    ),
    (
        "plateau",
        "cache filling over 50..300 samples, then flat for 10 samples..3x as long",
        200,
    ),
    (
        "stable-noise",
        "constant or constant + bounded white noise",
        150,
    ),
    (
        "stable-sawtooth",
        "buffer that grows and is cleared, period < n/3",
        150,
    ),
    (
        "stable-gc",
        "random growth with GC-like drops to the baseline",
        150,
    ),
    (
        "rss-stable",
        "RSS: 4 KiB pages, noise of a few pages, bursts returned, 1000 samples",
        150,
    ),
    (
        "rss-plateau",
        "RSS: 64..2048 pages filled over 50..300 samples, then flat for 10 samples..3x as long",
        100,
    ),
    (
        "rss-leak",
        "RSS: >= 2 pages per 100 samples, same noise, 1000 samples",
        150,
    ),
    (
        "rss-small-leak",
        "RSS: 0.25..2 pages per 100 samples, same noise, 1000 samples",
        100,
    ),
    (
        "rss-sawtooth",
        "RSS: GC-like saw-tooth, 8..16 full cycles of 40..80 samples, +-4..16 KiB noise, flat baseline",
        100,
    ),
    (
        "rss-sawtooth-leak",
        "RSS: the same saw-tooth whose baseline rises visibly (floor + 4h .. 8x that, h from one point per cycle)",
        100,
    ),
    (
        "rss-sawtooth-few",
        "RSS: GC-like saw-tooth of 3..7 full cycles of 40..80 samples (+-20% each), linear, concave or convex fill, +-4..16 KiB noise, flat baseline",
        100,
    ),
    (
        "rss-sawtooth-few-leak",
        "RSS: the same few cycles whose baseline rises visibly (floor + 4h .. 8x that, h of the baselines' slope from their cycles' noise)",
        100,
    ),
    (
        "counts-leak",
        "fds: +1 every k-th sample (k 1..10), 100..400 samples",
        100,
    ),
    (
        "counts-pool",
        "fds: a pool of 1..16 opened in the first 5..40 samples, then flat >= 10",
        100,
    ),
];

fn rng_for(class: &str, i: usize) -> StdRng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in class.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    StdRng::seed_from_u64(h ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn log_uniform(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    (rng.gen_range(lo.ln()..=hi.ln())).exp()
}

/// Warm-up curve: rises by `height` over about `len` samples (exponential approach, exact integers).
fn warmup(t: usize, len: usize, height: f64) -> f64 {
    if len == 0 {
        return height;
    }
    let tau = len as f64 / 4.0;
    (height * (1.0 - (-(t as f64) / tau).exp())).round()
}

/// The whole corpus.
pub fn corpus() -> Vec<Case> {
    let mut out = Vec::new();
    for &(class, _, count) in CLASSES {
        for i in 0..count {
            out.push(generate(class, i));
        }
    }
    out
}

/// One case of a class.
pub fn generate(class: &'static str, i: usize) -> Case {
    let mut rng = rng_for(class, i);
    let r = &mut rng;
    let heap = Config::heap();
    let level = log_uniform(r, 1e4, 1e7).round();
    match class {
        "leak-linear" => {
            let slope = log_uniform(r, 8.0, 1_048_576.0).round();
            let w = r.gen_range(0..=50);
            let wh = r.gen_range(0.0..200.0) * slope;
            let series = (0..300)
                .map(|t| {
                    let warm = warmup(t.min(w), w, wh);
                    level + warm + if t >= w { slope * (t - w) as f64 } else { 0.0 }
                })
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Leak {
                    must_leak: true,
                    visible: true,
                },
                truth: Some(slope),
            }
        }
        "leak-linear-jitter" => {
            let slope = log_uniform(r, 1.0, 1_048_576.0).round();
            let jitter = log_uniform(r, 1.0, 4096.0).round();
            let n = 300;
            let series = (0..n)
                .map(|t| level + slope * t as f64 + r.gen_range(-jitter..=jitter).round())
                .collect();
            // Visible: 4x the white-noise 95% half-width of a slope from n samples, and the floor.
            let sigma = jitter / 3f64.sqrt();
            let hw = 1.96 * sigma * 12f64.sqrt() / (n as f64).powf(1.5);
            let floor = heap.min_slope.max(heap.min_relative_slope * level);
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Leak {
                    must_leak: false,
                    visible: slope >= floor + 4.0 * hw,
                },
                truth: Some(slope),
            }
        }
        "leak-late" => {
            let start = r.gen_range(20..=150);
            let slope = log_uniform(r, 8.0, 65_536.0).round();
            let series = (0..300)
                .map(|t| {
                    level
                        + if t > start {
                            slope * (t - start) as f64
                        } else {
                            0.0
                        }
                })
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Leak {
                    must_leak: false,
                    visible: true,
                },
                truth: Some(slope),
            }
        }
        "leak-sawtooth" => {
            let period = r.gen_range(5..=60usize);
            let fill = log_uniform(r, 64.0, 65_536.0).round();
            let slope = log_uniform(r, 8.0, 4096.0).round();
            let phase = r.gen_range(0..period);
            let n = 400;
            let series = (0..n)
                .map(|t| level + slope * t as f64 + fill * ((t + phase) % period) as f64)
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Leak {
                    must_leak: false,
                    visible: true,
                },
                truth: Some(slope),
            }
        }
        "staircase-regular" => {
            let k = r.gen_range(2..=60usize);
            let step = log_uniform(r, 1.0, 1_048_576.0).round();
            let phase = r.gen_range(0..k);
            let n = r.gen_range(300..=600);
            let series = (0..n)
                .map(|t| level + step * ((t + phase) / k) as f64)
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::NotStable,
                truth: None,
            }
        }
        "staircase-geometric" => {
            let ratio: f64 = if r.gen_bool(0.5) { 2.0 } else { 1.5 };
            let step = log_uniform(r, 8.0, 1_048_576.0).round();
            let n = r.gen_range(64..=1024usize);
            let mut steps = Vec::new();
            let mut at = 1.0f64;
            while (at as usize) < n {
                steps.push(at as usize);
                at = (at * ratio).max(at + 1.0);
            }
            let series = (0..n)
                .map(|t| level + step * steps.iter().filter(|&&s| s <= t).count() as f64)
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::NotStable,
                truth: None,
            }
        }
        "every-kth" => {
            let k = r.gen_range(2..=40usize);
            let jitter = r.gen_range(0.0..64.0f64).round();
            let mut acc = level;
            let series = (0..400)
                .map(|t| {
                    if t % k == k - 1 {
                        acc += log_uniform(r, 64.0, 65_536.0).round();
                    }
                    acc + r.gen_range(-jitter..=jitter).round()
                })
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::NotStable,
                truth: None,
            }
        }
        "drip-below-floor" => {
            let phase = r.gen_range(0..16);
            let n = r.gen_range(200..=2000);
            let series = (0..n)
                .map(|t| level + 2.0 * ((t + phase) / 16) as f64)
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::NotStable,
                truth: None,
            }
        }
        "sublinear" => {
            let n = r.gen_range(300..=1000);
            let a = log_uniform(r, 100.0, 1e6);
            let log = r.gen_bool(0.5);
            let series = (0..n)
                .map(|t| {
                    let x = t as f64;
                    level + (a * if log { (1.0 + x).ln() } else { x.sqrt() }).round()
                })
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::NotStable,
                truth: None,
            }
        }
        "plateau" => {
            let fill = r.gen_range(50..=300usize);
            // At least 10 flat samples: a fill that has not yet been flat for that long is just growth,
            // indistinguishable from a leak.
            let flat = r.gen_range(10..=3 * fill);
            let height = log_uniform(r, 1e3, 1e7);
            let concave = r.gen_bool(0.5);
            let series = (0..fill + flat)
                .map(|t| {
                    let x = (t.min(fill) as f64) / fill as f64;
                    let shape = if concave {
                        1.0 - (1.0 - x) * (1.0 - x)
                    } else {
                        x
                    };
                    level + (height * shape).round()
                })
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Plateau {
                    proven: flat as f64 >= 1.5 * fill as f64 + 1.0,
                    too_early: flat < fill,
                },
                truth: None,
            }
        }
        "stable-noise" => {
            let n = r.gen_range(100..=1000);
            let jitter = if r.gen_bool(0.2) {
                0.0
            } else {
                log_uniform(r, 1.0, 1e5).round()
            };
            let series = (0..n)
                .map(|_| level + r.gen_range(-jitter..=jitter).round())
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Stable,
                truth: None,
            }
        }
        "stable-sawtooth" => {
            let n = r.gen_range(150..=1000usize);
            let period = r.gen_range(3..n / 3);
            let fill = log_uniform(r, 8.0, 1e5).round();
            let phase = r.gen_range(0..period);
            let jitter = r.gen_range(0.0..8.0f64).round();
            let series = (0..n)
                .map(|t| {
                    level
                        + fill * ((t + phase) % period) as f64
                        + r.gen_range(-jitter..=jitter).round()
                })
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Stable,
                truth: None,
            }
        }
        "stable-gc" => {
            let n = r.gen_range(200..=1000usize);
            let mean_gap = r.gen_range(10.0..60.0f64);
            let inc = log_uniform(r, 64.0, 1e5);
            let mut acc = 0.0;
            let series = (0..n)
                .map(|_| {
                    if r.gen_bool(1.0 / mean_gap) {
                        acc = r.gen_range(0.0..inc).round();
                    } else {
                        acc += (r.gen_range(0.0..2.0 * inc)).round();
                    }
                    level + acc
                })
                .collect();
            Case {
                class,
                series,
                config: heap,
                expect: Expect::Stable,
                truth: None,
            }
        }
        "rss-stable" | "rss-leak" | "rss-small-leak" => {
            let base = (log_uniform(r, 2e7, 2e8) / PAGE).round();
            let noise_pages = r.gen_range(1.0..4.0f64);
            let pages_per_100 = match class {
                "rss-stable" => 0.0,
                "rss-leak" => log_uniform(r, 2.0, 64.0),
                _ => r.gen_range(0.25..2.0),
            };
            let slope = pages_per_100 * PAGE / 100.0;
            let n = 1000;
            let burst_p = r.gen_range(0.0..0.03f64);
            let mut burst = 0.0f64;
            let series = (0..n)
                .map(|t| {
                    // Bursts: some pages allocated, returned a few samples later.
                    if burst > 0.0 && r.gen_bool(0.3) {
                        burst = 0.0;
                    } else if r.gen_bool(burst_p) {
                        burst = r.gen_range(8.0..64.0f64).round();
                    }
                    let noise: f64 =
                        (0..4).map(|_| r.gen_range(-1.0..1.0f64)).sum::<f64>() * noise_pages * 0.87;
                    let pages = base + burst + noise + slope * t as f64 / PAGE;
                    pages.round() * PAGE
                })
                .collect();
            let cfg = Config::rss();
            // Visible: 4x the 95% half-width of a slope from n samples with the page noise, and the floor.
            let sigma = noise_pages * PAGE;
            let hw = 1.96 * sigma * 12f64.sqrt() / (n as f64).powf(1.5);
            let floor = cfg.min_slope.max(cfg.min_relative_slope * base * PAGE);
            let expect = match class {
                "rss-stable" => Expect::Stable,
                "rss-leak" => Expect::Leak {
                    must_leak: true,
                    visible: true,
                },
                _ => Expect::Leak {
                    must_leak: false,
                    visible: slope >= floor + 4.0 * hw,
                },
            };
            Case {
                class,
                series,
                config: cfg,
                expect,
                truth: Some(slope),
            }
        }
        "rss-plateau" => {
            let base = (log_uniform(r, 2e7, 2e8) / PAGE).round();
            let noise_pages = r.gen_range(1.0..4.0f64);
            let fill = r.gen_range(50..=300usize);
            let flat = r.gen_range(10..=3 * fill);
            let height = log_uniform(r, 64.0, 2048.0);
            let series = (0..fill + flat)
                .map(|t| {
                    let x = t.min(fill) as f64 / fill as f64;
                    let noise: f64 =
                        (0..4).map(|_| r.gen_range(-1.0..1.0f64)).sum::<f64>() * noise_pages * 0.87;
                    (base + height * x + noise).round() * PAGE
                })
                .collect();
            Case {
                class,
                series,
                config: Config::rss(),
                // Noisy: "never Leaking" once the plateau has lasted half as long as the fill (a shorter
                // one can hide in the noise); how soon it is proven Stable depends on the noise.
                expect: if 2 * flat >= fill {
                    Expect::Plateau {
                        proven: false,
                        too_early: false,
                    }
                } else {
                    Expect::Any
                },
                truth: None,
            }
        }
        "rss-sawtooth" | "rss-sawtooth-leak" => {
            let period = r.gen_range(40..=80usize);
            let full = r.gen_range(8..=16usize);
            let n = (full + 1) * period + r.gen_range(0..period);
            let noise = r.gen_range(4096.0..16384.0f64);
            let amp = log_uniform(r, 512.0 * 1024.0, 8.0 * 1_048_576.0);
            let phase = r.gen_range(0..period);
            let base = log_uniform(r, 2e7, 2e8);
            let cfg = Config::rss();
            // Visible: 4x the 95% half-width of a slope from one point per cycle (n / period points
            // `period` samples apart) with this noise (uniform plus page rounding), above the floor.
            let sigma = (noise * noise / 3.0 + PAGE * PAGE / 12.0).sqrt();
            let cycles = (n / period) as f64;
            let hw = 1.96 * sigma * 12f64.sqrt() / (cycles.powf(1.5) * period as f64);
            let floor = cfg.min_slope.max(cfg.min_relative_slope * base);
            let leak = if class == "rss-sawtooth" {
                0.0
            } else {
                log_uniform(r, floor + 4.0 * hw, 8.0 * (floor + 4.0 * hw))
            };
            let series = (0..n)
                .map(|t| {
                    let x = ((t + phase) % period) as f64 / period as f64;
                    let v = base + amp * x + leak * t as f64 + r.gen_range(-noise..=noise);
                    (v / PAGE).round() * PAGE
                })
                .collect();
            Case {
                class,
                series,
                config: cfg,
                expect: if class == "rss-sawtooth" {
                    Expect::Stable
                } else {
                    Expect::Leak {
                        must_leak: false,
                        visible: true,
                    }
                },
                truth: Some(leak),
            }
        }
        "rss-sawtooth-few" | "rss-sawtooth-few-leak" => few_cycles(class, r),
        "counts-leak" => {
            let k = r.gen_range(1..=10usize);
            let base = r.gen_range(3..50) as f64;
            let n = r.gen_range(100..=400usize);
            let phase = r.gen_range(0..k);
            let series = (0..n).map(|t| base + ((t + phase) / k) as f64).collect();
            Case {
                class,
                series,
                config: Config::counts(),
                expect: Expect::Leak {
                    must_leak: true,
                    visible: true,
                },
                truth: Some(1.0 / k as f64),
            }
        }
        "counts-pool" => {
            let base = r.gen_range(3..50) as f64;
            let size = r.gen_range(1..=16usize);
            let window = r.gen_range(5..=40usize);
            let mut opens: Vec<usize> = (0..size).map(|_| r.gen_range(0..window)).collect();
            opens.sort_unstable();
            let last = opens.last().copied().unwrap_or(0) + 1;
            // At least 10 flat samples at the end (before that a pool still filling is just growth).
            let n = r.gen_range((last + 10).max(20)..=300usize);
            let series: Vec<f64> = (0..n)
                .map(|t| base + opens.iter().filter(|&&o| o < t).count() as f64)
                .collect();
            // The growth clock (documented rule) restarts after a flat stretch of >= 10 samples that lasted
            // more than twice its start.
            // After a reset, the final plateau must also outlast the plateau that reset it.
            let mut clock = 0;
            let mut reset_len = 0;
            let mut run_start = 0;
            for t in 1..=last {
                if series[t] != series[t - 1] {
                    let len = t - run_start;
                    if len >= 10 && len > 2 * run_start {
                        clock = t;
                        reset_len = len;
                    }
                    run_start = t;
                }
            }
            let growth = last - clock;
            let flat = n - last;
            Case {
                class,
                series,
                config: Config::counts(),
                expect: Expect::Plateau {
                    proven: n >= 20
                        && flat >= 10
                        && flat > reset_len
                        && flat as f64 >= 1.5 * growth as f64 + 1.0,
                    too_early: flat < growth,
                },
                truth: None,
            }
        }
        other => panic!("unknown class {other}"),
    }
}

/// A GC-like RSS saw-tooth of a few full cycles: each cycle 40..80 samples (+-20% from cycle to
/// cycle), the same amplitude each time, filled linearly, concavely (a heap touching fresh pages
/// fast first) or convexly, under uniform noise and page rounding; flat, or with a baseline rising
/// visibly: floor + 4h .. 8x that, h the 95% half-width of the slope of the baselines from their
/// cycles' noise alone (each baseline the intercept of a cycle's line, standard error about
/// 2σ/√period): the most a few cycles could show.
fn few_cycles(class: &'static str, r: &mut StdRng) -> Case {
    let period = r.gen_range(40..=80usize);
    let full = r.gen_range(3..=7usize);
    let noise = r.gen_range(4096.0..16384.0f64);
    let amp = log_uniform(r, 512.0 * 1024.0, 8.0 * 1_048_576.0);
    let base = log_uniform(r, 2e7, 2e8);
    let shape = [1.0, 0.5, 2.0][r.gen_range(0..3)];
    // A partial cycle before the first drop and after the last.
    let mut lengths = vec![r.gen_range(1..period)];
    lengths.extend((0..full).map(|_| (period as f64 * r.gen_range(0.8..1.2)).round() as usize));
    lengths.push(r.gen_range(1..period));
    let cfg = Config::rss();
    let sigma = (noise * noise / 3.0 + PAGE * PAGE / 12.0).sqrt();
    let k = full as f64;
    let hw = 1.96 * (2.0 * sigma / (period as f64).sqrt())
        / (period as f64 * (k * (k * k - 1.0) / 12.0).sqrt());
    let floor = cfg.min_slope.max(cfg.min_relative_slope * base);
    let leak = if class == "rss-sawtooth-few" {
        0.0
    } else {
        log_uniform(r, floor + 4.0 * hw, 8.0 * (floor + 4.0 * hw))
    };
    let mut series = Vec::new();
    for (c, &len) in lengths.iter().enumerate() {
        // The first partial cycle is the end of a tooth; the others start at the baseline.
        let skip = if c == 0 { period - len } else { 0 };
        let span = if c == 0 { period } else { len };
        for j in 0..len {
            let x = ((j + skip) as f64 / span as f64).powf(shape);
            let t = series.len() as f64;
            let v = base + amp * x + leak * t + r.gen_range(-noise..=noise);
            series.push((v / PAGE).round() * PAGE);
        }
    }
    Case {
        class,
        series,
        config: cfg,
        expect: if leak == 0.0 {
            Expect::Stable
        } else {
            Expect::Leak {
                must_leak: false,
                visible: true,
            }
        },
        truth: Some(leak),
    }
}

/// Whether `verdict` breaks the case's expectation.
pub fn violates(case: &Case, verdict: Verdict) -> bool {
    match case.expect {
        Expect::Stable | Expect::Any => false, // Stable: counted against the rate bound instead
        Expect::Leak { must_leak, visible } => {
            (must_leak && verdict != Verdict::Leaking) || (visible && verdict == Verdict::Stable)
        }
        Expect::NotStable => verdict == Verdict::Stable,
        Expect::Plateau { proven, too_early } => {
            verdict == Verdict::Leaking
                || (proven && verdict != Verdict::Stable)
                || (too_early && verdict != Verdict::Inconclusive)
        }
    }
}
