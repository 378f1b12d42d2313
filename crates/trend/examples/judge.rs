//! Judges a series of samples: one number per line on standard input, or a built-in demo series.
//!
//! ```text
//! cargo run -p leakproof-trend --example judge                      # the demo series
//! seq 1 500 | cargo run -p leakproof-trend --example judge -- counts # your own series, a preset
//! ```
//! Presets: `heap` (default), `rss`, `counts`.

use std::io::{IsTerminal, Read};

use leakproof_trend::{analyze, Config};

fn main() -> std::process::ExitCode {
    let preset = std::env::args().nth(1).unwrap_or_else(|| "heap".into());
    let config = match preset.as_str() {
        "heap" => Config::heap(),
        "rss" => Config::rss(),
        "counts" => Config::counts(),
        other => {
            eprintln!("unknown preset {other:?}: use heap, rss or counts");
            return std::process::ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    let mut samples: Vec<f64> = if stdin.is_terminal() {
        Vec::new()
    } else {
        let mut text = String::new();
        if let Err(e) = stdin.lock().read_to_string(&mut text) {
            eprintln!("cannot read standard input: {e}");
            return std::process::ExitCode::from(2);
        }
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match line.parse::<f64>() {
                Ok(v) => out.push(v),
                Err(_) => {
                    eprintln!("line {}: not a number: {line:?}", n + 1);
                    return std::process::ExitCode::from(2);
                }
            }
        }
        out
    };
    if samples.is_empty() {
        // Demo: a request cache that fills over 40 iterations, then leaks 48 bytes per iteration.
        println!(
            "(no input: judging a demo series, a cache that fills, then leaks 48 B per iteration)"
        );
        samples = (0..300u32)
            .map(|i| {
                8_000_000.0
                    + 2_000.0 * f64::from(i.min(40))
                    + 48.0 * f64::from(i.saturating_sub(40))
            })
            .collect();
    }
    match analyze(&samples, &config) {
        Ok(a) => {
            println!("{}: {}", a.verdict, a.reason);
            if let Some(more) = a.more_samples {
                println!("about {more} more samples would likely decide it");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(2)
        }
    }
}
