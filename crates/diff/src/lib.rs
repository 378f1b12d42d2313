//! leakproof-diff: where did memory grow? Allocation snapshots compared, as tracemalloc does it.
