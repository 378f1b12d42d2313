"""How leakproof reads a Python heap: the traced bytes after a collection, and the live allocation
sites as tracebacks.

This one module serves both the pytest plugin (as ``leakproof._sampling``) and the runtime agent
that ``leakproof drive`` injects into Python targets (the harness writes this very file beside its
``sitecustomize.py`` as ``_leakproof_sampling``). Standard library only, Python 3.8+, no relative
imports.

Sites are ``[[file, line, function], ...], size, count`` lists, frames innermost first: the wire
format of the agents (see the harness's ``agent`` module).
"""

import gc
import sys
import tracemalloc
from typing import Callable, Dict, Iterable, List, Tuple, Union

# CPython's type attribute cache (4096 slots) keeps a reference to the name string of each lookup
# it caches. A name built per request (`'do_' + self.command` in http.server) lands in a new slot
# now and then, so the heap creeps for thousands of requests and then stops: a bounded cache that
# looks like a leak for a long time. Emptying it before each reading removes that creep.
# (_clear_internal_caches replaces _clear_type_cache from Python 3.13.)
_clear_caches: Callable[[], None] = getattr(sys, "_clear_internal_caches", None) or getattr(
    sys, "_clear_type_cache", lambda: None
)

Site = List[Union[List[List[Union[str, int]]], int]]


def collect() -> None:
    """A full collection, then the interpreter's internal caches emptied."""
    gc.collect()
    _clear_caches()


def traced_bytes() -> int:
    """Traced bytes after a collection.

    Traced blocks only: tracemalloc's own tables (get_tracemalloc_memory) are allocated outside
    the traced allocator, so they are not in get_traced_memory and nothing is subtracted.
    """
    collect()
    return tracemalloc.get_traced_memory()[0]


def set_frames(n: int) -> bool:
    """Traces ``n`` frames per allocation from now on (at least 1); True when that restarted
    tracemalloc, which forgets the traces so far."""
    n = max(1, int(n))
    restarted = not tracemalloc.is_tracing() or tracemalloc.get_traceback_limit() != n
    if restarted:
        tracemalloc.stop()
        tracemalloc.start(n)
    return restarted


def snapshot(anywhere: Iterable[str], innermost: Iterable[str] = ()) -> List[Site]:
    """The live sites after a collection, without leakproof's own allocations: those with a frame
    in one of the files ``anywhere`` (or in tracemalloc) on their stack, and those whose innermost
    frame is in one of the files ``innermost`` (the code that calls a test: the test's own
    allocations have it on their stack too). ``Snapshot.filter_traces`` does the same a hundred
    times slower."""
    collect()
    everywhere = set(anywhere)
    everywhere.add(tracemalloc.__file__)
    inner = set(innermost)
    sites: List[Site] = []
    names: Dict[object, object] = {}
    for stat in tracemalloc.take_snapshot().statistics("traceback"):
        # Oldest frame first since Python 3.7: reverse to innermost first.
        frames = list(reversed(stat.traceback))
        if not frames or frames[0].filename in inner:
            continue
        if any(f.filename in everywhere for f in frames):
            continue
        wire: List[List[Union[str, int]]] = [
            [f.filename, f.lineno, _function(f.filename, f.lineno, names)] for f in frames
        ]
        sites.append([wire, stat.size, stat.count])
    return sites


def _function(filename: str, line: int, cache: Dict[object, object]) -> str:
    """The qualified name of the function around ``line``: tracemalloc records no names."""
    key: Tuple[str, int] = (filename, line)
    name = cache.get(key)
    if name is None:
        lines = cache.get(filename)
        if lines is None:
            lines = cache[filename] = _read_lines(filename)
        name = cache[key] = _enclosing(lines, line)  # type: ignore[arg-type]
    return name  # type: ignore[return-value]


def _read_lines(filename: str) -> List[str]:
    try:
        with open(filename, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def _enclosing(lines: List[str], line: int) -> str:
    """Walks up from ``line`` through ever less indented lines, keeping ``def`` and ``class``
    names. (ast would be exact but parses every file of the snapshot: tens of seconds.)"""
    if not 0 < line <= len(lines):
        return "<module>"
    text = lines[line - 1]
    limit = len(text) - len(text.lstrip())
    names = []
    for i in range(line - 2, -1, -1):
        if limit == 0:
            break
        text = lines[i]
        stripped = text.lstrip()
        indent = len(text) - len(stripped)
        # A closing bracket at the left ends a signature or call that spans lines, not a block.
        if not stripped or stripped.startswith(("#", ")", "]", "}")) or indent >= limit:
            continue
        limit = indent
        if stripped.startswith(("def ", "async def ", "class ")):
            names.append(stripped.split("(")[0].split(":")[0].split()[-1])
    return ".".join(reversed(names)) or "<module>"
