#!/usr/bin/env bash
# Executes the notebooks as CI does:
#   1. papermill runs each instructor notebook with small CI parameters into notebooks/build/ (ignored) and fails on
#      any error, so every assert and every exercise's check runs against fresh code and the instructor's answers;
#   2. the student edition (scripts/student_edition.py, into notebooks/student/) of each notebook that has exercises
#      runs with the same parameters and must stop with NotImplementedError in its first solution cell, nothing
#      before; a notebook without exercises has the instructor's code (tests/test_course.py checks), so step 1 ran it;
#   3. nbval re-runs each committed notebook with its own defaults in lax mode: only the cells marked
#      `# NBVAL_CHECK_OUTPUT` (the numbers and statements that carry each lesson) must print what was committed;
#      plotly, widget, timing and path cells are never compared. Lax mode needs no sanitize file and does not break
#      on a plotly or ipywidgets upgrade.
# Notebook 05 reads what 04 writes under results/notebooks/, so the order matters. Usage: scripts/run_notebooks.sh
#
# To re-execute a notebook in place after changing it (its defaults, so the committed outputs match), then clean it
# (no widget state or progress bars, relative paths; tests/test_notebooks.py checks) before committing:
#   .venv/bin/papermill --cwd notebooks -k python3 notebooks/NAME.ipynb notebooks/NAME.ipynb
#   .venv/bin/python scripts/clean_notebooks.py notebooks/NAME.ipynb
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p notebooks/build/student

# Only where it keeps every assert's margin: the training notebooks' defaults are already their smallest safe size.
declare -A CI_PARAMETERS=(
    [00_data_tour]="-p num_subjects 3 -p frames_per_sequence 20 -p frame 5"
    [05_result_tables]="-p examples 1"
)

"$PYTHON" scripts/student_edition.py
for notebook in notebooks/0*.ipynb; do
    name=$(basename "$notebook" .ipynb)
    started=$(date +%s)
    # shellcheck disable=SC2086  # the parameters are meant to split into words
    "$PYTHON" -m papermill --cwd notebooks -k python3 --log-level WARNING --no-progress-bar \
        "$notebook" "notebooks/build/$name.ipynb" ${CI_PARAMETERS[$name]:-}
    echo "papermill $name: $(($(date +%s) - started)) s"
    if "$PYTHON" scripts/student_edition.py --has-exercises "$notebook"; then
        started=$(date +%s)
        # papermill fails at the first unanswered exercise, as it should: the check below judges where and how.
        # shellcheck disable=SC2086
        "$PYTHON" -m papermill --cwd notebooks/student -k python3 --log-level ERROR --no-progress-bar \
            "notebooks/student/$name.ipynb" "notebooks/build/student/$name.ipynb" ${CI_PARAMETERS[$name]:-} \
            > "notebooks/build/student/$name.log" 2>&1 || true
        "$PYTHON" scripts/student_edition.py --check-run "notebooks/build/student/$name.ipynb" ||
            { cat "notebooks/build/student/$name.log"; exit 1; }
        echo "student edition $name: $(($(date +%s) - started)) s"
    fi
done

started=$(date +%s)
"$PYTHON" -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env -o addopts="" notebooks/0*.ipynb
echo "nbval (all notebooks): $(($(date +%s) - started)) s"
