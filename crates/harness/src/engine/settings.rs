//! The settings of a run, validated once into one typed value.

use std::time::Duration;

/// Fewest iterations a run may ask for: a trend needs at least two samples.
pub const MIN_ITERATIONS: usize = 2;

/// Why settings were rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// Fewer iterations than [`MIN_ITERATIONS`].
    #[error("iterations must be at least {MIN_ITERATIONS}, got {0}")]
    TooFewIterations(usize),
    /// A fixed warm-up that leaves nothing to judge.
    #[error("warm-up ({warmup}) must be smaller than iterations ({iterations})")]
    WarmupTooLong {
        /// The warm-up asked for.
        warmup: usize,
        /// The iterations asked for.
        iterations: usize,
    },
}

/// How long a run is and how far it may be extended; built only through [`Settings::new`], so an
/// engine never sees a contradictory value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Settings {
    /// Iterations before any extension.
    pub iterations: usize,
    /// Fixed warm-up, or `None` for the detected one.
    pub warmup: Option<usize>,
    /// Ceiling when an Inconclusive run is extended (at least `iterations`).
    pub ceiling: usize,
    /// Wall time after which an Inconclusive run is not extended further.
    pub time_budget: Option<Duration>,
    /// Iterations of the locate phase (at least 1).
    pub locate_iterations: usize,
}

impl Settings {
    /// Validates the settings; `ceiling` below `iterations` means no extension.
    pub fn new(
        iterations: usize,
        warmup: Option<usize>,
        ceiling: usize,
        time_budget: Option<Duration>,
        locate_iterations: usize,
    ) -> Result<Settings, SettingsError> {
        if iterations < MIN_ITERATIONS {
            return Err(SettingsError::TooFewIterations(iterations));
        }
        if let Some(warmup) = warmup.filter(|&w| w >= iterations) {
            return Err(SettingsError::WarmupTooLong { warmup, iterations });
        }
        Ok(Settings {
            iterations,
            warmup,
            ceiling: ceiling.max(iterations),
            time_budget,
            locate_iterations: locate_iterations.max(1),
        })
    }
}

impl Settings {
    /// The same settings with a locate phase of at least `iterations`.
    pub fn locating_for(self, iterations: usize) -> Settings {
        Settings {
            locate_iterations: self.locate_iterations.max(iterations),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictions_are_rejected_once() {
        assert_eq!(
            Settings::new(1, None, 10, None, 1),
            Err(SettingsError::TooFewIterations(1))
        );
        assert_eq!(
            Settings::new(10, Some(10), 10, None, 1),
            Err(SettingsError::WarmupTooLong {
                warmup: 10,
                iterations: 10
            })
        );
        let s = Settings::new(10, Some(3), 5, None, 0).unwrap();
        assert_eq!((s.ceiling, s.locate_iterations), (10, 1));
    }
}
