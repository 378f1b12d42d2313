"""The package's functions: ``check`` (the report of a repeated call) and the ``leak_test``
decorator (a test that passes only when its memory, descriptors and threads are proven Stable)."""

import functools
import inspect
from typing import Any, Callable, Dict, Optional, TypeVar, overload

from leakproof._core import Settings, active, once, run

F = TypeVar("F", bound=Callable[..., Any])

# How a decorated test that is not repeatable is kept out of leak testing.
DECORATOR_EXCLUSION = "drop @leakproof.leak_test"


def check(
    fn: Callable[[], Any],
    *,
    iterations: Optional[int] = None,
    warmup: Optional[int] = None,
    max_iterations: Optional[int] = None,
    resources: bool = True,
    name: Optional[str] = None,
    report_dir: Optional[str] = None,
) -> Dict[str, Any]:
    """Calls ``fn()`` many times and returns the report: the same JSON as a Rust leak test's, as a
    dict (``verdict`` is ``"stable"``, ``"leaking"`` or ``"inconclusive"``; ``slope`` and
    ``slope_ci`` are bytes per call, ``None`` while too few calls give no estimate; ``resources`` holds the python heap, fds and threads;
    ``sites`` the growing lines; ``failure`` the message when ``fn`` raised).

    ``fn`` raising stops the run with ``failure`` set; KeyboardInterrupt and SystemExit are raised
    again. ``report_dir`` (or ``LEAKPROOF_REPORT_DIR``) gets ``NAME.json`` and ``NAME.svg``.
    """
    settings = Settings(iterations, warmup, max_iterations, resources)
    outcome = run(name or _name_of(fn), fn, settings, report_dir)
    outcome.reraise_interrupts()
    return outcome.report


@overload
def leak_test(fn: F) -> F: ...


@overload
def leak_test(
    *,
    iterations: Optional[int] = None,
    warmup: Optional[int] = None,
    max_iterations: Optional[int] = None,
    resources: bool = True,
) -> Callable[[F], F]: ...


def leak_test(fn: Optional[F] = None, **kwargs: Any) -> Any:
    """Makes a test a leak test, under pytest, unittest or a plain script: calling it repeats its
    body and raises :class:`leakproof.LeakTestError` (an AssertionError) with the report unless
    its python heap, open descriptors and threads are all proven Stable.

    ``@leakproof.leak_test`` or ``@leakproof.leak_test(iterations=300, warmup=20)``. Under the
    pytest plugin the test is run like one marked ``@pytest.mark.leak_test(...)``: fixtures set up
    once, the call repeated, an ``async def`` test repeated on its loop. ``LEAKPROOF=once`` runs
    the body once.
    """
    settings = Settings.from_kwargs("leakproof.leak_test", kwargs)

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            return _decorate_async(fn, settings)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            __tracebackhide__ = True
            if active() or once():
                return fn(*args, **kw)
            outcome = run(_name_of(fn), lambda: fn(*args, **kw), settings)
            outcome.raise_for_failure(DECORATOR_EXCLUSION)
            return None

        wrapper.__leakproof__ = settings  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def _decorate_async(fn: Any, settings: Settings) -> Any:
    """An ``async def`` leak test: repeated by the pytest plugin on the test's loop; run any other
    way, it says how to check it instead."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kw: Any) -> Any:
        if active() or once():
            return await fn(*args, **kw)
        raise TypeError(
            "@leakproof.leak_test on an async def is repeated by the pytest plugin (with "
            "pytest-asyncio or anyio); elsewhere check a synchronous call: "
            "leakproof.check(lambda: asyncio.run(%s()))" % fn.__name__
        )

    wrapper.__leakproof__ = settings  # type: ignore[attr-defined]
    return wrapper


def _name_of(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "__main__"
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return "%s.%s" % (module, qualname)
