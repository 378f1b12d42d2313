"""The traced Python heap of this process as the engine reads it (through the extension), with
its pictures for the locate phase."""

import json
import os

from leakproof import _holders, _opened, _sampling

# Frames per traceback while locating: deep enough to reach the test's own line from an allocation
# inside a library it calls (sampling runs at one frame, the cheapest).
LOCATE_FRAMES = 32

_HERE = os.path.dirname(os.path.abspath(__file__))
# Anything with one of these files on its stack is leakproof's: a reading, a picture, or letting go
# of what pytest kept of the previous call.
_READING = frozenset(
    os.path.join(_HERE, name)
    for name in ("_heap.py", "_sampling.py", "_retention.py", "_holders.py", "_opened.py")
)
# leakproof's own files: an allocation made directly in one of them is bookkeeping. (The test's
# own allocations have them on their stack too: leakproof calls the test.)
_OWN = frozenset(os.path.join(_HERE, n) for n in os.listdir(_HERE) if n.endswith(".py"))


class Heap:
    """What the extension calls: ``read()`` after every call of the test; when something grew,
    ``prepare_locate()``, two ``snapshot()`` pictures (sites in the agents' JSON), ``holders()``,
    ``open_sites()`` and ``finish_locate()``."""

    label = "python heap (tracemalloc, after gc)"

    def read(self) -> int:
        return _sampling.traced_bytes()

    def prepare_locate(self) -> None:
        _sampling.set_frames(LOCATE_FRAMES)
        _opened.start()

    def finish_locate(self) -> None:
        _opened.stop()

    def holders(self, sites: str, budget: float) -> str:
        """What keeps the objects of ``sites`` (JSON, as the agents get them) alive."""
        return json.dumps(_holders.holders(json.loads(sites), budget, _OWN))

    def open_sites(self, kind: str) -> str:
        """The descriptors (``fds``) or ``threads`` opened while locating and still open."""
        names: dict = {}

        def function(filename: str, line: int) -> str:
            return _sampling._function(filename, line, names)

        sites = _opened.thread_sites if kind == "threads" else _opened.fd_sites
        return json.dumps({"sites": sites(function)})

    def snapshot(self) -> str:
        return json.dumps({"sites": _sampling.snapshot(anywhere=_READING, innermost=_OWN)})
