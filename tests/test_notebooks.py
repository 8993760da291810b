"""Static checks of the committed notebooks (no kernel): each opens with a Colab badge pointing at itself in the
repository named in pyproject.toml, installs the kit only on Colab, has a papermill ``parameters`` cell, imports only
the kit and its declared dependencies, names the ``python3`` kernel, and was committed executed, without errors.
Executing them is ``scripts/run_notebooks.sh``'s job."""

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# distribution name -> import name, where they differ
IMPORT_NAMES = {"opencv-python-headless": "cv2", "weakpose-lite": "weakpose_lite"}


def _cells(path: Path, kind: str) -> list[dict]:
    return [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == kind]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _allowed_imports() -> set[str]:
    names = {re.split(r"[<>=!~\[ ;]", requirement)[0] for requirement in PYPROJECT["project"]["dependencies"]}
    return {IMPORT_NAMES.get(name, name.replace("-", "_")) for name in names} | {"weakpose_lite"}


def _imported_modules(source: str) -> set[str]:
    tree = ast.parse(source)
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    return {module.split(".")[0] for module in modules}


def test_the_numbered_notebooks_exist_in_order():
    assert [path.name[:3] for path in NOTEBOOKS] == ["00_", "01_", "02_", "03_", "04_", "05_", "06_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_first_cell_has_a_colab_badge_to_this_notebook_in_the_project_repository(path):
    repository = PYPROJECT["project"]["urls"]["Repository"].removeprefix("https://github.com/")
    expected = f"https://colab.research.google.com/github/{repository}/blob/main/notebooks/{path.name}"
    first = _source(json.loads(path.read_text())["cells"][0])
    assert f"]({expected})" in first and "colab-badge.svg" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_first_code_cell_installs_the_kit_only_on_colab(path):
    first = _source(_cells(path, "code")[0])
    repository = PYPROJECT["project"]["urls"]["Repository"]
    assert 'if "google.colab" in sys.modules:' in first and f"git+{repository}" in first
    assert not any(line.lstrip().startswith(("!", "%")) for line in first.splitlines()), "plain Python only"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_has_one_parameters_cell_after_the_imports(path):
    code = _cells(path, "code")
    tagged = [index for index, cell in enumerate(code) if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert all(not _imported_modules(_source(cell)) for cell in code[tagged[0]:]), "imports come before the parameters"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_imports_only_the_kit_its_dependencies_and_the_standard_library(path):
    allowed = _allowed_imports() | set(sys.stdlib_module_names)
    imported = set().union(*(_imported_modules(_source(cell)) for cell in _cells(path, "code")))
    assert imported <= allowed, f"not declared in pyproject.toml: {sorted(imported - allowed)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_kernel_is_python3(path):
    assert json.loads(path.read_text())["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_executed_in_order_without_errors(path):
    code = _cells(path, "code")
    counts = [cell["execution_count"] for cell in code]
    assert None not in counts and counts == sorted(counts), "every code cell executed, top to bottom"
    outputs = [output for cell in code for output in cell["outputs"]]
    assert outputs and not any(output["output_type"] == "error" for output in outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_lesson_cells_are_checked_and_volatile_ones_ignored(path):
    code = [_source(cell) for cell in _cells(path, "code")]
    checked = [source for source in code if source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked and all(cell_outputs_text(path, source) for source in checked), "checked cells print something"
    for source in code:
        if ".show()" in source or "frame_view_picker" in source:
            assert source.startswith("# NBVAL_IGNORE_OUTPUT"), f"plotly/widget cell not ignored:\n{source[:200]}"
    assert any(line.startswith("assert ") for source in code for line in source.splitlines()), "claims are asserted"


def cell_outputs_text(path: Path, source: str) -> str:
    """The stdout a code cell with this source printed when committed."""
    cell = next(cell for cell in _cells(path, "code") if _source(cell) == source)
    return "".join("".join(output.get("text", "")) for output in cell["outputs"] if output["output_type"] == "stream")
