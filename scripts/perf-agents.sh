#!/bin/sh
# Cost of leakproof's runtime agents on the example services (docs/performance.md, "Runtime agents").
#
#     scripts/perf-agents.sh [REQUESTS]      # default 2000
#
# For python3 and node: the latency of one HTTP request (a new connection each, sequential) to
# examples/{py_service.py,node_service.js} without and with the agent, the round trip of one
# `sample` request on the agent's Unix socket (collection included), and of one `snapshot` after
# REQUESTS leaking requests traced with 8 frames (the locate phase). The agent files are copied the
# way `Agent::prepare` writes them. LEAKPROOF_PY_FRAMES sets the Python agent's starting depth.
set -eu
cd "$(dirname "$0")/.."
REQUESTS="${1:-2000}"
python3 --version
echo "node $(node --version)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cpus"
DIR=$(mktemp -d /tmp/leakproof-agent-perf-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cp crates/harness/src/agent/sitecustomize.py crates/harness/src/agent/agent.js "$DIR"/
python3 - "$DIR" "$REQUESTS" <<'PY'
import glob, json, os, socket, statistics, subprocess, sys, time

agent_dir, requests = sys.argv[1], int(sys.argv[2])

def start(argv, env):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, env=dict(os.environ, **env))
    port = int(p.stdout.readline().split()[-1])
    return p, port

def get(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()

def latency_us(port, n):
    for _ in range(200):
        get(port)  # warm-up
    t = time.perf_counter()
    for _ in range(n):
        get(port)
    return (time.perf_counter() - t) / n * 1e6

def ask(cmd, **args):
    path = glob.glob(os.path.join(agent_dir, "*.sock"))[0]
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    t = time.perf_counter()
    s.sendall(json.dumps(dict(args, cmd=cmd)).encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return time.perf_counter() - t, json.loads(data)

def wait_ready():
    for _ in range(3000):
        if glob.glob(os.path.join(agent_dir, "*.sock")):
            return
        time.sleep(0.01)
    raise SystemExit("agent did not start")

services = {
    "python": (["python3", "examples/py_service.py", "--port", "0"],
               {"PYTHONPATH": agent_dir}),
    "node": (["node", "examples/node_service.js", "--port", "0"],
             {"NODE_OPTIONS": '--require "%s/agent.js"' % agent_dir}),
}
for name, (argv, agent_env) in services.items():
    p, port = start(argv, {})
    plain = latency_us(port, requests)
    p.terminate(); p.wait()
    env = dict(agent_env, LEAKPROOF_AGENT_DIR=agent_dir)
    p, port = start(argv, env)
    wait_ready()
    with_agent = latency_us(port, requests)
    samples = [ask("sample")[0] * 1e3 for _ in range(50)]
    p.terminate(); p.wait()
    for f in glob.glob(os.path.join(agent_dir, "*.sock")):
        os.unlink(f)
    p, port = start(argv + ["--leak"], env)
    wait_ready()
    ask("frames", n=8)  # as in the locate phase
    for _ in range(requests):
        get(port)
    snap_s, reply = ask("snapshot")
    p.terminate(); p.wait()
    for f in glob.glob(os.path.join(agent_dir, "*.sock")):
        os.unlink(f)
    print("%-6s request: %.0f us without agent, %.0f us with (%+.0f%%); sample: median %.1f ms "
          "(min %.1f, max %.1f, n=50); snapshot after %d requests: %.2f s, %d sites"
          % (name, plain, with_agent, (with_agent / plain - 1) * 100, statistics.median(samples),
             min(samples), max(samples), requests, snap_s, len(reply.get("sites", []))))
PY
