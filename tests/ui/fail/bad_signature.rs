// Test functions take no parameters and are neither generic nor const, unsafe or extern.
use leakproof::leak_test;

#[leak_test]
fn with_input(input: &str) {
    let _ = input.len();
}

#[leak_test]
fn generic<T: Default>() {
    let _ = T::default();
}

#[leak_test]
fn bounded()
where
    String: Default,
{
}

#[leak_test]
const fn constant() {}

#[leak_test]
unsafe fn unsafe_workload() {}

#[leak_test]
extern "C" fn foreign() {}

fn main() {}
