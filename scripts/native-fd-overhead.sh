#!/usr/bin/env bash
# Measures what the native agent adds to a descriptor-heavy loop (docs/performance.md,
# "leakproof-preload: descriptors"): scripts/native/fd_loop.c opens and closes 5 descriptors per
# round (open, dup, socket, pipe2) without the agent, with libleakproof_preload.so preloaded and
# counting (open-site tracing off: every run outside a locate phase), with open-site tracing on
# from the start (the reader's `capture` file: a stack walk and an fstat per descriptor), and
# preloaded but switched off (no LEAKPROOF_PRELOAD_DIR). Wall: median of RUNS runs; instructions:
# callgrind (user space only: the system calls themselves are not counted), ROUNDS/10 rounds.
# Usage: scripts/native-fd-overhead.sh [ROUNDS=200000] [RUNS=7]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-200000}
RUNS=${2:-7}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p leakproof-preload
LIB=$(realpath "$CARGO_TARGET_DIR/release/libleakproof_preload.so")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 scripts/native/fd_loop.c -o "$WORK/fd_loop"
mkdir -m 700 "$WORK/counting" "$WORK/tracing"
touch "$WORK/tracing/capture"

env_of() { # $1 = mode: the environment of a run
  case $1 in
    none) ;;
    counting) echo "LD_PRELOAD=$LIB LEAKPROOF_PRELOAD_DIR=$WORK/counting" ;;
    tracing) echo "LD_PRELOAD=$LIB LEAKPROOF_PRELOAD_DIR=$WORK/tracing" ;;
    off) echo "LD_PRELOAD=$LIB" ;;
  esac
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall() { # $1 = mode; prints the median wall time in ms
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s%N)
    # shellcheck disable=SC2046
    env $(env_of "$1") "$WORK/fd_loop" "$ROUNDS" >/dev/null
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
  done | median
}
ir() { # $1 = mode; prints the instructions callgrind counted
  # shellcheck disable=SC2046
  env $(env_of "$1") valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$WORK/fd_loop" $((ROUNDS / 10)) 2>&1 | awk '/Collected/ {print $NF}'
}

base=$(wall none)
for mode in counting tracing off; do
  t=$(wall "$mode")
  awk -v m="$mode" -v b="$base" -v t="$t" -v n="$ROUNDS" 'BEGIN {
    printf "wall, %d rounds: glibc %d ms, agent %s %d ms (%.2fx)\n", n, b, m, t, t / b }'
done
if command -v valgrind >/dev/null; then
  base=$(ir none)
  for mode in counting tracing off; do
    i=$(ir "$mode")
    awk -v m="$mode" -v b="$base" -v i="$i" -v n=$((ROUNDS / 10)) 'BEGIN {
      printf "instructions, %d rounds: glibc %d, agent %s %d (%.2fx, %+.0f per round)\n",
        n, b, m, i, i / b, (i - b) / n }'
  done
fi
