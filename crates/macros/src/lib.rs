//! The `#[leak_test]` attribute of [leakproof]: a test that proves its body does not leak; and
//! `#[leak_tests]`, which makes every `#[test]` of a module one.
//!
//! Use it through the facade, `leakproof::leak_test`; this crate only generates code that calls
//! `leakproof::__private` (the harness), so it is not useful on its own.
//!
//! [leakproof]: https://docs.rs/leakproof
//!
//! See [`leak_test`] for what it does, its arguments and their defaults, the rules for the
//! function, the code it generates and the errors it reports.
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();
//!
//! #[leakproof::leak_test(iterations = 500, warmup = 50)]
//! fn cache_stays_bounded() {
//!     let mut cache = std::collections::HashMap::new();
//!     cache.insert(1, vec![0u8; 64]);
//! }
//! ```
//!
//! The examples are marked `ignore`: a proc-macro crate cannot use its own macro, and this one needs
//! the facade (`leakproof::__private`) as well. `tests/macro_ui.rs` in the workspace compiles and runs
//! them through the facade.

mod entry;
mod module;

/// Turns a function into a leak test: its body runs many times, and the test fails if memory, file
/// descriptors or threads keep growing.
///
/// `#[leak_test]` replaces `#[test]`. The function body becomes a workload closure that the leakproof
/// harness runs many times, sampling memory (and, by default, open file descriptors and threads)
/// after every iteration. The test fails when a resource keeps growing after the warm-up, with a
/// report that shows the growth per iteration, a chart of the series and, when
/// `leakproof::TrackingAlloc` is the global allocator, the lines that allocate the growing memory.
///
/// ```ignore
/// #[global_allocator]
/// static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();
///
/// #[leakproof::leak_test]
/// fn parse_does_not_leak() {
///     let value: serde_json::Value = serde_json::from_str(r#"{"a": [1, 2, 3]}"#).unwrap();
///     assert_eq!(value["a"][1], 2);
/// }
///
/// #[leakproof::leak_test(iterations = 500, warmup = 50)]
/// #[should_panic] // other attributes pass through and keep applying
/// fn known_leak_is_caught() {
///     std::mem::forget(vec![0u8; 64]);
/// }
///
/// #[leakproof::leak_test] // needs leakproof's `tokio` feature
/// async fn handler_does_not_leak() {
///     tokio::task::yield_now().await;
/// }
/// ```
///
/// # Arguments
///
/// All are optional, each may be given once, in any order: `#[leak_test(key = literal, ...)]`.
/// Where an argument is left out, the harness default applies.
///
/// | argument | value | default | meaning |
/// | --- | --- | --- | --- |
/// | `iterations` | integer ≥ 2 | 300 | how many times the body runs before the first verdict |
/// | `warmup` | integer, less than `iterations` | detected from the series | leading iterations left out of the trend (caches filling, lazy statics, runtime start-up) |
/// | `max_iterations` | integer ≥ `iterations` | 10 × `iterations` | how far a run whose answer is unclear may be extended (also bounded by a 30 s time budget); equal to `iterations` turns extension off |
/// | `resources` | `true` / `false` | `true` | also check open file descriptors and threads, not only memory |
/// | `crate` | string holding a path | `"::leakproof"` | where the `leakproof` crate is, for code that renames or re-exports it |
///
/// The environment overrides every leak test for CI: `LEAKPROOF_ITERATIONS` replaces `iterations`
/// (raising `max_iterations` to it, and dropping a `warmup` that no longer fits), `LEAKPROOF_WARMUP`
/// replaces `warmup`, and `LEAKPROOF_REPORT_DIR` writes a JSON report and an SVG chart per test. The
/// combinations checked at compile time (`warmup < iterations`, `max_iterations ≥ iterations`) are
/// only those written in the attribute.
///
/// # The function
///
/// - It takes no parameters, has no generics, and returns `()` or `Result<(), E>` with `E: Debug`,
///   like a `#[test]`: an `Err` in any iteration fails the test with its `Debug`. Other return
///   types are a type error on the return type (seen when the tests are built).
/// - `async fn` runs on a runtime built outside the measured loop (leakproof's `tokio` feature).
/// - `const fn`, `unsafe fn` and `extern fn` are rejected.
/// - Do not add `#[test]` (nor `#[tokio::test]`): `#[leak_test]` is the test. Written below
///   `#[leak_test]` it is a compile error; written above, the compiler expands it first and hides it
///   from the macro, and the test is registered twice.
/// - Other attributes (`#[ignore]`, `#[should_panic]`, docs, `#[cfg]`, lints) are kept, and the generated
///   `#[test]` is placed after them.
/// - `#[should_panic]` on a leak test means "this test must fail": it passes when a resource grows
///   (or the answer stays inconclusive), and also when the body itself panics. Use `expected` to tell
///   them apart: a leak fails with the rendered report, which starts with
///   ``leak test `name`: LEAKING``; a panicking body fails with
///   ``leak test `name`: the workload panicked in iteration 1: <its message>``, or, when the body
///   passed before it failed, ``leak test `name`: passes once but fails when repeated (iteration
///   2): <its message>; ...``. Under `LEAKPROOF=once`, where no verdict is reached, such a test
///   passes: the harness panics with a message that holds `expected`.
///
/// # Expansion
///
/// ```ignore
/// #[leakproof::leak_test(iterations = 500, warmup = 50)]
/// #[ignore]
/// fn name() { body }
/// ```
/// becomes
/// ```ignore
/// #[ignore]
/// #[::core::prelude::v1::test]
/// fn name() {
///     ::leakproof::__private::run_leak_test(
///         ::leakproof::__private::LeakTest::new(
///             ::core::concat!(::core::module_path!(), "::", ::core::stringify!(name)),
///         )
///         .iterations(500)
///         .warmup(50),
///         || { body },
///     )
/// }
/// ```
/// A `#[should_panic]` adds `.should_panic("<expected>")`; a return type calls
/// `run_fallible_leak_test::<_, ReturnType>` instead. An `async fn` calls
/// `run_async_leak_test(spec, || async move { body })`, and one with a return type moves the body
/// into a nested `async fn __leakproof_body() -> ReturnType` (so that `?` knows its error type)
/// passed to `run_fallible_async_leak_test`.
///
/// # Errors
///
/// Mistakes are compile errors pointing at the offending token: an unknown argument (the message lists
/// the valid ones), an argument given twice, a value of the wrong type or out of range, an item that is
/// not a function, parameters, generics, `#[test]` added as well. The function is
/// still emitted beside the error so that IDEs keep working while you fix it.
#[proc_macro_attribute]
pub fn leak_test(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    entry::leak_test(args.into(), item.into()).into()
}

