"""Writes the first code cell of every notebook, the one that installs the kit on Colab (and does nothing elsewhere),
from pyproject.toml: the repository address of `[project.urls]` at the tag of this version (`v` + version), the
slim install (the library's runtime dependencies), plus what that notebook needs beyond them, and pip's output shown
only if it fails. tests/test_notebooks.py checks that every notebook's cell is what this script writes.

Colab already has torch, numpy, matplotlib, plotly, tqdm and ipywidgets 7 (it does not support ipywidgets 8, so the
`[notebooks]` extra, which asks for 8 for JupyterLab 4, is not what it should install). A notebook with an
interactive view asks for `ipywidgets` unpinned, which Colab's own satisfies. Files that live beside the notebooks,
not in the package, are downloaded from the same tag into the notebook's folder: `course_checks.py` for a notebook
with exercises, each lesson checkpoint `checkpoints/<name>.pt` (scripts/lesson_checkpoints.py) that its code
names, and each table of the study (`studies/tables/<name>.json`, studies/units_lambda.py) it reads, into
`studies/tables/` beside it (the notebooks look for that folder from theirs upwards). Every address is built from
`[project.urls]` Repository, nowhere else.

Usage: python scripts/colab_install_cell.py [--check] [NOTEBOOK ...]   (default: notebooks/0*.ipynb)
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
# What a notebook's source must contain for it to need more than the library's runtime dependencies on Colab.
WIDGET_USES = ("frame_view_picker", "ipywidgets", "interact(")
# A lesson checkpoint, named in a notebook's code by its path relative to the notebook: Path("checkpoints/weak.pt").
LESSON_CHECKPOINT = re.compile(r"checkpoints/([\w-]+)\.pt")


def project() -> tuple[str, str]:
    """(repository address, version) from pyproject.toml."""
    metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return metadata["urls"]["Repository"], metadata["version"]


def raw_address(path: str, folder: str = "notebooks") -> str:
    """The address of ``<folder>/<path>`` in the repository at this version's tag, as a raw file."""
    repository, version = project()
    slug = repository.removeprefix("https://github.com/")
    return f"https://raw.githubusercontent.com/{slug}/v{version}/{folder}/{path}"


def study_tables(source: str) -> list[str]:
    """The study's tables (``studies/tables/<name>.json`` files of this repository) that a notebook's code names."""
    named = set(re.findall(r'"([\w-]+\.json)"', source))
    return sorted(name for name in named if (ROOT / "studies" / "tables" / name).exists())


def lesson_checkpoints(source: str) -> list[str]:
    """The names of the lesson checkpoints (``checkpoints/<name>.pt``) that a notebook's code names, sorted."""
    return sorted(set(LESSON_CHECKPOINT.findall(source)))


def install_cell(notebook) -> str:
    """The source of the install cell for this notebook."""
    repository, version = project()
    later = "".join(cell.source for cell in [cell for cell in notebook.cells if cell.cell_type == "code"][1:])
    checkpoints = lesson_checkpoints(later)
    tables = study_tables(later)
    requirements = [f"weakpose-lite @ git+{repository}@v{version}"]
    if any(use in later for use in WIDGET_USES):
        requirements.append("ipywidgets")
    lines = [
        *(["import os"] if checkpoints or tables else []),
        "import subprocess",
        "import sys",
        *(["import urllib.request"] if "course_checks" in later or checkpoints or tables else []),
        "",
        f"# On Colab: the kit at release {version} (the library and its runtime dependencies) and what this notebook",
        "# needs besides; anywhere else scripts/setup.sh (or Binder) has installed everything already.",
        'if "google.colab" in sys.modules:',
        f"    requirements = {requirements!r}".replace("'", '"'),
        '    pip = subprocess.run([sys.executable, "-m", "pip", "install", *requirements], capture_output=True, text=True)',
        "    if pip.returncode != 0:",
        '        raise RuntimeError(f"pip install failed:\\n{pip.stdout}\\n{pip.stderr}")',
    ]
    if "course_checks" in later:
        lines += [
            "    # the exercises' checks live beside the notebooks, not in the package",
            f'    urllib.request.urlretrieve("{raw_address("course_checks.py")}",',
            '                               "course_checks.py")',
        ]
    if checkpoints:
        lines += downloads("the trained lesson models too (scripts/lesson_checkpoints.py), about 1 MB each",
                           "checkpoints", checkpoints, "notebooks/checkpoints", ".pt")
    if tables:
        lines += downloads("the study's records (studies/units_lambda.py) that this notebook reads",
                           "studies/tables", tables, "studies/tables")
    return "\n".join(lines)


def downloads(comment: str, folder: str, names: list[str], source: str, suffix: str = "") -> list[str]:
    """The install cell's lines that fetch each ``<name><suffix>`` from ``<source>/`` at the release tag into
    ``folder/``."""
    return [
        f"    # {comment}",
        f'    os.makedirs("{folder}", exist_ok=True)',
        f"    for name in {names!r}:".replace("'", '"'),
        f'        urllib.request.urlretrieve(f"{raw_address("{name}" + suffix, source)}",',
        f'                                   f"{folder}/{{name}}{suffix}")',
    ]


def first_code_cell(notebook):
    return next(cell for cell in notebook.cells if cell.cell_type == "code")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a cell would change")
    arguments = parser.parse_args(argv)
    paths = arguments.notebooks or sorted((ROOT / "notebooks").glob("0*.ipynb"))
    stale = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        cell, expected = first_code_cell(notebook), install_cell(notebook)
        if cell.source == expected:
            continue
        stale.append(path.name)
        if not arguments.check:
            cell.source = expected
            nbformat.write(notebook, path)
            print(f"{path.name}: install cell rewritten")
    if arguments.check and stale:
        print(f"install cells out of date: {', '.join(stale)} (run python scripts/colab_install_cell.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
