//! leakproof-trend: is this series of memory samples growing?
