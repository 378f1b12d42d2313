//! leakproof-harness: run a workload many times, sample, judge, and say where it grew.
