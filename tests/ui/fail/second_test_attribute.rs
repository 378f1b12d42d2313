// `#[leak_test]` is the test: a second test attribute would run the body a second, unmeasured way,
// and a second `#[leak_test]` would wrap the test in another one.
use leakproof::leak_test;

#[leak_test]
#[test]
fn plain() {}

#[leak_test(iterations = 50)]
#[::core::prelude::v1::test]
fn qualified() {}

#[leak_test]
#[std::prelude::rust_2021::test]
fn std_qualified() {}

#[leak_test]
#[leakproof::leak_test(iterations = 50)]
fn applied_twice() {}

fn main() {}
