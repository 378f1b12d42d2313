//! One leak test through the harness: its settings, the test's call as the workload, the heap, and
//! the report back as JSON; the report's renderings for the package.

use std::path::PathBuf;

use leakproof_harness::{testing, Harness, HarnessError};
use leakproof_report::Report;
use pyo3::exceptions::PyBaseException;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::heap::{Pending, PyHeap};

/// Repeats `call()` in the harness's engine, reading `heap` (an object with `read()`,
/// `prepare_locate()` and `snapshot()`) and this process's descriptors and threads (unless
/// `resources` is false) after each call. Returns the report as JSON and the first Python
/// exception raised by the call or the heap, if any: the call's failure stops the run (the
/// report's `failure`, with the samples before it judged), the caller raises it again.
/// `LEAKPROOF_ITERATIONS`, `LEAKPROOF_WARMUP` and `LEAKPROOF_REPORT_DIR` override the settings.
#[pyfunction]
#[pyo3(signature = (
    name, call, heap, *, iterations=None, warmup=None, max_iterations=None, resources=true,
    report_dir=None
))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, each with a default.
pub(crate) fn run<'py>(
    py: Python<'py>,
    name: String,
    call: Bound<'py, PyAny>,
    heap: Bound<'py, PyAny>,
    iterations: Option<usize>,
    warmup: Option<usize>,
    max_iterations: Option<usize>,
    resources: bool,
    report_dir: Option<PathBuf>,
) -> PyResult<(String, Option<Py<PyBaseException>>)> {
    let mut harness = Harness::new().name(name).track_resources(resources);
    if let Some(n) = iterations {
        harness = harness.iterations(n);
    }
    if let Some(n) = warmup {
        harness = harness.warmup(n);
    }
    if let Some(n) = max_iterations {
        harness = harness.max_iterations(n);
    }
    if let Some(dir) = report_dir {
        harness = harness.report_dir(dir);
    }
    let harness = harness.env_overrides().map_err(to_python)?;
    let pending = Pending::default();
    let heap = PyHeap::new(heap, &pending)?;
    let report = harness.run_with_agent(Box::new(heap), || {
        if let Err(e) = call.call0() {
            let line = one_line(py, &e);
            pending.borrow_mut().get_or_insert(e);
            // The engine records a failed iteration as a panic's message; `resume_unwind` runs no
            // panic hook, so nothing is printed, and the engine catches it in this same frame.
            std::panic::resume_unwind(Box::new(line));
        }
    });
    let report = report.map_err(to_python)?;
    let json =
        serde_json::to_string(&report).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((json, pending.into_inner().map(|e| e.into_value(py))))
}

/// The report for people, as a Rust leak test prints it.
#[pyfunction]
pub(crate) fn render_text(report: &str) -> PyResult<String> {
    Ok(parse(report)?.render_text())
}

/// The one-line failure of a report whose call failed; a test that passed before it failed is
/// not repeatable, and `exclusion` says how to exclude it.
#[pyfunction]
pub(crate) fn failure_text(report: &str, exclusion: &str) -> PyResult<String> {
    Ok(testing::workload_failure_excluding(
        &parse(report)?,
        exclusion,
    ))
}

/// Whether `LEAKPROOF=once` is set (run each leak test's body once, no leak check); a value it
/// does not know raises `ValueError`.
#[pyfunction]
pub(crate) fn once_mode() -> PyResult<bool> {
    testing::once_mode().map_err(PyValueError::new_err)
}

/// `TypeName: first line of the message`, or the type name alone.
pub(crate) fn one_line(py: Python<'_>, error: &PyErr) -> String {
    let kind = error
        .get_type(py)
        .name()
        .map_or_else(|_| "exception".to_owned(), |n| n.to_string());
    let message = error
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    match message.lines().find(|l| !l.trim().is_empty()) {
        Some(line) => format!("{kind}: {}", line.trim()),
        None => kind,
    }
}

fn parse(report: &str) -> PyResult<Report> {
    serde_json::from_str(report).map_err(|e| PyValueError::new_err(format!("not a report: {e}")))
}

/// A harness error as the Python exception it is: bad settings are a `ValueError`.
fn to_python(error: HarnessError) -> PyErr {
    match error {
        HarnessError::Settings(_) | HarnessError::BadEnv(_) => {
            PyValueError::new_err(error.to_string())
        }
        _ => PyRuntimeError::new_err(error.to_string()),
    }
}
