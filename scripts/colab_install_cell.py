"""Writes what every notebook opens with, from pyproject.toml and one revision: the header of its first (markdown)
cell, a Colab badge that opens this notebook and a line saying which edition it is (the instructor edition links the
student edition; scripts/student_edition.py writes the student's header with the same function), and its first code
cell, the one that installs the kit on Colab (and does nothing elsewhere): the repository of `[project.urls]` at
REVISION, the slim install (the library's runtime dependencies), plus what that notebook needs beyond them, and pip's
output shown only if it fails. Every address (badges, Binder, the install, the downloads) is built here from
`[project.urls]` Repository and REVISION, so the notebook Colab opens and the code it installs cannot drift apart;
tests/test_project.py checks every link in the README, the site and both editions against them, and
tests/test_notebooks.py that every notebook's cells are what this script writes.

Colab already has torch, numpy, matplotlib, plotly, tqdm and ipywidgets 7 (it does not support ipywidgets 8, so the
`[notebooks]` extra, which asks for 8 for JupyterLab 4, is not what it should install). A notebook with an
interactive view asks for `ipywidgets` unpinned, which Colab's own satisfies. Files that live beside the notebooks,
not in the package, are downloaded from the same revision into the notebook's folder: `course_checks.py` for a
notebook with exercises, each lesson checkpoint `checkpoints/<name>.pt` (scripts/lesson_checkpoints.py) that its code
names, and each table of the study (`studies/tables/<name>.json`, studies/units_lambda.py) it reads, into
`studies/tables/` beside it (the notebooks look for that folder from theirs upwards).

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
# The one revision that every badge, Binder link, install and download names: the branch, which always exists (a
# release tag would be set here once it is pushed; installing a tag that does not exist fails on Colab).
REVISION = "main"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def project() -> tuple[str, str]:
    """(repository address, version) from pyproject.toml."""
    metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return metadata["urls"]["Repository"], metadata["version"]


def slug() -> str:
    """owner/name of the repository."""
    return project()[0].removeprefix("https://github.com/")


def raw_address(path: str, folder: str = "notebooks") -> str:
    """The address of ``<folder>/<path>`` in the repository at REVISION, as a raw file."""
    return f"https://raw.githubusercontent.com/{slug()}/{REVISION}/{folder}/{path}"


def colab_address(path: str) -> str:
    """The Colab address that opens the notebook ``path`` (relative to the repository) at REVISION."""
    return f"https://colab.research.google.com/github/{slug()}/blob/{REVISION}/{path}"


def binder_address(folder: str) -> str:
    """The Binder address that opens JupyterLab on ``folder`` (relative to the repository) at REVISION."""
    return f"https://mybinder.org/v2/gh/{slug()}/{REVISION}?urlpath=lab/tree/{folder}"


def header(name: str, student: bool) -> str:
    """The lines before the title of notebook ``name`` (its file name): the Colab badge of this edition and a line
    saying which edition it is."""
    if student:
        return (f"[![Open In Colab]({COLAB_BADGE})]({colab_address(f'notebooks/student/{name}')})\n\n"
                "**Student edition.** Write your answer in each cell that says `raise NotImplementedError()`; the "
                "check after it prints ✓, or what differs and a hint. "
                f"`python scripts/check_notebook.py notebooks/student/{name}` checks every exercise at once.")
    return (f"[![Open In Colab]({COLAB_BADGE})]({colab_address(f'notebooks/{name}')})\n\n"
            "**Instructor edition**, with the solutions. Students open the "
            f"[student edition](student/{name}) ([Colab]({colab_address(f'notebooks/student/{name}')})).")


def set_header(notebook, name: str, student: bool) -> bool:
    """Writes ``header(name, student)`` before the title (the first line starting with "# ") of the notebook's first
    cell, which must be markdown; returns whether it changed."""
    cell = notebook.cells[0]
    lines = cell.source.splitlines()
    title = next((number for number, line in enumerate(lines) if line.startswith("# ")), None)
    if cell.cell_type != "markdown" or title is None:
        raise ValueError(f"{name}: the first cell must be markdown with a '# ' title, for the edition's header")
    source = "\n".join([header(name, student), "", *lines[title:]])
    changed, cell.source = source != cell.source, source
    return changed


def study_tables(source: str) -> list[str]:
    """The study's tables (``studies/tables/<name>.json`` files of this repository) that a notebook's code names."""
    named = set(re.findall(r'"([\w-]+\.json)"', source))
    return sorted(name for name in named if (ROOT / "studies" / "tables" / name).exists())


def lesson_checkpoints(source: str) -> list[str]:
    """The names of the lesson checkpoints (``checkpoints/<name>.pt``) that a notebook's code names, sorted."""
    return sorted(set(LESSON_CHECKPOINT.findall(source)))


def install_cell(notebook) -> str:
    """The source of the install cell for this notebook."""
    repository = project()[0]
    later = "".join(cell.source for cell in [cell for cell in notebook.cells if cell.cell_type == "code"][1:])
    checkpoints = lesson_checkpoints(later)
    tables = study_tables(later)
    requirements = [f"weakpose-lite @ git+{repository}@{REVISION}"]
    if any(use in later for use in WIDGET_USES):
        requirements.append("ipywidgets")
    lines = [
        *(["import os"] if checkpoints or tables else []),
        "import subprocess",
        "import sys",
        *(["import urllib.request"] if "course_checks" in later or checkpoints or tables else []),
        "",
        f"# On Colab: the kit at {REVISION}, the revision this notebook was opened from (the library and its runtime",
        "# dependencies), and what this notebook needs besides; anywhere else scripts/setup.sh (or Binder) has",
        "# installed everything already.",
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
    """The install cell's lines that fetch each ``<name><suffix>`` from ``<source>/`` at REVISION into ``folder/``."""
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
        changed = set_header(notebook, path.name, student=False) | (cell.source != expected)
        if not changed:
            continue
        stale.append(path.name)
        if not arguments.check:
            cell.source = expected
            nbformat.write(notebook, path)
            print(f"{path.name}: header and install cell rewritten")
    if arguments.check and stale:
        print(f"headers or install cells out of date: {', '.join(stale)} (run python scripts/colab_install_cell.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
