//! `leakproof._native`: the PyO3 extension behind the `leakproof` Python package.
//!
//! A thin layer: the Python package hands [`run`] the test's call and its heap (the traced Python
//! heap, read by the package's `_sampling` module), and the harness's one run engine repeats the
//! call, samples that heap and this process's descriptors and threads after each call, judges
//! them, locates what grew, and returns the harness's `Report` as JSON: the same schema and text as
//! a Rust leak test. [`cli`] is the `leakproof` command (crates/cli) for the package's console
//! script. No statistics live here, nor in Python.

mod heap;
mod run;

use pyo3::prelude::*;

/// The module `leakproof._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(run::render_text, m)?)?;
    m.add_function(wrap_pyfunction!(run::failure_text, m)?)?;
    m.add_function(wrap_pyfunction!(run::once_mode, m)?)?;
    m.add_function(wrap_pyfunction!(cli, m)?)?;
    m.add("ONCE_NOTICE", leakproof_harness::testing::ONCE_NOTICE)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Runs the `leakproof` command line with `args` (the program name first) and returns its exit
/// code. The interpreter is released meanwhile: the command runs no Python code.
#[pyfunction]
fn cli(py: Python<'_>, args: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| leakproof_cli::main_with_args(args))
}
