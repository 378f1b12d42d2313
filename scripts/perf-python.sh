#!/bin/sh
# The Python package's speed figures in docs/performance.md ("Python package"): installs the
# package (release build, `pip install ./python`) with pytest and pytest-xdist into a fresh venv
# under target/perf-python, then runs scripts/perf_python.py. Usage:
#   scripts/perf-python.sh [PYTHON]        # default: pyenv's 3.13.0
set -eu
cd "$(dirname "$0")/.."
PYTHON=${1:-/root/.pyenv/versions/3.13.0/bin/python3}
VENV=target/perf-python/venv
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check pytest pytest-xdist
"$VENV/bin/pip" install -q --disable-pip-version-check ./python
for what in sample stable suite idle; do
    echo "== $what"
    "$VENV/bin/python" scripts/perf_python.py "$what"
done
