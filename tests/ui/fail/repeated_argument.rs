// Each argument may be given once; the error points at the repetition.
use leakproof::leak_test;

#[leak_test(warmup = 10, iterations = 100, warmup = 20)]
fn twice() {}

fn main() {}
