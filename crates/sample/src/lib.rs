//! leakproof-sample: how much memory (and how many fds, threads) is in use now.
