#!/usr/bin/env python3
"""Non-test Rust lines per crate and the largest non-test source files (issue 19's size rules).

Counts the lines of every crate's src/ (the facade's src/ without crates/), leaving out
`#[cfg(test)]` items (attribute through the closing brace) and `mod tests;` files.
Usage: python3 scripts/code-size.py
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def non_test_lines(text: str) -> int:
    count, skipping, depth, opened = 0, False, 0, False
    for line in text.splitlines():
        code = line.split("//")[0].strip()
        if not skipping and code.startswith("#[cfg(test)]"):
            skipping, depth, opened = True, 0, False
        if skipping:
            depth += code.count("{") - code.count("}")
            opened |= "{" in code
            done = depth <= 0 if opened else code.endswith(";")
            if done and not code.startswith("#["):
                skipping = False
            continue
        count += 1
    return count


def crate_dirs():
    yield "leakproof (facade)", os.path.join(ROOT, "src")
    for name in sorted(os.listdir(os.path.join(ROOT, "crates"))):
        src = os.path.join(ROOT, "crates", name, "src")
        if os.path.isdir(src):
            yield name, src


def main() -> int:
    per_crate, files = {}, []
    for name, src in crate_dirs():
        total = 0
        for d, _, names in os.walk(src):
            for f in names:
                if not f.endswith(".rs") or f == "tests.rs":
                    continue
                path = os.path.join(d, f)
                n = non_test_lines(open(path, encoding="utf-8").read())
                total += n
                files.append((n, os.path.relpath(path, ROOT)))
        per_crate[name] = total
    whole = sum(per_crate.values())
    for name, n in sorted(per_crate.items(), key=lambda kv: -kv[1]):
        print(f"{name:24} {n:6} lines  {100 * n / whole:5.1f}%")
    print(f"{'workspace':24} {whole:6} lines")
    print("largest non-test files:")
    for n, path in sorted(files, reverse=True)[:8]:
        print(f"  {n:5} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
