#!/usr/bin/env python3
"""Writes examples/prometheus_rss.json and examples/prometheus_rss.csv: one hour of
process_resident_memory_bytes at a 15 s step for three services, as Prometheus's
/api/v1/query_range returns it (JSON) and as a long CSV export (timestamp,instance,job,value).

Synthetic but shaped like real RSS: whole 4 KiB pages, noise of a few pages, allocation bursts
returned within a few scrapes. api-1 leaks about 16 KiB per scrape; worker-1 fills a 12 MiB cache
over its first 15 minutes and then stays bounded; db-1 is flat.

    python3 scripts/prometheus_example.py
"""
import json
import random

PAGE = 4096
START = 1764662400  # 2025-12-02T08:00:00Z
STEP = 15
N = 240


def series(rng, base_pages, shape):
    out = []
    for i in range(N):
        noise = round(rng.gauss(0, 2))
        burst = 48 if rng.random() < 0.03 else 0
        out.append((base_pages + shape(i) + noise + burst) * PAGE)
    return out


def main():
    rng = random.Random(15)
    services = [
        ({"instance": "api-1:9100", "job": "api"}, series(rng, 21_500, lambda i: i * 4)),
        ({"instance": "worker-1:9100", "job": "worker"},
         series(rng, 30_000, lambda i: min(i, 60) * 50)),
        ({"instance": "db-1:9100", "job": "db"}, series(rng, 65_000, lambda i: 0)),
    ]
    result = []
    for labels, values in services:
        metric = {"__name__": "process_resident_memory_bytes", **labels}
        result.append({
            "metric": metric,
            "values": [[START + STEP * i, str(v)] for i, v in enumerate(values)],
        })
    doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    with open("examples/prometheus_rss.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    with open("examples/prometheus_rss.csv", "w") as f:
        f.write("timestamp,instance,job,value\n")
        for i in range(N):
            for labels, values in services:
                f.write(f"{START + STEP * i},{labels['instance']},{labels['job']},{values[i]}\n")


if __name__ == "__main__":
    main()
