#!/usr/bin/env bash
# The test suite, from nothing: creates .venv if needed, installs the kit, runs pytest (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
