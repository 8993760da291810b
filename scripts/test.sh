#!/usr/bin/env bash
# The test suite, from nothing: creates .venv if needed, installs the kit, runs pytest (slow tests included), then
# executes every notebook and the student editions (papermill) and checks the committed ones (nbval), then builds the
# static site from them.
set -euo pipefail
cd "$(dirname "$0")/.."
# One thread per process: the suite's tensors are small, and two threads fighting over two busy cores ran 4-20x
# slower here; it also keeps the notebooks' numbers those they were committed with.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
bash scripts/setup.sh
.venv/bin/python -m pytest -q -m "" "$@"  # -m "": the slow tests too (a plain pytest leaves them out)
bash scripts/run_notebooks.sh
bash scripts/build_site.sh
