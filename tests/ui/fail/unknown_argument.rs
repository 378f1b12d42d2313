// An unknown argument names the valid ones, with a suggestion when one is close.
use leakproof::leak_test;

#[leak_test(itrations = 500)]
fn misspelled() {}

#[leak_test(flavor = "current_thread")]
fn from_another_macro() {}

fn main() {}
