#!/usr/bin/env bash
# Executes the notebooks as CI does:
#   1. scripts/run_notebook.py (papermill) runs each instructor notebook with non-default CI parameters into
#      notebooks/build/ (ignored) and fails on any error, so every assert that holds for any run and every
#      exercise's check runs against fresh code and the instructor's answers;
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

# Every notebook as a reproduction run with parameters other than its defaults (small budgets, and the edge values
# of the documented ranges: λ = 0 and 1, one epoch, the paper's width, a built dataset folder): what must hold for
# any run is asserted, the claims about the defaults are listed as not checked; nbval (step 3) checks those.
declare -A CI_PARAMETERS=(
    [00_data_tour]="-p num_subjects 3 -p frames_per_sequence 20 -p frame 5"
    [01_projection_jacobians]="-p steps 200 -p starts 2"
    [02_multiview_drift]="-p epochs 4 -p hidden 1024"
    [03_reprojection_loss]="-p lam 1.0 -p epochs 2"
    [04_full_training]="-p dataset $PWD/notebooks/build/tiny_dataset -p lam 0.0 -p epochs 1 -p hidden 64"
    [05_result_tables]="-p examples 2"
    [06_your_own_detections]="-p frames 20 -p view 00_05"
)
# the built dataset folder of notebook 04's run: train/validation/test.npz, as data_scripts/ writes them
"$PYTHON" -c "from weakpose_lite.data.dataset import save_splits; from weakpose_lite.data.synthetic import SyntheticConfig, make_synthetic_splits; save_splits(make_synthetic_splits(SyntheticConfig.tiny()), 'notebooks/build/tiny_dataset')"

"$PYTHON" scripts/student_edition.py
for notebook in notebooks/0*.ipynb; do
    name=$(basename "$notebook" .ipynb)
    started=$(date +%s)
    # shellcheck disable=SC2086  # the parameters are meant to split into words
    "$PYTHON" scripts/run_notebook.py "$notebook" -o "notebooks/build/$name.ipynb" ${CI_PARAMETERS[$name]:-}
    echo "papermill $name: $(($(date +%s) - started)) s"
    if "$PYTHON" scripts/student_edition.py --has-exercises "$notebook"; then
        started=$(date +%s)
        # It fails at the first unanswered exercise, as it should: the check below judges where and how. Through
        # run_notebook.py, as step 1, so each value is read as its parameter's type (papermill's own -p reads 00_05
        # as the int 5).
        # shellcheck disable=SC2086
        "$PYTHON" scripts/run_notebook.py "notebooks/student/$name.ipynb" -o "notebooks/build/student/$name.ipynb" \
            ${CI_PARAMETERS[$name]:-} > "notebooks/build/student/$name.log" 2>&1 || true
        "$PYTHON" scripts/student_edition.py --check-run "notebooks/build/student/$name.ipynb" ||
            { cat "notebooks/build/student/$name.log"; exit 1; }
        echo "student edition $name: $(($(date +%s) - started)) s"
    fi
done

started=$(date +%s)
"$PYTHON" -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env -o addopts="" notebooks/0*.ipynb
echo "nbval (all notebooks): $(($(date +%s) - started)) s"
