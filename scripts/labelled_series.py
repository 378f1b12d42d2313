#!/usr/bin/env python3
"""The 18 labelled series that `leakproof analyze` is scored on (tests/data/labelled/).

Twelve are exact heap series of real workloads, recorded from the leak tests of tests/leak_corpus.rs
(caches, hash maps, an interner, a channel, a saw-tooth buffer, a doubling string, ...): the heap
samples of each test's report, written by LEAKPROOF_REPORT_DIR. Six are page-quantized noisy RSS
series generated here with a fixed seed (flat with bursts, a cache filling, a slow leak, GC
saw-tooths of 12 and of 5 full cycles, and a saw-tooth whose baseline rises). Each file holds one
number per line; labels.csv says what each series is and the verdict it must get.

    python3 scripts/labelled_series.py record   # rewrite tests/data/labelled/ (runs cargo test)
    python3 scripts/labelled_series.py score [LEAKPROOF]   # analyze each, print N of 18 right

`score` runs `LEAKPROOF analyze --json FILE` (default target/debug/leakproof) with the inferred
model, as a user would; tests/cli.rs asserts the same 18 of 18.
"""
from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "labelled"
PAGE = 4096

# (leak test of tests/leak_corpus.rs, file, what it is, verdict)
HEAP = [
    ("leaks_8_bytes_per_iteration", "heap-8-bytes", "8 B kept per call", "leaking"),
    ("leaks_on_every_10th_iteration_only", "heap-every-10th", "a leak on every 10th call", "leaking"),
    ("leaks_an_rc_cycle", "heap-rc-cycle", "an Rc cycle per call", "leaking"),
    ("leaks_into_a_channel_nobody_drains", "heap-channel", "a channel nobody drains", "leaking"),
    ("leaks_through_a_string_whose_capacity_keeps_doubling", "heap-doubling-string",
     "a String whose capacity keeps doubling", "leaking"),
    ("leaks_through_an_interner_fed_unique_keys", "heap-interner", "an interner fed unique keys",
     "leaking"),
    ("bounded_lru_that_fills_over_150_iterations_is_stable", "heap-bounded-lru",
     "an LRU cache filling over 150 calls, then bounded", "stable"),
    ("hashmap_reused_as_a_sliding_window_is_stable", "heap-sliding-window",
     "a HashMap used as a sliding window", "stable"),
    ("buffer_grown_and_released_in_a_saw_tooth_is_stable", "heap-sawtooth-buffer",
     "a buffer grown and released: a saw-tooth", "stable"),
    ("lazy_statics_set_on_first_use_are_stable", "heap-lazy-statics", "lazy statics set on first use",
     "stable"),
    ("serde_json_and_regex_work_is_stable", "heap-serde-regex", "serde_json and regex work", "stable"),
    ("threads_spawned_and_joined_are_stable", "heap-threads-joined", "threads spawned and joined",
     "stable"),
]


def pages(values: list[float]) -> list[int]:
    return [int(round(v / PAGE)) * PAGE for v in values]


def rss_series() -> list[tuple[str, str, str, list[int]]]:
    """Six RSS series from one fixed seed: (file, what, verdict, samples)."""
    rng = random.Random(23)
    base = 48 * 1024 * 1024

    def noise() -> float:
        return rng.uniform(-12_288, 12_288)  # three pages either way

    def sawtooth(full: int, period: int, amp: float, leak: float) -> list[int]:
        phase = rng.randrange(period)
        n = (full + 1) * period + rng.randrange(period)
        return pages([base + amp * ((t + phase) % period) / period + leak * t + noise()
                      for t in range(n)])

    flat = pages([base + noise() + (96 * PAGE if rng.random() < 0.03 else 0) for _ in range(1000)])
    fill = pages([base + 2048 * PAGE * min(t, 200) / 200 + noise() for t in range(700)])
    leak = pages([base + 0.03 * PAGE * t + noise() for t in range(1000)])
    return [
        ("rss-flat-bursts", "RSS flat, noise of 3 pages, bursts returned", "stable", flat),
        ("rss-cache-fill", "RSS of a cache filling 8 MiB over 200 samples, then bounded", "stable",
         fill),
        ("rss-slow-leak", "RSS leaking 3 pages per 100 samples", "leaking", leak),
        ("rss-gc-12-cycles", "RSS GC saw-tooth, 12 full cycles of 60 samples, flat baseline",
         "stable", sawtooth(12, 60, 4 * 1024 * 1024, 0.0)),
        ("rss-gc-5-cycles", "RSS GC saw-tooth, 5 full cycles of 60 samples, flat baseline",
         "stable", sawtooth(5, 60, 4 * 1024 * 1024, 0.0)),
        ("rss-gc-rising", "RSS GC saw-tooth, 12 full cycles, baseline rising 1 KiB per sample",
         "leaking", sawtooth(12, 60, 4 * 1024 * 1024, 1024.0)),
    ]


def record() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as reports:
        env = dict(os.environ, LEAKPROOF_REPORT_DIR=reports)
        subprocess.run(["cargo", "test", "-q", "--test", "leak_corpus"], cwd=ROOT, env=env,
                       check=True)
        for test, name, what, verdict in HEAP:
            report = json.loads(Path(reports, f"{test}.json").read_text())
            heap = next(r for r in report["resources"] if r["resource"] == "heap")
            write(name, [int(v) for v in heap["samples"]])
            rows.append((name, what + f" (tests/leak_corpus.rs `{test}`)", verdict))
    for name, what, verdict, samples in rss_series():
        write(name, samples)
        rows.append((name, what + " (generated, seed 23)", verdict))
    with open(DATA / "labels.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["file", "verdict", "what"])
        for name, what, verdict in rows:
            out.writerow([name + ".txt", verdict, what])


def write(name: str, samples: list[int]) -> None:
    (DATA / f"{name}.txt").write_text("".join(f"{v}\n" for v in samples))


def score(leakproof: str) -> int:
    right = 0
    with open(DATA / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        out = subprocess.run([leakproof, "analyze", "--json", str(DATA / row["file"])],
                             capture_output=True, text=True, check=False)
        got = json.loads(out.stdout)["verdict"]
        ok = got == row["verdict"]
        right += ok
        print(f"{'ok  ' if ok else 'MISS'} {row['file']:<28} {got:<13} want {row['verdict']}")
    print(f"{right} of {len(rows)} right")
    return 0 if right == len(rows) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["record"]:
        record()
    elif sys.argv[1:2] == ["score"]:
        sys.exit(score(sys.argv[2] if len(sys.argv) > 2 else str(ROOT / "target/debug/leakproof")))
    else:
        sys.exit(__doc__)
