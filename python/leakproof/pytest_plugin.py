"""The pytest plugin: ``pytest --leakproof`` makes every collected test a leak test (ini option
``leakproof = true``), ``@pytest.mark.leak_test(...)`` one test, ``@pytest.mark.no_leak_test``
keeps one out, ``--leakproof-report DIR`` writes each leak test's report as JSON and SVG.

A leak test's fixtures are set up once; its call is then repeated by leakproof's engine, which
samples the traced Python heap after a collection, the open descriptors and the threads after each
call and passes the test only when all three are proven Stable. A failure shows the report: the
verdict, growth per call with its confidence interval, a chart, the growing lines.

Without ``--leakproof``, the ini option or a mark the plugin does nothing (tracemalloc is not
started, nothing is imported beyond this module and the package's Python files).
"""

import functools
import inspect
from typing import Any, Callable, Dict, Generator, Optional

import pytest

from leakproof._settings import Settings

# How a test that is not repeatable is kept out of leak testing, said in its failure.
EXCLUSION = "@pytest.mark.no_leak_test, or not --leakproof"

_SETTINGS = pytest.StashKey[Optional[Settings]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("leakproof", "leakproof: prove tests do not leak")
    group.addoption(
        "--leakproof",
        action="store_true",
        default=False,
        help="make every collected test a leak test: its call is repeated and it passes only "
        "when its python heap, open fds and threads are proven stable",
    )
    group.addoption(
        "--leakproof-report",
        metavar="DIR",
        default=None,
        help="write each leak test's report to DIR as NAME.json and NAME.svg",
    )
    parser.addini("leakproof", type="bool", default=False, help="same as --leakproof")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "leak_test(iterations=None, warmup=None, max_iterations=None, resources=True): "
        "repeat this test's call and pass only when its python heap, open fds and threads "
        "are proven stable (leakproof)",
    )
    config.addinivalue_line(
        "markers", "no_leak_test: not a leak test, even under --leakproof (leakproof)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    every = bool(config.getoption("leakproof") or config.getini("leakproof"))
    any_leak_test = False
    for item in items:
        settings = _settings_of(item, every)
        item.stash[_SETTINGS] = settings
        any_leak_test = any_leak_test or settings is not None
    name = "leakproof-runner"
    if any_leak_test and not config.pluginmanager.has_plugin(name):
        # Registered last, its tryfirst hooks run before the other plugins' (anyio's runs a
        # test); registered only when there is a leak test, so other runs pay nothing per test.
        config.pluginmanager.register(_Runner(config), name)


def _settings_of(item: pytest.Item, every: bool) -> Optional[Settings]:
    """The leak test settings of ``item``, or None when it is not one."""
    if not isinstance(item, pytest.Function) or item.get_closest_marker("no_leak_test"):
        return None
    mark = item.get_closest_marker("leak_test")
    if mark is not None:
        if mark.args:
            raise pytest.UsageError(
                "%s: @pytest.mark.leak_test takes keyword arguments only" % item.nodeid
            )
        try:
            return Settings.from_kwargs("@pytest.mark.leak_test", dict(mark.kwargs))
        except TypeError as e:
            raise pytest.UsageError("%s: %s" % (item.nodeid, e)) from None
    decorated = getattr(item.obj, "__leakproof__", None)
    if isinstance(decorated, Settings):
        return decorated
    return Settings() if every else None


class _Runner:
    """The hooks that run leak tests."""

    def __init__(self, config: pytest.Config) -> None:
        self._report_dir = config.getoption("leakproof_report")
        self._ran_once = False

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._ran_once:
            from leakproof import _native

            terminalreporter.write_line(_native.ONCE_NOTICE)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Optional[bool]:
        __tracebackhide__ = True
        settings = pyfuncitem.stash.get(_SETTINGS, None)
        if settings is None or _is_unittest(pyfuncitem):
            return None
        obj = pyfuncitem.obj
        names = pyfuncitem._fixtureinfo.argnames
        kwargs = {name: pyfuncitem.funcargs[name] for name in names}
        backend = pyfuncitem.funcargs.get("anyio_backend")
        if backend is not None and inspect.iscoroutinefunction(obj):
            self._run_anyio(pyfuncitem, settings, obj, kwargs, backend)
            return True
        if inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj):
            return None  # no async plugin took it: pytest says so
        self._run(pyfuncitem, settings, lambda: obj(**kwargs))
        return True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """A ``unittest.TestCase`` method: unittest calls it (with setUp and tearDown once), so
        the method itself is swapped for one that repeats it."""
        settings = item.stash.get(_SETTINGS, None)
        if settings is None or not _is_unittest(item) or inspect.iscoroutinefunction(item.obj):
            yield
            return
        method = item.obj

        @functools.wraps(method)
        def repeated(*args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True
            self._run(item, settings, lambda: method(*args, **kwargs))

        item.obj = repeated
        try:
            yield
        finally:
            item.obj = method

    def _run(self, item: pytest.Item, settings: Settings, call: Callable[[], Any]) -> None:
        # Shown only for the report's failure, which pytest then prints as the report alone.
        __tracebackhide__ = _not_the_report
        from leakproof._api import DECORATOR_EXCLUSION
        from leakproof._core import LeakTestError, NotRepeatable, once, run

        if once(announce=False):
            self._ran_once = True
            call()
            return
        from leakproof._retention import Retention

        outcome = run(item.nodeid, _Repeated(call, Retention(item)), settings, self._report_dir)
        exclusion = DECORATOR_EXCLUSION if _decorated(item) else EXCLUSION
        try:
            outcome.raise_for_failure(exclusion)
            return
        except NotRepeatable:
            raise  # shown with the test's own failure as its cause
        except LeakTestError as e:
            report = str(e)
        # The rendered report is the failure, without a traceback of leakproof's frames.
        pytest.fail(report, pytrace=False)

    def _run_anyio(
        self,
        item: pytest.Function,
        settings: Settings,
        obj: Callable[..., Any],
        kwargs: Dict[str, Any],
        backend: Any,
    ) -> None:
        """An anyio test: every call on the same runner (its event loop), as anyio runs one."""
        __tracebackhide__ = True
        from anyio.pytest_plugin import extract_backend_and_options, get_runner

        name, options = extract_backend_and_options(backend)
        with get_runner(name, options) as runner:
            self._run(item, settings, lambda: runner.run_test(obj, kwargs))


class _Repeated:
    """The test's call as the engine repeats it: before every call but the first, pytest's
    retention of the previous one is let go."""

    def __init__(self, call: Callable[[], Any], retention: Any) -> None:
        self._call = call
        self._retention = retention
        self._first = True

    def __call__(self) -> None:
        __tracebackhide__ = True
        if self._first:
            self._first = False
        else:
            self._retention.before_call()
        self._call()


def _not_the_report(excinfo: pytest.ExceptionInfo) -> bool:
    return not excinfo.errisinstance(pytest.fail.Exception)


def _is_unittest(item: pytest.Item) -> bool:
    from _pytest.unittest import TestCaseFunction

    return isinstance(item, TestCaseFunction)


def _decorated(item: pytest.Item) -> bool:
    return isinstance(getattr(getattr(item, "obj", None), "__leakproof__", None), Settings)