/// Makes every `#[test]` in an inline module a leak test: `#[leak_test]` on each, in one line.
///
/// ```ignore
/// #[global_allocator]
/// static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();
///
/// #[cfg(test)]
/// #[leakproof::leak_tests(iterations = 200)] // same arguments as #[leak_test], plus `exclude`
/// mod tests {
///     use super::*;
///
///     fn input() -> String { "1,2,3".repeat(10) } // helpers, consts, `use`: left alone
///
///     #[test]
///     fn parses() { assert_eq!(parse(&input()).len(), 28); } // a leak test now
///
///     #[test]
///     fn fallible() -> Result<(), std::num::ParseIntError> { // an `Err` fails the iteration
///         "7".parse::<u8>()?;
///         Ok(())
///     }
///
///     #[leakproof::leak_test(iterations = 1000)] // keeps its own options
///     fn hot_path() { parse("1"); }
///
///     #[test]
///     #[leakproof::skip] // stays a plain test
///     fn binds_a_fixed_port() { std::net::TcpListener::bind("127.0.0.1:7878").unwrap(); }
///
///     mod nested { // nested inline modules are included
///         #[tokio::test] // an async leak test (leakproof's `tokio` feature)
///         async fn handler() { tokio::task::yield_now().await; }
///     }
/// }
/// ```
///
/// # Which functions
///
/// - `#[test]` (also written `core::prelude::v1::test` or `std::prelude::v1::test`) and, with
///   leakproof's `tokio` feature, a bare `#[tokio::test]` on an `async fn`: each becomes exactly
///   what `#[leak_test(<the module's arguments>)]` would make of it, under the same name, so
///   `cargo test NAME`, nextest filters and `--partition` see the tests they saw before.
/// - Left as written: helper functions, `use`, consts, types, impls; a function with its own
///   `#[leak_test(...)]` (its options win); a nested module with its own `#[leak_tests(...)]`;
///   anything marked `#[leakproof::skip]` (a test or a whole nested module); what `exclude = [...]`
///   names (paths relative to the module, e.g. `exclude = [slow, nested::fixed_port]`).
/// - Nested inline modules are walked too, with the same arguments. A nested `mod x;` (in another
///   file) is an error: rustc does not load files for modules inside an attribute macro's input.
/// - `#[tokio::test]` with arguments, or without the `tokio` feature, and another runner's
///   `...::test` attribute are errors that suggest `#[leakproof::skip]`: a test is never silently
///   left unchecked. Test-generating macros with other names (`#[rstest]`, `#[test_case]`, tests
///   inside `macro_rules!`) are not seen and stay plain tests.
/// - `#[cfg]`, `#[ignore]`, docs and lints stay on each test. `#[should_panic]` means what it means
///   on `#[leak_test]`: "this leak test must fail", so a test whose body always panics still
///   passes (it stops at iteration 1, measuring nothing: skip it to say so).
/// - A test returning `Result<(), E: Debug>` fails on the first `Err`, with its `Debug`.
///
/// A test that passes once but cannot run twice (a fixed port, a file it expects absent, global
/// state it asserts on) fails with one line: ``passes once but fails when repeated (iteration 2):
/// <its message>; leak tests repeat the body: make it repeatable or exclude it``.
///
/// `LEAKPROOF=once` in the environment runs every leak test's body once, as a plain test, for a
/// fast local loop; the test binary says so on stderr.
///
/// # Errors
///
/// `mod tests;` (the attribute cannot see the file), an item that is not a module, the argument
/// errors of `#[leak_test]`, an `exclude` entry that names nothing, and each test that cannot be
/// a leak test (parameters, generics, ...), each at the offending token. The module is still
/// emitted beside the errors.
#[proc_macro_attribute]
pub fn leak_tests(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    module::leak_tests(args.into(), item.into(), cfg!(feature = "tokio")).into()
}

/// Inside a `#[leak_tests]` module, keeps a `#[test]` (or a whole nested module) a plain test.
///
/// `#[leak_tests]` removes the marker as it walks the module; anywhere else it is an error, since
/// it would skip nothing.
#[proc_macro_attribute]
pub fn skip(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    module::skip_outside(args.into(), item.into()).into()
}
