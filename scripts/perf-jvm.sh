#!/bin/sh
# Cost of leakproof's JVM agent (docs/performance.md, "The JVM agent").
#
#     scripts/perf-jvm.sh [REQUESTS] [JAVA OPTIONS...]     # default 2000, G1
#
# Starts examples/JvmService.java (--leak: one 1 KiB page kept per request) and measures, over the
# attach protocol the agent speaks (`1\0jcmd\0<command>\0\0\0` on /tmp/.java_pid<pid>): the first
# attach (attach file + SIGQUIT until the socket accepts), a round trip with no work (`VM.version`),
# one sample (`GC.run`, then reading the heap counters from /tmp/hsperfdata_<user>/<pid>), and one
# `GC.class_histogram` after REQUESTS leaking requests (the locate phase); and the latency of one
# request. Medians of 50 unless said.
set -eu
cd "$(dirname "$0")/.."
REQUESTS="${1:-2000}"
[ $# -gt 0 ] && shift
java -version 2>&1 | head -1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cpus"
DIR=$(mktemp -d /tmp/leakproof-jvm-perf-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
javac -d "$DIR" examples/JvmService.java
python3 - "$DIR" "$REQUESTS" "$@" <<'PY'
import glob, os, signal, socket, statistics, subprocess, sys, time

classes, requests, options = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
p = subprocess.Popen(["java", *options, "-cp", classes, "JvmService", "--port", "0", "--leak"],
                     stdout=subprocess.PIPE)
port = int(p.stdout.readline().split()[-1])
sock = "/tmp/.java_pid%d" % p.pid

def get():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()

def jcmd(command):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"1\0jcmd\0" + command.encode() + b"\0\0\0")
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    assert out.startswith(b"0\n"), out[:80]
    return out

def median_ms(f, n=50):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)

def perf_read():
    for path in glob.glob("/tmp/hsperfdata_*/%d" % p.pid):
        with open(path, "rb") as f:
            return f.read()

try:
    attach = "/proc/%d/cwd/.attach_pid%d" % (p.pid, p.pid)
    t = time.perf_counter()
    open(attach, "w").close()
    os.kill(p.pid, signal.SIGQUIT)
    while True:
        try:
            jcmd("VM.version")
            break
        except OSError:
            time.sleep(0.005)
    print("first attach (SIGQUIT until the socket answers): %.1f ms" % ((time.perf_counter() - t) * 1000))
    os.remove(attach)
    for _ in range(200):
        get()
    print("one request: %.2f ms" % median_ms(get, 500))
    print("round trip, no work (VM.version): %.2f ms" % median_ms(lambda: jcmd("VM.version")))
    print("GC.run (full collection, small heap): %.2f ms" % median_ms(lambda: jcmd("GC.run")))
    print("hsperfdata read (32 KiB): %.3f ms" % median_ms(perf_read))
    for _ in range(requests):
        get()
    size = len(jcmd("GC.class_histogram"))
    print("GC.class_histogram after %d more leaking requests (%d KiB of text), median of 5: %.1f ms"
          % (requests, size // 1024, median_ms(lambda: jcmd("GC.class_histogram"), 5)))
finally:
    p.terminate()
    p.wait()
PY
