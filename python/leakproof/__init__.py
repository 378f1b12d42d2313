"""leakproof: prove that Python code does not leak memory, file descriptors or threads, and name
the line when it does.

- ``pytest --leakproof``: every collected test is a leak test (ini option ``leakproof = true``);
  ``@pytest.mark.leak_test(iterations=, warmup=, max_iterations=, resources=)`` marks one, and
  ``@pytest.mark.no_leak_test`` keeps one out.
- ``@leakproof.leak_test``: the same for a test under pytest, unittest or a plain script.
- ``leakproof.check(fn, iterations=500)``: the report of ``fn`` called many times, as a dict.
- ``LEAKPROOF=once``: leak tests run their body once, no leak check (a fast local loop).
- the ``leakproof`` command: ``drive``, ``watch``, ``analyze``, ``diff``.

The repeating, sampling and judging is leakproof's Rust engine (the ``_native`` extension), the
same as a Rust ``#[leak_test]``'s: the report has the same JSON schema and text.
"""

from typing import Any

__all__ = ["check", "leak_test", "LeakTestError", "NotRepeatable"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the pytest plugin loads this package in every pytest run.
    if name in ("check", "leak_test"):
        from leakproof import _api

        return getattr(_api, name)
    if name in ("LeakTestError", "NotRepeatable"):
        from leakproof import _core

        return getattr(_core, name)
    raise AttributeError("module 'leakproof' has no attribute %r" % name)
