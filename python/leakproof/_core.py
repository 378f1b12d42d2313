"""One leak test: the test's call repeated by the harness's engine (in Rust), the traced Python
heap read after each call, and what the report means for the caller.

The engine does the repeating, sampling, judging, extending and locating; this module only
prepares the interpreter for it (tracemalloc on, old objects frozen out of the collections) and
puts it back afterwards.
"""

import gc
import json
import sys
import tracemalloc
from typing import Any, Callable, Dict, Optional

from leakproof import _sampling
from leakproof._heap import Heap
from leakproof._settings import Settings

_state = {"active": False, "announced": False}


class LeakTestError(AssertionError):
    """A leak test failed: the memory, descriptors or threads it judged did not prove Stable, or
    its call failed when repeated. The message is the rendered report."""


class NotRepeatable(LeakTestError):
    """The test passed at least once and then failed when it was called again."""


# Shown as `leakproof.LeakTestError` in tracebacks, where users import them from.
LeakTestError.__module__ = NotRepeatable.__module__ = "leakproof"


def active() -> bool:
    """True while a leak test runs in this process (so a decorated test called by it runs once)."""
    return _state["active"]


def once(announce: bool = True) -> bool:
    """``LEAKPROOF=once``: leak tests run their body once, no leak check; said once per process on
    the real stderr when ``announce`` (the pytest plugin says it in pytest's summary instead)."""
    from leakproof import _native

    if not _native.once_mode():
        return False
    if announce and not _state["announced"]:
        _state["announced"] = True
        stream = sys.__stderr__ or sys.stderr
        stream.write(_native.ONCE_NOTICE + "\n")
        stream.flush()
    return True


class Outcome:
    """What one run gave: the report (the harness's JSON, as a dict) and the first exception the
    test's call raised, if any."""

    def __init__(self, report_json: str, error: Optional[BaseException]) -> None:
        self.json = report_json
        self.report: Dict[str, Any] = json.loads(report_json)
        self.error = error

    @property
    def passed(self) -> bool:
        r = self.report
        return r["failure"] is None and r.get("breach") is None and r["verdict"] == "stable"

    def text(self) -> str:
        """The report for people, as a Rust leak test prints it."""
        from leakproof import _native

        return _native.render_text(self.json)

    def reraise_interrupts(self) -> None:
        """Raises again what must not become a line in a report: KeyboardInterrupt, SystemExit
        and test-runner outcomes (pytest's skip, xfail and fail are BaseExceptions too)."""
        __tracebackhide__ = True
        if self.error is not None and not isinstance(self.error, Exception):
            raise self.error

    def raise_for_failure(self, exclusion: str) -> None:
        """Raises unless the run passed: the test's own exception when its first call failed,
        :class:`NotRepeatable` when a later call did, :class:`LeakTestError` with the report
        otherwise. ``exclusion`` says how a test is kept out of leak testing."""
        __tracebackhide__ = True
        self.reraise_interrupts()
        failure = self.report["failure"]
        if failure is not None:
            if self.error is not None and self.report["iterations"] == 0:
                raise self.error
            from leakproof import _native

            message = _native.failure_text(self.json, exclusion)
            if self.error is None:
                raise LeakTestError(message)
            raise NotRepeatable(message) from self.error
        if not self.passed:
            raise LeakTestError(self.text())


def run(
    name: str,
    call: Callable[[], Any],
    settings: Settings,
    report_dir: Optional[str] = None,
) -> Outcome:
    """Repeats ``call`` in the engine and returns what it found."""
    from leakproof import _native

    if _state["active"]:
        raise RuntimeError("leakproof: a leak test cannot run inside another leak test")
    was_tracing = tracemalloc.is_tracing()
    frames = tracemalloc.get_traceback_limit() if was_tracing else 1
    # Everything alive now is frozen out of the collections that precede every reading: a full
    # collection then costs what the test allocated, not the size of the suite's heap.
    gc.collect()
    gc.freeze()
    _sampling.set_frames(frames)
    _state["active"] = True
    try:
        report_json, error = _native.run(
            name,
            call,
            Heap(),
            iterations=settings.iterations,
            warmup=settings.warmup,
            max_iterations=settings.max_iterations,
            resources=settings.resources,
            report_dir=report_dir,
        )
    finally:
        _state["active"] = False
        if was_tracing:
            _sampling.set_frames(frames)
        else:
            tracemalloc.stop()
        gc.unfreeze()
    return Outcome(report_json, error)
