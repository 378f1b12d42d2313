#!/usr/bin/env bash
# Verdicts of `leakproof drive` at its defaults on real runtimes, RSS only (--agent none) and with
# the runtime agents: how often a bounded service is called Leaking (false alarms) and how often a
# leaking one is caught (power). Prints one line per run: target, agent, exit code, iterations,
# seconds.
#
#   cargo build --release --bin leakproof && scripts/runtime-verdicts.sh [RUNS]
#
# Needs python3, node, java (17+; the JVM agent needs HotSpot on Linux) and PostgreSQL (initdb,
# postgres, psql; run as `nobody` when root). Every target listens on 127.0.0.1 only and is stopped
# by leakproof.
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-3}
LP=${LEAKPROOF:-target/release/leakproof}
port=19100
verdict() { # name agent target url-or-each
    local name=$1 agent=$2 target=$3 driver=$4 out code
    for _ in $(seq "$RUNS"); do
        port=$((port + 1))
        local t=${target//PORT/$port} d=${driver//PORT/$port}
        if [[ $d == http* ]]; then
            out=$($LP drive --agent "$agent" --target "$t" --http "$d" --json 2>/dev/null); code=$?
        else
            out=$($LP drive --agent "$agent" --target "$t" --each "$d" --ready-tcp "127.0.0.1:$port" \
                --json 2>/dev/null); code=$?
        fi
        local n; n=$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%d\t%.2f" % (r["iterations"], r["duration_secs"]))' 2>/dev/null || printf -- '-\t-')
        printf '%s\t%s\t%s\t%s\n' "$name" "$agent" "$code" "$n"
    done
}
dir=$(mktemp -d); chmod 755 "$dir"; echo hello > "$dir/index.html"
javac -d "$dir" scripts/runtimes/Hello.java
echo "require('http').createServer((q, s) => s.end('hello')).listen(+process.argv[2], '127.0.0.1')" > "$dir/hello.js"
for agent in none auto; do
    verdict "python http.server" $agent "python3 -m http.server PORT --bind 127.0.0.1 --directory $dir" "http://127.0.0.1:PORT/index.html"
    verdict "python leaking service" $agent "python3 examples/py_service.py --port PORT --leak" "http://127.0.0.1:PORT/"
    verdict "node http" $agent "node $dir/hello.js PORT" "http://127.0.0.1:PORT/"
    verdict "node leaking service" $agent "node examples/node_service.js --port PORT --leak" "http://127.0.0.1:PORT/"
done
verdict "JVM HttpServer" none "java -cp $dir Hello PORT" "http://127.0.0.1:PORT/"
verdict "JVM HttpServer, fixed pre-touched heap, -Xint" none \
    "java -Xms64m -Xmx64m -XX:+AlwaysPreTouch -Xint -cp $dir Hello PORT" "http://127.0.0.1:PORT/"
verdict "JVM leaking 1 KiB/request" none "java -cp $dir Hello PORT --leak" "http://127.0.0.1:PORT/"
# The JVM agent (Dynamic Attach: the heap after a full GC) on the same two.
verdict "JVM HttpServer" auto "java -cp $dir Hello PORT" "http://127.0.0.1:PORT/"
verdict "JVM leaking 1 KiB/request" auto "java -cp $dir Hello PORT --leak" "http://127.0.0.1:PORT/"
if command -v initdb >/dev/null && id nobody >/dev/null 2>&1; then
    pg=$dir/pg; mkdir "$pg"; chown nobody "$pg" "$dir"
    su nobody -s /bin/sh -c "initdb -D $pg/data -A trust -U postgres >/dev/null"
    verdict "PostgreSQL (psql select 1)" none \
        "su nobody -s /bin/sh -c 'exec postgres -D $pg/data -p PORT -k $pg -c listen_addresses=127.0.0.1'" \
        "psql -h 127.0.0.1 -p PORT -U postgres -qAt -c 'select 1' >/dev/null"
fi
rm -rf "$dir"
