"""The in-process python heap's labelled corpus (docs/detection.md, "Runtime heaps"): bounded
workloads that warm caches and churn the heap, and small leaks, each judged by leakproof.check
ROUNDS times (argv[1], default 3). Run with an interpreter that has the package installed:

    target/perf-python/venv/bin/python scripts/python-heap-corpus.py 5
"""

import asyncio, collections, datetime, functools, json, logging, re, sys, threading, os
import leakproof

kept = []
n = [0]


def tick():
    n[0] += 1
    return n[0]


@functools.lru_cache()  # default maxsize 128
def lru128(i):
    return str(i) * 3


@functools.lru_cache(maxsize=32)
def lru32(i):
    return [i] * 4


loop = asyncio.new_event_loop()


async def coro():
    await asyncio.sleep(0)
    return [1, 2, 3]


log = logging.getLogger("c")
log.addHandler(logging.NullHandler())
log.propagate = False
pats = ["a%db" % i for i in range(100)]
churn = {}


class E(Exception):
    pass


bounded = {
    "lru128": lambda: lru128(tick()),
    "lru32": lambda: lru32(tick()),
    "re100": lambda: re.match(pats[tick() % 100], "a5b"),
    "dict_churn": lambda: (churn.__setitem__(tick(), 1), churn.pop(n[0] - 20, None)),
    "asyncio": lambda: loop.run_until_complete(coro()),
    "json": lambda: json.loads(json.dumps({"a": [1, 2, {"b": str(tick())}]})),
    "datetime": lambda: datetime.datetime.now().isoformat(),
    "logging": lambda: log.info("x %s", tick()),
    "class": lambda: type("K", (object,), {"f": lambda self: 1})().f(),
    "exception": lambda: (lambda: [_ for _ in ()] and None)() or _raise(),
    "format": lambda: "{:>10}|{:.3f}".format(tick(), 3.14159),
    "thread": lambda: (lambda t: (t.start(), t.join()))(threading.Thread(target=len, args=("",))),
}


def _raise():
    try:
        raise E("boom %d" % tick())
    except E:
        pass


leaking = {
    "obj24": lambda: kept.append(object()),
    "int36": lambda: kept.append(tick() + 10**6),
    "same8": lambda: kept.append(None),
    "str": lambda: kept.append("s%d" % tick()),
}
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
for name, fn in list(bounded.items()) + list(leaking.items()):
    vs = []
    for _ in range(rounds):
        r = leakproof.check(fn)
        vs.append("%s:%.1f/%d" % (r["verdict"][0], r["slope"], r["iterations"]))
    print("%-10s %s" % (name, " ".join(vs)))
