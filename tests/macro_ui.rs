//! `#[leak_test]` as users write it.
//!
//! - `ui`: trybuild cases. `tests/ui/fail/*.rs` must not compile and their `.stderr` snapshots pin
//!   every error message and where it points; `tests/ui/pass/*.rs` must compile cleanly. Regenerate
//!   the snapshots with `TRYBUILD=overwrite cargo test -p leakproof --test macro_ui` and review them.
//! - The other tests are real leak tests: trybuild compiles without `--test`, which removes
//!   `#[test]` functions, so only here does the expansion meet the harness, type-check and run.

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}

#[leakproof::leak_test(iterations = 60)]
fn stable_workload_passes() {
    let buffer: Vec<u64> = (0..64).collect();
    std::hint::black_box(buffer);
}

#[leakproof::leak_test(iterations = 40, warmup = 5, max_iterations = 40, resources = false)]
#[should_panic(expected = "passes 2 times but fails when repeated (iteration 3): boom")]
fn should_panic_passes_through_and_sees_the_workload_panic() {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 2 {
        panic!("boom");
    }
}

#[leakproof::leak_test]
#[ignore = "proves that #[ignore] passes through: running it would fail"]
fn ignore_passes_through() {
    panic!("an ignored leak test ran");
}

#[leakproof::leak_test]
#[should_panic(expected = ": LEAKING")]
fn a_leak_fails_the_test() {
    std::mem::forget(vec![0u8; 64]);
}

mod nested {
    // The test name comes from `module_path!()`: the re-executed child must find `nested::...`.
    use ::leakproof as renamed;

    #[renamed::leak_test(crate = "renamed", iterations = 30)]
    fn renamed_crate_in_a_module() -> () {
        #![allow(clippy::unused_unit)]
        let text = format!("{}", 42);
        std::hint::black_box(text);
    }
}

#[cfg(feature = "tokio")]
#[leakproof::leak_test(iterations = 50)]
async fn async_fn_runs_on_a_runtime() {
    let value = async { vec![1u8; 16] }.await;
    std::hint::black_box(value);
}
