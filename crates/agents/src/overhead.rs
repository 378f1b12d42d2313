//! The time a target spends in its agent's collections (Python: the GIL held for `gc.collect()`
//! and the reading; node: the main thread's full GC), as the agent measures it: what a watch
//! paces its samples by and reports ([`Agent::overhead`](crate::Agent::overhead)).

use std::sync::{Arc, Mutex, PoisonError};

/// The collections of one agent so far; cheap to clone (shared by the agent and the watch).
#[derive(Clone, Debug, Default)]
pub struct Overhead(Arc<Mutex<Spent>>);

#[derive(Debug, Default)]
struct Spent {
    total: f64,
    samples: usize,
    last: f64,
}

impl Overhead {
    /// Counts one sample that kept the target busy for `secs`.
    pub fn record(&self, secs: f64) {
        let mut spent = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        spent.total += secs;
        spent.samples += 1;
        spent.last = secs;
    }

    /// Forgets the samples so far (those taken before the watch).
    pub fn reset(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Spent::default();
    }

    /// Seconds the target spent so far, and in how many samples.
    pub fn total(&self) -> (f64, usize) {
        let spent = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        (spent.total, spent.samples)
    }

    /// Seconds the last sample kept the target busy (0 before the first).
    pub fn last(&self) -> f64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_count_until_reset() {
        let overhead = Overhead::default();
        let seen = overhead.clone();
        overhead.record(0.01);
        overhead.record(0.03);
        assert_eq!(seen.total(), (0.04, 2));
        assert_eq!(seen.last(), 0.03);
        seen.reset();
        assert_eq!(overhead.total(), (0.0, 0));
    }
}
