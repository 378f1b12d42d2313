//! Progress on stderr: an indicatif bar on a terminal, a plain line now and then otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of a run with a known (but growable) length.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: &'static str,
    last_line: Option<Instant>,
}

/// Plain lines at most this often when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    /// A progress display of `len` steps named `label` (`iteration`, `sample`).
    pub fn new(label: &'static str, len: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(len);
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            label,
            last_line: None,
        }
    }

    /// Step `pos` of `len` done; `msg` says what was measured.
    pub fn update(&mut self, pos: u64, len: u64, msg: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(len);
                bar.set_position(pos);
                bar.set_message(msg.to_string());
            }
            None => {
                let due = self.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY);
                if due || pos == len {
                    self.last_line = Some(Instant::now());
                    eprintln!("leakproof: {} {pos}/{len}: {msg}", self.label);
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
