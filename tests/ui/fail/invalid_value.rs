// Values are literals of the right type and range; each error points at the value.
use leakproof::leak_test;

#[leak_test(iterations = 1)]
fn too_few() {}

#[leak_test(iterations = "500")]
fn string_count() {}

#[leak_test(warmup = -5)]
fn negative() {}

#[leak_test(resources = 1)]
fn not_a_bool() {}

#[leak_test(crate = "not a path")]
fn bad_crate() {}

#[leak_test(max_iterations)]
fn no_value() {}

const N: usize = 10;

#[leak_test(iterations = N)]
fn not_a_literal() {}

fn main() {}
