#!/usr/bin/env python3
"""The cost of the Python holder search (python/leakproof/_holders.py) on a small heap and on one
of about a million tracked objects: `python3 scripts/holder-cost.py [OBJECTS]`.

Builds OBJECTS bystander objects (one-item lists), starts tracemalloc at 8 frames (as the agent
does when it locates), keeps 1000 strings in a module global, and times `holders()` for that site.
"""

import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "leakproof"))
import _holders  # noqa: E402

KEPT = []


def keep(n):
    KEPT.append("page %d " % n * 20)  # the growing site


def main():
    objects = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    bystanders = [[i] for i in range(objects)]
    tracemalloc.start(8)
    for n in range(1000):
        keep(n)
    site = {"site": "s", "file": __file__, "line": keep.__code__.co_firstlineno + 1}
    import gc

    tracked = len(gc.get_objects())
    t = time.perf_counter()
    found = _holders.holders([site], 1.0)
    took = time.perf_counter() - t
    names = [h["name"] for h in found["holders"]] or [found["missed"]]
    print("%d tracked objects: %.3f s: %s" % (tracked, took, names[0]))
    del bystanders


if __name__ == "__main__":
    main()
