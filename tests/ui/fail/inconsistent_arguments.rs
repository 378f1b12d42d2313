// Combinations are checked when both sides are written in the attribute.
use leakproof::leak_test;

#[leak_test(iterations = 100, warmup = 100)]
fn warmup_as_long_as_the_run() {}

#[leak_test(iterations = 500, max_iterations = 200)]
fn ceiling_below_the_run() {}

fn main() {}
