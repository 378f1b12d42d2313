#!/usr/bin/env bash
# Measures the native agent's counting overhead (docs/performance.md, "leakproof-preload"): wall
# time of an allocation-heavy C loop (scripts/native/alloc_loop.c: malloc / realloc / free of 16 to
# 527 bytes, ROUNDS per thread) without the agent, with libleakproof_preload.so preloaded and
# counting into its shared region, and with it preloaded but switched off (no
# LEAKPROOF_PRELOAD_DIR: pure pass-through). Median of RUNS runs each, on 1 and 2 threads.
# Usage: scripts/native-overhead.sh [ROUNDS=2000000] [RUNS=7]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2000000}
RUNS=${2:-7}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p leakproof-preload
LIB=$(realpath "$CARGO_TARGET_DIR/release/libleakproof_preload.so")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -pthread scripts/native/alloc_loop.c -o "$WORK/alloc_loop"
mkdir -m 700 "$WORK/regions"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # $1 = mode, $2 = threads; prints the median wall time in ms
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s%N)
    case $1 in
      none) "$WORK/alloc_loop" "$2" "$ROUNDS" ;;
      counting) LD_PRELOAD=$LIB LEAKPROOF_PRELOAD_DIR=$WORK/regions "$WORK/alloc_loop" "$2" "$ROUNDS" ;;
      off) LD_PRELOAD=$LIB "$WORK/alloc_loop" "$2" "$ROUNDS" ;;
    esac
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
  done | median
}

for threads in 1 2; do
  base=$(run none "$threads")
  counting=$(run counting "$threads")
  off=$(run off "$threads")
  awk -v t="$threads" -v b="$base" -v c="$counting" -v o="$off" -v n="$ROUNDS" 'BEGIN {
    printf "threads %d, %d rounds each: glibc %d ms, agent counting %d ms (%.2fx), agent off %d ms (%.2fx)\n",
      t, n, b, c, c / b, o, o / b }'
done

# Instructions executed (deterministic, unlike wall time on a shared machine): callgrind does not
# replace malloc, so the agent runs as in production; ROUNDS/10 rounds on 1 thread.
if command -v valgrind >/dev/null; then
  ir() { env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/alloc_loop" 1 $((ROUNDS / 10)) 2>&1 |
           awk '/Collected/ {print $NF}'; }
  base=$(ir)
  counting=$(ir LD_PRELOAD="$LIB" LEAKPROOF_PRELOAD_DIR="$WORK/regions")
  off=$(ir LD_PRELOAD="$LIB")
  awk -v b="$base" -v c="$counting" -v o="$off" -v n=$((ROUNDS / 10)) 'BEGIN {
    printf "instructions, 1 thread, %d rounds: glibc %d, agent counting %d (%.2fx, +%.0f per round), agent off %d (%.2fx)\n",
      n, b, c, c / b, (c - b) / n, o, o / b }'
fi
