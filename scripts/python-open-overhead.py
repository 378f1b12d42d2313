#!/usr/bin/env python3
"""What recording open sites costs a Python program (python/leakproof/_opened.py): a loop of
``os.open`` + ``os.close`` of /dev/null timed with recording off (nothing wrapped: the state
outside a locate phase) and on (during one), side by side in one process, best of ROUNDS:
`python3 scripts/python-open-overhead.py [CALLS] [ROUNDS]`.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "leakproof"))
import _opened  # noqa: E402


def loop(calls: int) -> float:
    """Seconds per open+close pair, through ``os.open`` as user code calls it."""
    started = time.perf_counter()
    for _ in range(calls):
        os.close(os.open("/dev/null", os.O_RDONLY))
    return (time.perf_counter() - started) / calls


def main() -> int:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    off, on = [], []
    for _ in range(rounds):
        off.append(loop(calls))
        _opened.start()
        on.append(loop(calls))
        _opened.stop()
    best_off, best_on = min(off), min(on)
    print("python %s: %d open+close pairs, best of %d: off %.2f us, recording %.2f us (x%.2f)" % (
        sys.version.split()[0], calls, rounds, best_off * 1e6, best_on * 1e6, best_on / best_off))
    return 0


if __name__ == "__main__":
    sys.exit(main())
