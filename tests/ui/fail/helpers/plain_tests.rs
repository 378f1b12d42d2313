// A test module in its own file: `#[leak_tests]` on its `mod` line cannot see these tests.
#[test]
fn in_another_file() {}
