// Only functions can be leak tests.
use leakproof::leak_test;

#[leak_test]
struct Workload;

#[leak_test]
const ITERATIONS: usize = 300;

fn main() {}
