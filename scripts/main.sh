#!/usr/bin/env bash
# The main job, from nothing: creates .venv if needed, installs the kit, runs the quick end-to-end reproduction.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m weakpose_lite.reproduce "$@"
