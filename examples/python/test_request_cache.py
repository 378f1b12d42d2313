"""The request cache of examples/request_cache.rs, in Python, as ordinary pytest tests.

    pip install ./python pytest
    pytest --leakproof examples/python       # the unbounded cache fails with its line named

`test_handler_with_unbounded_cache` keeps every rendered page (a dict that never evicts) and is
LEAKING; `test_handler_with_bounded_cache` keeps the last 128 (functools.lru_cache) and is
proven Stable once the cache is full.
"""

import functools

_pages = {}
_requests = [0]


def render(request_id):
    return "<li>request %06d</li>\n" % request_id * 8


def unbounded_handler(request_id):
    if request_id not in _pages:
        _pages[request_id] = render(request_id)  # every page is kept: the leak
    return _pages[request_id]


@functools.lru_cache(maxsize=128)
def bounded_handler(request_id):
    return render(request_id)


def next_request():
    _requests[0] += 1
    return _requests[0]


def test_handler_with_unbounded_cache():
    assert unbounded_handler(next_request()).startswith("<li>")


def test_handler_with_bounded_cache():
    assert bounded_handler(next_request()).startswith("<li>")
