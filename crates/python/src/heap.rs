//! The Python heap as a [`leakproof_agents::Agent`] of this process: a Python object's `read()`,
//! `prepare_locate()` and `snapshot()` (sites in the runtime agents' JSON), called with the
//! interpreter held, as the package's `_core.Heap` provides them.

use std::cell::RefCell;
use std::time::Duration;

use leakproof_agents::{
    holder_sites_json, holders_from_json, sites_from_json, Agent, AgentError, Descriptor, OpenSites,
};
use leakproof_diff::{Holder, Snapshot, StatDiff};
use leakproof_trend::Config;
use pyo3::prelude::*;

/// The traced heap of the test's own interpreter: the resource `python-heap`, judged by
/// [`in_process_preset`], located over the harness's usual capture iterations.
static IN_PROCESS: Descriptor = Descriptor::in_process(
    "python (in process)",
    "python",
    "python heap (tracemalloc, after gc)",
    in_process_preset,
    leakproof_harness::DEFAULT_CAPTURE_ITERATIONS,
);

/// The first Python exception of a run (from the test's call or from the heap), kept to be raised
/// again by the caller: a `KeyboardInterrupt` must not become a line in a report.
pub(crate) type Pending = RefCell<Option<PyErr>>;

/// A Python object that reads the heap.
pub(crate) struct PyHeap<'py, 'p> {
    heap: Bound<'py, PyAny>,
    pending: &'p Pending,
}

impl<'py, 'p> PyHeap<'py, 'p> {
    /// Reads `heap`; exceptions go to `pending`.
    pub(crate) fn new(heap: Bound<'py, PyAny>, pending: &'p Pending) -> PyResult<Self> {
        Ok(PyHeap { heap, pending })
    }

    /// Calls `method` with no arguments; an exception is kept and said in one line.
    fn call(&self, method: &str) -> Result<Bound<'py, PyAny>, AgentError> {
        self.call_with(method, ())
    }

    /// Calls `method` with `args`; an exception is kept and said in one line.
    fn call_with(
        &self,
        method: &str,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> Result<Bound<'py, PyAny>, AgentError> {
        self.heap.call_method1(method, args).map_err(|e| {
            let line = crate::run::one_line(self.heap.py(), &e);
            self.pending.borrow_mut().get_or_insert(e);
            AgentError::Read(line)
        })
    }

    /// What `method` returned is not what it should be.
    fn bad_value(method: &str, value: &Bound<'py, PyAny>) -> AgentError {
        AgentError::Read(format!("{method}() returned {value}"))
    }
}

impl Agent for PyHeap<'_, '_> {
    fn descriptor(&self) -> &'static Descriptor {
        &IN_PROCESS
    }

    fn sample(&mut self) -> Result<f64, AgentError> {
        let value = self.call("read")?;
        value
            .extract::<f64>()
            .map_err(|_| Self::bad_value("read", &value))
    }

    fn start_pictures(&mut self) -> Result<(), AgentError> {
        self.call("prepare_locate").map(drop)
    }

    fn picture(&mut self, _wait: Duration) -> Result<Snapshot, AgentError> {
        sites_from_json(&self.text("snapshot", ())?)
    }

    fn holders(&mut self, sites: &[StatDiff], budget: Duration) -> Result<Vec<Holder>, AgentError> {
        let json = self.text("holders", (holder_sites_json(sites), budget.as_secs_f64()))?;
        holders_from_json(&json)
    }

    fn open_sites(&mut self, _wait: Duration) -> Result<OpenSites, AgentError> {
        let fds = sites_from_json(&self.text("open_sites", ("fds",))?)?;
        let threads = sites_from_json(&self.text("open_sites", ("threads",))?)?;
        Ok(OpenSites::new(fds, threads))
    }

    fn stop_pictures(&mut self) {
        let _ = self.call("finish_locate");
    }
}

impl<'py> PyHeap<'py, '_> {
    /// The string `method(args)` returned.
    fn text(
        &self,
        method: &str,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> Result<String, AgentError> {
        let value = self.call_with(method, args)?;
        value.extract().map_err(|_| Self::bad_value(method, &value))
    }
}

/// Floor of the traced heap of the test's own process, in bytes per call: between the steepest
/// bounded test measured (10.7 B/call: an `lru_cache(maxsize=32)` whose dict was rebuilt late in
/// the run) and the smallest leak of a new object per call (16 B/call for a kept `object()`: the
/// slope reads the objects, the list holding them grows in steps). docs/detection.md has the
/// corpus. A call that keeps no new object (the same one appended again) is not reported.
pub(crate) const IN_PROCESS_FLOOR: f64 = 12.0;

/// The traced heap of this process after a collection, as the plugin reads it: exact (nothing
/// else runs between the call and the reading, and a bounded call reads the same bytes every
/// time, docs/detection.md), so leakproof-trend's exact `heap` model with [`IN_PROCESS_FLOOR`];
/// and the interpreter's caches can still be filling (rule 10: decelerating growth is no proof).
/// A driven target's python heap (through the agent, with a server's requests) keeps its noisy
/// preset.
pub(crate) fn in_process_preset() -> Config {
    Config::heap()
        .with_min_slope(IN_PROCESS_FLOOR)
        .with_warming(true)
}
