#!/usr/bin/env bash
# Measures the leakproof CLI's own overhead (docs/performance.md, section "leakproof CLI"):
#  1. drive: wall time per iteration of `leakproof drive --http` against a trivial local server
#     (examples/leaky_server's /healthz, which allocates nothing): one HTTP GET over a kept-alive
#     connection + one sample of the target's process tree (RSS, fds, threads) + the progress
#     callback. The figure is the report's duration_secs / iterations (the trend analysis at the end
#     included), median of RUNS runs.
#  2. watch: CPU time (user + sys) of `leakproof watch --interval 10ms` on an idle process, as a
#     share of one core over the wall time.
# Usage: scripts/perf-cli.sh [ITERATIONS=5000] [WATCH_SECS=20] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
WATCH_SECS=${2:-20}
RUNS=${3:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin leakproof --example leaky_server
BIN=$CARGO_TARGET_DIR/release
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

echo "== drive: $N iterations, GET /healthz on a trivial local server, $RUNS runs"
for _ in $(seq "$RUNS"); do
  "$BIN/leakproof" drive --json -n "$N" --max-iterations "$N" \
      --target "exec $BIN/examples/leaky_server --port $PORT --entry-bytes 0 --cache 1" \
      --http "http://127.0.0.1:$PORT/healthz" 2>/dev/null \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.1f" % (r["duration_secs"] / r["iterations"] * 1e6))' || true
done | sort -n | awk '{a[NR]=$1} END {printf "per iteration (us): min %s, median %s, max %s\n", a[1], a[int((NR+1)/2)], a[NR]}'

echo "== watch: --interval 10ms for ${WATCH_SECS}s on an idle process"
TIMEFORMAT='%U %S %R'
{ time "$BIN/leakproof" watch --interval 10ms --duration "${WATCH_SECS}s" --json -- sleep $((WATCH_SECS + 30)) >/dev/null 2>&1; } 2>&1 \
  | awk '{printf "cpu: user %.3fs + sys %.3fs over %.2fs wall = %.2f%% of one core\n", $1, $2, $3, ($1+$2)/$3*100}'
