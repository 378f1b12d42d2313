"""Tests that keep something from every call: each fails under --leakproof, naming the line
whose comment says `leaks:` and the test's name (the Rust driver reads these markers)."""

import asyncio
import functools
import logging
import os
import socket
import threading
import unittest

import anyio
import pytest

import leakproof

_kept = []


# held by test_list_grows: test_leaking._kept (list) ← module test_leaking
def test_list_grows():
    _kept.append([len(_kept)])  # leaks: test_list_grows


_registry = {}


# held by test_dict_grows: test_leaking._registry (dict) ← module test_leaking
def test_dict_grows():
    _registry[len(_registry)] = "entry %d" % len(_registry)  # leaks: test_dict_grows


# held by test_unbounded_lru_cache: test_leaking._render's lru_cache (dict)
@functools.lru_cache(maxsize=None)
def _render(n):
    return "page %d" % n  # leaks: test_unbounded_lru_cache


_pages = [0]


def test_unbounded_lru_cache():
    _pages[0] += 1
    _render(_pages[0])


_files = []


def test_unclosed_file(tmp_path):
    _files.append(open(os.devnull))  # leaks: test_unclosed_file


_sockets = []


def test_unclosed_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # leaks: test_unclosed_socket
    _sockets.append(sock)


def test_raw_descriptor():
    os.open(os.devnull, os.O_RDONLY)  # leaks: test_raw_descriptor


_stop = threading.Event()


def test_thread_left_running():
    threading.Thread(target=_stop.wait, daemon=True).start()


# held by test_handler_added_on_every_call: logging.getLogger('suite.leaking').handlers (list)
def test_handler_added_on_every_call():
    handler = logging.NullHandler()  # leaks: test_handler_added_on_every_call
    logging.getLogger("suite.leaking").addHandler(handler)


@pytest.mark.parametrize("size", [64, 256])
def test_parametrized(size):
    _kept.append(bytearray(size))  # leaks: test_parametrized


class TestMethods:
    # held by TestMethods.test_method: test_leaking.TestMethods.history (list)
    history = []

    def test_method(self):
        self.history.append(dict(call=len(self.history)))  # leaks: TestMethods.test_method


class LeakingCase(unittest.TestCase):
    seen = []

    def test_unittest_method(self):
        self.seen.append(str(len(self.seen)) * 10)  # leaks: LeakingCase.test_unittest_method


@pytest.mark.asyncio
async def test_asyncio():
    await asyncio.sleep(0)
    _kept.append(["async", len(_kept)])  # leaks: test_asyncio


@pytest.mark.anyio
async def test_anyio():
    await anyio.sleep(0)
    _kept.append(("anyio", len(_kept)))  # leaks: test_anyio


@leakproof.leak_test(iterations=200)
def test_decorated():
    _kept.append({len(_kept)})  # leaks: test_decorated


def test_fails_on_its_own():
    assert 2 + 2 == 5, "arithmetic is broken"


_runs = [0]


def test_not_repeatable():
    _runs[0] += 1
    assert _runs[0] == 1, "only the first run passes"


_marked = []


@pytest.mark.leak_test(iterations=100)
def test_marked():
    _marked.append([len(_marked)])  # leaks: test_marked


@pytest.mark.no_leak_test
def test_excluded_though_it_keeps():
    _kept.append(object())
