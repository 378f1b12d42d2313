#!/bin/sh
# Cost of the holder search on node and JVM heaps (docs/performance.md, "Holders").
#
#     scripts/heap-graph-cost.sh [MIB...]     # default: 0 100 (ballast in MiB on top of a small heap)
#
# For each size, a node process (its heap filled with MIB MiB of small objects, then 2000 kept
# pages in a module-scope `history` array) writes the two heap snapshots the node agent takes
# (`v8.writeHeapSnapshot` after a full GC), and a JVM (the same ballast in a static list, then
# 2000 kept 1 KiB pages in `static Kept.PAGES`) writes the two heap dumps the JVM agent takes
# (`GC.heap_dump` through jcmd, before and after the pages). It prints each file's size, the time to write it and the
# target's peak RSS before and after, then reads them with the release build of
# crates/heapgraph/examples/heap_holders.rs (the code leakproof runs) and prints the holders found,
# the time to read and search, and that process's peak RSS. Every file is deleted.
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 0 100
echo "node $(node --version), $(java -version 2>&1 | head -1); load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cpus"
cargo build -q --release -p leakproof-heapgraph --example heap_holders
HOLDERS=target/release/examples/heap_holders
DIR=$(mktemp -d /tmp/leakproof-heap-cost-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cat > "$DIR/Kept.java" <<'JAVA'
import java.util.ArrayList;
import java.util.List;

public class Kept {
    static final List<Object> BALLAST = new ArrayList<>();
    static final List<byte[]> PAGES = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        long entries = (Long.parseLong(args[0]) << 20) / 136; // a String[2] and its 2 Strings
        for (int i = 0; i < entries; i++) {
            BALLAST.add(new String[] {"item " + i, Integer.toString(i)});
        }
        System.out.println("before");
        while (!new java.io.File(args[1]).exists()) Thread.sleep(50);
        for (int i = 0; i < 2000; i++) PAGES.add(new byte[1000]);
        System.out.println("after");
        Thread.sleep(600_000);
    }
}
JAVA
javac -d "$DIR" "$DIR/Kept.java"
rss() { [ -e "/proc/$1/status" ] && awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }
for MIB in "$@"; do
    echo "== ballast $MIB MiB"
    node --expose-gc - "$MIB" "$DIR" <<'JS'
const v8 = require('v8');
const [mib, dir] = [Number(process.argv[2]), process.argv[3]];
const ballast = [];
while (process.memoryUsage().heapUsed < mib * 1048576) {
  for (let i = 0; i < 10000; i += 1) ballast.push({ id: i, name: `item ${ballast.length}` });
}
const history = [];
const peak = () => `${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`;
function snap(name) {
  gc();
  const heap = Math.round(process.memoryUsage().heapUsed / 1048576);
  const before = peak();
  const t = process.hrtime.bigint();
  const file = v8.writeHeapSnapshot(`${dir}/${name}.heapsnapshot`);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const size = (require('fs').statSync(file).size / 1048576).toFixed(1);
  console.log(`node ${name}: heap ${heap} MiB, snapshot ${size} MB written in ${(ms / 1000).toFixed(2)} s, peak rss ${before} -> ${peak()}`);
}
snap('before');
for (let i = 0; i < 2000; i += 1) history.push(`<li>request ${i}</li>\n`.repeat(40));
snap('after');
JS
    "$HOLDERS" node "$DIR/before.heapsnapshot" "$DIR/after.heapsnapshot" | sed 's/^/  /'
    rm -f "$DIR"/*.heapsnapshot
    java -cp "$DIR" Kept "$MIB" "$DIR/go" > "$DIR/out" &
    PID=$!
    for NAME in before after; do
        while ! grep -q $NAME "$DIR/out" 2>/dev/null; do sleep 0.2; done
        BEFORE=$(rss $PID)
        START=$(date +%s.%N)
        jcmd $PID GC.heap_dump "$DIR/$NAME.hprof" > /dev/null
        END=$(date +%s.%N)
        SIZE=$(du -m "$DIR/$NAME.hprof" | cut -f1)
        echo "jvm $NAME: dump ${SIZE} MB written in $(echo "$END - $START" | bc) s (jcmd included), peak rss $BEFORE -> $(rss $PID)"
        touch "$DIR/go"
    done
    kill $PID; wait $PID 2>/dev/null || true
    "$HOLDERS" jvm "$DIR/before.hprof" "$DIR/after.hprof" 'byte[]' | sed 's/^/  /'
    rm -f "$DIR"/*.hprof "$DIR/go"
done
    BEFORE=$(rss $PID)
    START=$(date +%s.%N)
    jcmd $PID GC.heap_dump "$DIR/kept.hprof" > /dev/null
    END=$(date +%s.%N)
    SIZE=$(du -m "$DIR/kept.hprof" | cut -f1)
    echo "jvm: dump ${SIZE} MB written in $(echo "$END - $START" | bc) s (jcmd included), peak rss $BEFORE -> $(rss $PID)"
    kill $PID; wait $PID 2>/dev/null || true
    "$HOLDERS" jvm "$DIR/kept.hprof" 'byte[]' | sed 's/^/  /'
    rm -f "$DIR/kept.hprof"
done
