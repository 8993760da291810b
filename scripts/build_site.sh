#!/usr/bin/env bash
# Builds the static site into site/_build/html (ignored; open site/_build/html/index.html): the README, the
# notebooks README, the executed notebooks with their committed outputs (nothing is executed) and the READMEs of
# data_scripts/ and benchmarks/, with Sphinx + MyST-NB + sphinx-book-theme (site/conf.py). Offline, pip packages
# only; any Sphinx warning fails the build. Check it in a browser with scripts/check_site.py.
# Usage: scripts/build_site.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
rm -rf site/_build
started=$(date +%s)
"$PYTHON" -m sphinx -q -W --keep-going -b html -c site -d site/_build/doctrees . site/_build/html
for page in index site/course site/instructor_notes notebooks/README notebooks/01_projection_jacobians notebooks/student/01_projection_jacobians; do
    test -s "site/_build/html/$page.html" || { echo "site: $page.html is missing"; exit 1; }
done
echo "site: site/_build/html/index.html ($(($(date +%s) - started)) s)"
