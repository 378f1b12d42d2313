"""What pytest keeps of every call of a test, let go between the repetitions of a leak test, so
that pytest's own retention is never a leak: the log records its logging plugin and ``caplog``
keep for the report, the output that ``capsys``/``capfd`` and the global capture hold, and the
warnings it records. What pytest reports for a leak test is then what its last call produced
(warnings: each distinct one once).
"""

import logging
import warnings
from typing import Any, List, Optional, Set, Tuple

import pytest

try:  # pytest's own classes; a pytest without them simply has nothing to let go.
    from _pytest.logging import LogCaptureHandler
except ImportError:  # pragma: no cover
    LogCaptureHandler = None  # type: ignore[assignment,misc]


class Retention:
    """Lets go of what pytest kept of the previous call of ``item``'s test."""

    def __init__(self, item: pytest.Item) -> None:
        self._capman = item.config.pluginmanager.getplugin("capturemanager")
        self._fixtures = [
            v
            for v in getattr(item, "funcargs", {}).values()
            if isinstance(v, pytest.CaptureFixture)
        ]
        self._seen: Set[Tuple[str, Any, str, int]] = set()
        self._kept: Optional[int] = None

    def before_call(self) -> None:
        """Called before every call but the first."""
        self._logs()
        self._output()
        self._warnings()

    def _logs(self) -> None:
        if LogCaptureHandler is None:
            return
        for handler in logging.getLogger().handlers:
            if isinstance(handler, LogCaptureHandler):
                clear = getattr(handler, "clear", None) or handler.reset
                clear()

    def _output(self) -> None:
        for fixture in self._fixtures:
            fixture.readouterr()
        capman = self._capman
        if capman is not None and getattr(capman, "_global_capturing", None) is not None:
            capman.read_global_capture()

    def _warnings(self) -> None:
        """Warnings recorded since the previous call that repeat an earlier one are dropped."""
        log = _recorded_warnings()
        if log is None:
            return
        if self._kept is None or self._kept > len(log):
            self._kept = 0
        fresh = log[self._kept :]
        del log[self._kept :]
        for w in fresh:
            key = (str(w.message), w.category, str(w.filename), int(w.lineno or 0))
            if key not in self._seen:
                self._seen.add(key)
                log.append(w)
        self._kept = len(log)


def _recorded_warnings() -> Optional[List[Any]]:
    """The list ``warnings.catch_warnings(record=True)`` appends to now (pytest records every
    test's warnings so), if any."""
    impl = getattr(warnings, "_showwarnmsg_impl", None)
    log = getattr(impl, "__self__", None)
    return log if isinstance(log, list) else None
