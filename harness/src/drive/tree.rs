//! The series of a process tree (sampled by `leakproof_sample::TreeProbe`).

use leakproof_sample::TreeSample;

/// The series of a process tree, one value per sample: RSS in bytes, open descriptors, threads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TreeSeries {
    /// RSS of the tree in bytes.
    pub rss: Vec<f64>,
    /// Open file descriptors of the tree.
    pub fds: Vec<f64>,
    /// Threads of the tree.
    pub threads: Vec<f64>,
}

impl TreeSeries {
    /// Appends one sample to each series.
    pub fn push(&mut self, s: &TreeSample) {
        self.rss.push(s.rss_bytes as f64);
        self.fds.push(s.fds as f64);
        self.threads.push(s.threads as f64);
    }

    /// Removes the last sample of each series.
    pub fn pop(&mut self) {
        self.rss.pop();
        self.fds.pop();
        self.threads.pop();
    }

    /// Samples taken.
    pub fn len(&self) -> usize {
        self.rss.len()
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.rss.is_empty()
    }

    /// The last (fds, threads) counts.
    pub fn last_counts(&self) -> Option<(u64, u64)> {
        Some((*self.fds.last()? as u64, *self.threads.last()? as u64))
    }
}
