"""Tests that keep nothing from one call to the next: every one passes under --leakproof."""

import asyncio
import collections
import functools
import logging
import re
import socket
import threading
import tracemalloc
import unittest
import warnings

import anyio
import pytest

log = logging.getLogger("suite.bounded")


def test_list_built_and_dropped():
    squares = [i * i for i in range(200)]
    assert squares[-1] == 199 * 199


_bounded = {}


def test_dict_cache_with_ten_keys():
    _bounded[len(_bounded) % 10] = object()
    assert len(_bounded) <= 10


_calls = [0]


@functools.lru_cache(maxsize=32)
def _square(n):
    return [n] * 8


def test_lru_cache_with_maxsize():
    _calls[0] += 1
    assert _square(_calls[0]) == [_calls[0]] * 8


def test_re_cache():
    assert re.match(r"(\w+)@(\w+)\.org", "me@example.org")
    assert re.sub(r"\s+", " ", "a  b   c") == "a b c"


_recent = collections.deque(maxlen=50)


def test_deque_with_maxlen():
    _recent.append(object())
    assert len(_recent) <= 50


def test_logs_on_every_call():
    log.warning("handled request %d", 42)


def test_prints_on_every_call():
    print("a line of output on every call")


def test_capsys_not_read(capsys):
    print("captured by capsys")


def test_caplog_counts_one_record(caplog):
    log.warning("one record")
    assert len(caplog.records) == 1


def test_warns_on_every_call():
    warnings.warn("deprecated call", DeprecationWarning)


def test_tmp_path_file(tmp_path):
    target = tmp_path / "out.txt"
    with open(target, "w") as f:
        f.write("hello")
    assert target.read_text() == "hello"


def test_socketpair_closed():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"ping")
        assert b.recv(4) == b"ping"


def test_thread_joined():
    done = []
    t = threading.Thread(target=done.append, args=(1,))
    t.start()
    t.join()
    assert done == [1]


@pytest.mark.parametrize("word", ["alpha", "beta"])
def test_parametrized(word):
    assert word.upper().lower() == word


class TestMethods:
    def test_method(self):
        assert sorted({3: "c", 1: "a"}.items())[0] == (1, "a")


class BoundedCase(unittest.TestCase):
    def setUp(self):
        self.items = list(range(10))

    def test_unittest_method(self):
        self.assertEqual(sum(self.items), 45)


@pytest.mark.asyncio
async def test_asyncio_sleep():
    await asyncio.sleep(0)


@pytest.mark.anyio
async def test_anyio_sleep():
    await anyio.sleep(0)


@pytest.mark.skip(reason="skipped by mark")
def test_skipped_by_mark():
    raise AssertionError("never runs")


def test_skips_itself():
    pytest.skip("skipped from inside")


@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_to_fail():
    assert 1 + 1 == 3


@pytest.mark.no_leak_test
def test_tracemalloc_untouched():
    # Not a leak test: the plugin starts nothing for it.
    assert not tracemalloc.is_tracing()
