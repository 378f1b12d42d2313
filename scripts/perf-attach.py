#!/usr/bin/env python3
"""What `leakproof watch --pid` costs a running service: attach time, pause, per-sample cost.

For each runtime it starts examples/py_service.py or examples/node_service.js (bounded), serves
WARM requests, then keeps a steady load of RATE requests per second on it while
`leakproof watch --pid PID --duration SECS` attaches, samples and detaches, and prints:

- attach: the time the report's note says loading the agent took (gdb or the inspector);
- pause: the slowest request of the load while the agent was being loaded, against the median
  request before (the target's threads stop while gdb attaches and takes the GIL);
- sample: the target's time per sample and its share of the watch, from the report's note;
- interval: the sampling interval the watch chose to keep that share under 2%.

    LEAKPROOF=target/release/leakproof scripts/perf-attach.py [SECS [RATE [ONLY]]]

RATE (requests per second, 40 by default) sets how fine the pause is seen: a stop shorter than
1/RATE may fall between two requests. LEAKPROOF may name several binaries separated by `:` (an
old build and a new one): each runtime is then measured with each in turn, side by side. ONLY
keeps the runtimes whose name contains it (`python`).

Standard library only.
"""

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEAKPROOF = os.environ.get("LEAKPROOF", os.path.join(ROOT, "target/release/leakproof"))
WARM = 2000
RUNTIMES = [
    (
        "python 3.8 (pyenv)",
        ["/root/.pyenv/versions/3.8.18/bin/python3.8", "examples/py_service.py"],
    ),
    (
        "python 3.13 (pyenv)",
        ["/root/.pyenv/versions/3.13.0/bin/python3.13", "examples/py_service.py"],
    ),
    ("python 3.11 (Debian, stripped)", ["/usr/bin/python3", "examples/py_service.py"]),
    ("node 20", ["node", "--inspect-port=0", "examples/node_service.js"]),
]


def get(port: int) -> float:
    """One request on a new connection: its latency in seconds."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        while s.recv(4096):
            pass
    return time.perf_counter() - started


def measure(name: str, command: list, leakproof: str, secs: int, rate: float) -> None:
    service = subprocess.Popen(
        command + ["--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    port = int(service.stdout.readline().split()[-1])
    try:
        for _ in range(WARM):
            get(port)
        latencies = []  # (start time, latency)
        stop = threading.Event()

        def load() -> None:
            started, sent = time.monotonic(), 0
            while not stop.is_set():
                wait = started + sent / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                sent += 1
                at = time.monotonic()
                latencies.append((at, get(port)))

        thread = threading.Thread(target=load)
        thread.start()
        time.sleep(2)
        began = time.monotonic()
        out = subprocess.run(
            [leakproof, "watch", "--pid", str(service.pid), "--interval", "100ms",
             "--duration", "%ds" % secs, "--json"],
            capture_output=True, text=True,
        )
        stop.set()
        thread.join()
        notes = " ".join(json.loads(out.stdout)["notes"])
        attached = r"loaded into process [0-9, ]+ \(through [a-z ]+\) in ([0-9.]+) s"
        attach_s = float(re.search(attached, notes).group(1))
        before = statistics.median(l for at, l in latencies if at < began)
        during = max(l for at, l in latencies if began <= at < began + attach_s + 0.5)
        spent = re.search(
            r"spent ([0-9.]+) s of ([0-9.]+) s in leakproof's collections \(([0-9.]+)%\): "
            r"([0-9.]+) ms per sample, one every ([0-9]+) ms",
            notes,
        )
        binary = os.path.relpath(leakproof, ROOT)
        row = (name, binary, attach_s, during * 1e3, before * 1e3) + spent.group(4, 3, 5)
        print("| %s | %s | %.2f s | %.1f ms (median %.1f ms) | %s ms | %s%% | %s ms |" % row)
    finally:
        service.kill()
        service.wait()


def main() -> None:
    secs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 40.0
    print("%.0f requests a second; %s" % (rate, time.strftime("%Y-%m-%d %H:%M")))
    print(
        "| runtime | binary | attach | slowest request while attaching | per sample | share "
        "| interval |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    for name, command in [r for r in RUNTIMES if only in r[0]]:
        for leakproof in LEAKPROOF.split(":"):
            measure(name, command, leakproof, secs, rate)


if __name__ == "__main__":
    main()
