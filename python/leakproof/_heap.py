"""The traced Python heap of this process as the engine reads it (through the extension), with
its pictures for the locate phase."""

import json
import os

from leakproof import _sampling

# Frames per traceback while locating: deep enough to reach the test's own line from an allocation
# inside a library it calls (sampling runs at one frame, the cheapest).
LOCATE_FRAMES = 32

_HERE = os.path.dirname(os.path.abspath(__file__))
# Anything with one of these files on its stack is leakproof's: a reading, a picture, or letting go
# of what pytest kept of the previous call.
_READING = frozenset(
    os.path.join(_HERE, name) for name in ("_heap.py", "_sampling.py", "_retention.py")
)
# leakproof's own files: an allocation made directly in one of them is bookkeeping. (The test's
# own allocations have them on their stack too: leakproof calls the test.)
_OWN = frozenset(os.path.join(_HERE, n) for n in os.listdir(_HERE) if n.endswith(".py"))


class Heap:
    """What the extension calls: ``read()`` after every call of the test, ``prepare_locate()`` and
    two ``snapshot()`` pictures (sites in the agents' JSON) when the heap grew."""

    label = "python heap (tracemalloc, after gc)"

    def read(self) -> int:
        return _sampling.traced_bytes()

    def prepare_locate(self) -> None:
        _sampling.set_frames(LOCATE_FRAMES)

    def snapshot(self) -> str:
        return json.dumps({"sites": _sampling.snapshot(anywhere=_READING, innermost=_OWN)})
