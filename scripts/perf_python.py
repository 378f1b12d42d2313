"""Speed of the Python package (docs/performance.md, "Python package"); run by
scripts/perf-python.sh with the interpreter of a venv that has the package, pytest and
pytest-xdist installed.

    python scripts/perf_python.py sample      # the cost of one sample, broken down
    python scripts/perf_python.py stable      # median time to prove a bounded test Stable
    python scripts/perf_python.py suite       # a 20-test suite with --leakproof, plain and -n 2
    python scripts/perf_python.py idle        # the plugin's cost without --leakproof

"A suite loaded" is simulated by LOADED_OBJECTS live objects (dicts, lists, strings: the kind a
test suite's modules and fixtures hold) created before measuring.
"""

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

LOADED_OBJECTS = 300_000
ROUNDS = 7

LOAD = """
import json, logging, re, email, http.client, unittest, argparse, decimal, xml.dom.minidom
SUITE_STATE = [{"id": i, "name": "item %%d" %% i, "tags": [i, str(i)]} for i in range(%d)]
""" % (LOADED_OBJECTS // 5,)


def median_ms(fn, n=200):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def sample() -> None:
    from leakproof import _sampling

    loaded: dict = {}
    exec(LOAD, loaded)  # kept alive: the suite's heap
    gc.collect()
    tracemalloc.start(1)
    rows = [
        ("gc.collect(), suite heap not frozen", lambda: gc.collect()),
        ("internal caches emptied", _sampling._clear_caches),
        ("tracemalloc.get_traced_memory()", tracemalloc.get_traced_memory),
    ]
    results = [(name, median_ms(fn, 50)) for name, fn in rows]
    gc.freeze()
    results.append(
        ("gc.collect(), suite heap frozen (what a leak test does)", median_ms(gc.collect))
    )
    results.append(
        ("one whole reading, frozen (_sampling.traced_bytes)", median_ms(_sampling.traced_bytes))
    )
    gc.unfreeze()
    print("objects tracked by gc: %d" % len(gc.get_objects()))
    for name, ms in results:
        print("%-60s %8.3f ms" % (name, ms))


def _write_suite(dirname: str, bounded: int, leaking: int, load: bool) -> None:
    with open(os.path.join(dirname, "conftest.py"), "w") as f:
        f.write(LOAD if load else "")
    lines = [
        "import functools, logging, re, collections",
        "kept = []",
        "log = logging.getLogger('perf')",
    ]
    kinds = [
        "    [i * i for i in range(100)]",
        "    re.match(r'(\\w+)@(\\w+)', 'me@example')",
        "    log.warning('a log line')",
        "    collections.deque(range(10), maxlen=5)",
    ]
    for i in range(bounded):
        lines += ["def test_bounded_%d():" % i, kinds[i % len(kinds)]]
    for i in range(leaking):
        lines += ["def test_leaking_%d():" % i, "    kept.append([len(kept)] * %d)" % (i + 1)]
    with open(os.path.join(dirname, "test_perf.py"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _pytest(dirname: str, *args: str) -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=dirname,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - t


def stable() -> None:
    """Call durations of bounded leak tests in a pytest process with the suite loaded."""
    with tempfile.TemporaryDirectory() as d:
        _write_suite(d, bounded=12, leaking=0, load=True)
        report = os.path.join(d, "reports")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--leakproof",
                "--leakproof-report",
                report,
                "--durations=0",
                "--durations-min=0",
            ],
            cwd=d,
            stdout=open(os.path.join(d, "out.txt"), "w"),
            check=False,
        )
        calls = []
        for line in open(os.path.join(d, "out.txt")):
            parts = line.split()
            if len(parts) == 3 and parts[1] == "call":
                calls.append(float(parts[0].rstrip("s")))
        verdicts = [
            json.load(open(os.path.join(report, n)))["verdict"]
            for n in os.listdir(report)
            if n.endswith(".json")
        ]
    print("bounded tests: %d, verdicts: %s" % (len(calls), sorted(set(verdicts))))
    print(
        "call time to prove Stable: median %.3f s, max %.3f s"
        % (statistics.median(calls), max(calls))
    )


def suite() -> None:
    with tempfile.TemporaryDirectory() as d:
        _write_suite(d, bounded=12, leaking=8, load=True)
        plain = [_pytest(d, "--leakproof") for _ in range(3)]
        xdist = [_pytest(d, "--leakproof", "-n", "2") for _ in range(3)]
    print(
        "20 tests (12 bounded, 8 leaking) with --leakproof: median %.1f s (max %.1f s)"
        % (statistics.median(plain), max(plain))
    )
    print("same with -n 2: median %.1f s (max %.1f s)" % (statistics.median(xdist), max(xdist)))


def idle() -> None:
    with tempfile.TemporaryDirectory() as d:
        _write_suite(d, bounded=200, leaking=0, load=False)
        off = [_pytest(d, "-p", "no:leakproof") for _ in range(ROUNDS)]
        on = [_pytest(d) for _ in range(ROUNDS)]
    print(
        "200 plain tests, plugin disabled (-p no:leakproof): median %.3f s" % statistics.median(off)
    )
    print(
        "200 plain tests, plugin loaded, no --leakproof:     median %.3f s" % statistics.median(on)
    )


if __name__ == "__main__":
    {"sample": sample, "stable": stable, "suite": suite, "idle": idle}[sys.argv[1]]()
