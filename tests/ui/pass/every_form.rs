// Every accepted form. trybuild builds without `--test`, so the generated `#[test]` functions are
// compiled out here: this case proves the arguments and shapes are accepted without errors or
// warnings; tests/macro_ui.rs runs real leak tests to prove the expansion type-checks and works.
#![deny(warnings)]

use leakproof::leak_test;

#[leak_test]
fn no_arguments() {
    let v = vec![1u8, 2, 3];
    std::hint::black_box(v);
}

#[leak_test()]
fn empty_arguments() {}

#[leak_test(iterations = 500, warmup = 50, max_iterations = 5_000, resources = false, crate = "::leakproof",)]
fn every_argument() {}

#[leak_test(iterations = 2, max_iterations = 2, warmup = 0)]
fn smallest_values() {}

/// Documented, ignored, expected to fail, platform-specific: attributes pass through.
#[leak_test(iterations = 100usize)]
#[ignore = "slow"]
#[should_panic(expected = "leak")]
#[cfg(unix)]
pub fn with_other_attributes() -> () {
    #![allow(unused_variables)]
    let unused = 1;
}

#[leak_test]
fn fallible() -> Result<(), std::num::ParseIntError> {
    let _: u8 = "7".parse()?;
    Ok(())
}

#[leak_test]
async fn asynchronous_fallible() -> Result<(), std::io::Error> {
    std::future::ready(Ok::<(), std::io::Error>(())).await?;
    Ok(())
}

#[leak_test]
async fn asynchronous() {
    std::future::ready(()).await;
}

mod renamed {
    use ::leakproof as lp;

    #[lp::leak_test(crate = "lp")]
    fn through_a_renamed_path() {}
}

macro_rules! leak_tests {
    ($($name:ident = $n:literal),*) => {
        $(
            #[leak_test(iterations = $n)]
            fn $name() {}
        )*
    };
}

leak_tests!(from_macro_a = 10, from_macro_b = 20);

fn main() {}
