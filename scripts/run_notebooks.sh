#!/usr/bin/env bash
# Executes the notebooks twice, as CI does:
#   1. papermill runs each notebook with small CI parameters into notebooks/build/ (ignored) and fails on any error,
#      so every assert in every notebook runs against fresh code;
#   2. nbval re-runs each committed notebook with its own defaults in lax mode: only the cells marked
#      `# NBVAL_CHECK_OUTPUT` (the numbers and statements that carry each lesson) must print what was committed;
#      plotly, widget, timing and path cells are never compared. Lax mode needs no sanitize file and does not break
#      on a plotly or ipywidgets upgrade.
# Notebook 05 reads what 04 writes under results/notebooks/, so the order matters. Usage: scripts/run_notebooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p notebooks/build

# Only where it keeps every assert's margin: the training notebooks' defaults are already their smallest safe size.
declare -A CI_PARAMETERS=(
    [00_data_tour]="-p num_subjects 3 -p frames_per_sequence 20 -p frame 5"
    [05_result_tables]="-p examples 1"
)

for notebook in notebooks/0*.ipynb; do
    name=$(basename "$notebook" .ipynb)
    started=$(date +%s)
    # shellcheck disable=SC2086  # the parameters are meant to split into words
    "$PYTHON" -m papermill --cwd notebooks -k python3 --log-level WARNING --no-progress-bar \
        "$notebook" "notebooks/build/$name.ipynb" ${CI_PARAMETERS[$name]:-}
    echo "papermill $name: $(($(date +%s) - started)) s"
done

started=$(date +%s)
"$PYTHON" -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env -o addopts="" notebooks/0*.ipynb
echo "nbval (all notebooks): $(($(date +%s) - started)) s"
