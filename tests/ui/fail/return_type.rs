// The body runs as an `FnMut()` closure hundreds of times: there is no single result to return.
use leakproof::leak_test;

#[leak_test]
fn fallible() -> Result<(), std::io::Error> {
    Ok(())
}

#[leak_test]
fn counted() -> usize {
    1
}

fn main() {}
