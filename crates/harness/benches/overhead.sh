#!/usr/bin/env bash
# Overhead of a leak test over the bare loop, re-exec included (docs/performance.md).
#
#   bash crates/harness/benches/overhead.sh [RUNS]
#
# Builds crates/harness/tests/overhead.rs in release mode and times, RUNS times each (default 20), the
# whole test binary running one ignored fixture: the bare loop (300 x 10 us), the same workload as
# a passing leak test (re-executed child included), and as a failing one (capture phase included).
# Prints the median wall time of each and the differences.
set -euo pipefail
runs="${1:-20}"
cd "$(dirname "$0")/../.."
bin=$(cargo test --release -p leakproof-harness --test overhead --no-run 2>&1 \
  | sed -n 's/.*Executable tests\/overhead.rs (\(.*\))/\1/p' | tail -1)
[ -x "$bin" ] || { echo "test binary not found" >&2; exit 2; }
python3 - "$bin" "$runs" <<'PY'
import os, subprocess, sys, time, statistics
binary, runs = sys.argv[1], int(sys.argv[2])
env = {k: v for k, v in os.environ.items() if not k.startswith(("NEXTEST", "LEAKPROOF_"))}
def median_ms(test, extra_env=None):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([binary, "--exact", test, "--include-ignored", "--test-threads=1", "-q"],
                       env={**env, **(extra_env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times), max(times)
rows = {name: median_ms(name) for name in
        ["overhead_bare_loop", "overhead_passing_leak_test", "overhead_failing_leak_test"]}
rows["passing, in-process (nextest)"] = median_ms("overhead_passing_leak_test", {"LEAKPROOF_REEXEC": "0"})
for name, (med, lo, hi) in rows.items():
    print(f"{name:32} median {med:7.1f} ms  (min {lo:.1f}, max {hi:.1f}, {runs} runs)")
bare = rows["overhead_bare_loop"][0]
passing = rows["overhead_passing_leak_test"][0]
failing = rows["overhead_failing_leak_test"][0]
print(f"passing leak test over bare loop: {passing - bare:+.1f} ms (budget: +50 ms)")
print(f"of which the re-executed child:  {passing - rows['passing, in-process (nextest)'][0]:+.1f} ms")
print(f"failing leak test over passing:   {failing - passing:+.1f} ms (capture phase, symbolization, report)")
PY
