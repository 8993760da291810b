#!/usr/bin/env bash
# Creates .venv (if missing) and installs the kit with the extras CI uses: [notebooks] (JupyterLab, papermill),
# [test] (pytest, nbval, the references) and [site] (Sphinx); no nbgrader (the course grades with
# scripts/grade.py), so no Validate button tells a student an untouched notebook passes. Safe to run again
# (reinstalls only when pyproject.toml or constraints.txt changed). pip's output goes to .venv/install.log, printed
# only on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.weakpose-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    started=$(date +%s)
    echo "[set-up] installing the kit into .venv (about a minute from a local wheel cache, minutes from PyPI; log in .venv/install.log) ..."
    {
        .venv/bin/python -m pip install --upgrade pip &&
        .venv/bin/python -m pip install -c constraints.txt torch &&
        .venv/bin/python -m pip install -c constraints.txt -e ".[notebooks,test,site]"
    } > .venv/install.log 2>&1 || { cat .venv/install.log; echo "install failed (log above)"; exit 1; }
    .venv/bin/python -c "import torch, weakpose_lite; print('[set-up] installed torch', torch.__version__, end=' ')"
    echo "in $(($(date +%s) - started)) s"
    touch "$stamp"
else
    echo "[set-up] the kit is installed in .venv (pyproject.toml and constraints.txt unchanged since)"
fi
