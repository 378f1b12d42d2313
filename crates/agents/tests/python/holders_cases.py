"""The holder search and the open sites on real objects: each case keeps objects the way leaking
code does and asserts the name the search gives their holder. Run as a script by
tests/python_holders.rs, with python/leakproof on sys.path."""

import collections
import functools
import logging
import os
import sys
import threading
import tracemalloc
import unittest

import _holders
import _opened

HISTORY = []
CACHE = {}


class EventBus:
    listeners = []


class Bus:
    def __init__(self):
        self.subs = collections.deque()


bus = Bus()


def _handle(x, seen=[]):
    seen.append("seen %d" % x)


@functools.lru_cache(maxsize=None)
def render(n):
    return "page %d" % n


def _make():
    kept = []

    def handler(x):
        kept.append(object())

    return handler


handler = _make()
KEEP = [
    (lambda i: HISTORY.append("<li>%d</li>" % i * 10), "holders_cases.HISTORY (list)"),
    (lambda i: CACHE.__setitem__(i, "entry %d" % i), "holders_cases.CACHE (dict)"),
    (lambda i: EventBus.listeners.append(lambda: i), "holders_cases.EventBus.listeners (list)"),
    (lambda i: bus.subs.append({"n": i}), "holders_cases.bus.subs (deque)"),
    (lambda i: _handle(i), "holders_cases._handle.__defaults__[0] (list)"),
    (lambda i: render(i), "holders_cases.render's lru_cache (dict)"),
    (lambda i: handler(i), "holders_cases.handler closure's kept (list)"),
    (
        lambda i: logging.getLogger("x").addHandler(logging.NullHandler()),
        "logging.getLogger('x').handlers (list)",
    ),
]


def _site(keep):
    code = keep.__code__
    return {"site": "s", "file": code.co_filename, "line": code.co_firstlineno}


class Holders(unittest.TestCase):
    def setUp(self):
        tracemalloc.start(8)

    def tearDown(self):
        tracemalloc.stop()

    def test_each_holder_is_named_as_the_code_spells_it(self):
        for i in range(200):
            for keep, _ in KEEP:
                keep(i)
        for keep, name in KEEP:
            if name.startswith("logging") and sys.version_info[:2] == (3, 11):
                continue  # 3.11 has no traceback for an instance (docs/detection.md)
            found = _holders.holders([_site(keep)], 5.0)
            names = [h["name"] for h in found["holders"]]
            self.assertEqual(len(names), 1, (name, found))
            self.assertTrue(names[0].startswith(name + " \u2190 module "), (name, names))
            self.assertGreaterEqual(found["holders"][0]["count"], 100, found)

    def test_a_thread_local_is_named_by_its_frame(self):
        ready, done = threading.Event(), threading.Event()

        def serve():
            pending = [bytearray(8) for _ in range(100)]  # the site
            ready.set()
            done.wait()
            del pending

        t = threading.Thread(target=serve, name="worker")
        t.start()
        ready.wait()
        try:
            site = {"site": "s", "file": __file__, "line": serve.__code__.co_firstlineno + 1}
            found = _holders.holders([site], 5.0)
        finally:
            done.set()
            t.join()
        self.assertEqual(len(found["holders"]), 1, found)
        self.assertIn("pending (list)", found["holders"][0]["name"])
        self.assertIn("thread worker, frame serve", found["holders"][0]["name"])

    def test_nothing_kept_is_no_holder_and_says_why(self):
        found = _holders.holders([{"site": "s", "file": __file__, "line": 1}], 1.0)
        self.assertEqual(found["holders"], [])
        self.assertIn("no holder", found["missed"])


class OpenSites(unittest.TestCase):
    def setUp(self):
        tracemalloc.start(8)
        _opened.start()

    def tearDown(self):
        _opened.stop()
        tracemalloc.stop()

    def test_raw_descriptors_files_and_threads_are_named_by_their_line(self):
        raw = os.open(os.devnull, os.O_RDONLY)  # raw
        r, w = os.pipe()  # pipe
        f = open(os.devnull)  # file
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()  # thread
        closed = os.open(os.devnull, os.O_RDONLY)
        os.close(closed)
        lines = _lines_marked()
        try:
            fds = _opened.fd_sites(lambda f, n: "?")
            threads = _opened.thread_sites(lambda f, n: "?")
        finally:
            stop.set()
            t.join()
            for fd in (raw, r, w):
                os.close(fd)
            f.close()
        fd_lines = sorted(site[0][0][1] for site in fds)
        self.assertEqual(fd_lines, sorted([lines["raw"], lines["pipe"], lines["pipe"], lines["file"]]))
        self.assertEqual([site[0][0][1] for site in threads], [lines["thread"]])

    def test_stop_puts_the_os_functions_back(self):
        wrapped = os.open
        _opened.stop()
        self.assertIsNot(os.open, wrapped)
        self.assertEqual(type(os.open).__name__, "builtin_function_or_method")


def _lines_marked():
    with open(__file__) as f:
        text = f.read().splitlines()
    out = {}
    for i, line in enumerate(text, 1):
        for mark in ("raw", "pipe", "file", "thread"):
            if line.rstrip().endswith("# " + mark):
                out[mark] = i
    return out


if __name__ == "__main__":
    unittest.main()
