//! The heap probe: live bytes of `TrackingAlloc`, on every platform.

use super::{Probe, ProbeError, Sample, Unit};
use crate::alloc::{heap_stats, is_tracking};

/// Live heap bytes of [`TrackingAlloc`](crate::TrackingAlloc) (the whole process).
#[derive(Debug, Default, Clone, Copy)]
pub struct HeapProbe;

impl HeapProbe {
    /// A heap probe; sampling fails with `Unsupported` unless `TrackingAlloc` is the global allocator.
    pub fn new() -> Self {
        HeapProbe
    }
}

impl Probe for HeapProbe {
    fn sample(&mut self) -> Result<Sample, ProbeError> {
        if !is_tracking() {
            return Err(ProbeError::Unsupported(
                "TrackingAlloc is not the global allocator".into(),
            ));
        }
        Ok(Sample {
            value: heap_stats().live_bytes as f64,
            unit: Unit::Bytes,
        })
    }
}
