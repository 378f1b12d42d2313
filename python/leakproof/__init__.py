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

from leakproof._api import check, leak_test
from leakproof._core import LeakTestError, NotRepeatable

__all__ = ["check", "leak_test", "LeakTestError", "NotRepeatable"]
