#!/usr/bin/env bash
# Creates .venv (if missing) and installs the kit with its test extras; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.weakpose-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -m pip install --quiet -c constraints.txt torch 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]" 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -c "import torch, weakpose_lite; print('installed torch', torch.__version__)"
    touch "$stamp"
fi
