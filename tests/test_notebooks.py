"""Static checks of the committed notebooks (no kernel): each opens with a Colab badge pointing at itself in the
repository named in pyproject.toml, installs the kit only on Colab (the cell scripts/colab_install_cell.py writes),
has a papermill ``parameters`` cell, imports only the kit, its declared dependencies and the course's helpers, names
the ``python3`` kernel, was committed executed, without errors, and clean (scripts/clean_notebooks.py: no widget
state, no progress bars, no local paths), with screen-sized figures, all notebooks together at most 1.2 MB.
Executing them is ``scripts/run_notebooks.sh``'s job."""

import ast
import base64
import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Python modules beside the notebooks that they may import: the course's helpers, outside the library.
LOCAL_MODULES = {path.stem for path in (ROOT / "notebooks").glob("*.py")}
TOTAL_LIMIT_BYTES = 1_200_000


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


clean_notebooks = _script("clean_notebooks")
colab_install_cell = _script("colab_install_cell")
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
    expected = colab_install_cell.colab_address(f"notebooks/{path.name}")  # the project's repository at REVISION
    first = _source(json.loads(path.read_text())["cells"][0])
    assert f"]({expected})" in first and "colab-badge.svg" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_first_code_cell_installs_the_kit_at_the_badges_revision_only_on_colab(path):
    first = _source(_cells(path, "code")[0])
    repository, revision = PYPROJECT["project"]["urls"]["Repository"], colab_install_cell.REVISION
    assert 'if "google.colab" in sys.modules:' in first and f"weakpose-lite @ git+{repository}@{revision}" in first
    assert "capture_output=True" in first and "pip.stdout" in first, "pip's output is shown when it fails"
    assert not any(line.lstrip().startswith(("!", "%")) for line in first.splitlines()), "plain Python only"
    assert first == colab_install_cell.install_cell(nbformat.read(path, as_version=4)), \
        "run python scripts/colab_install_cell.py"


def _lesson_checkpoints(path: Path) -> set[str]:
    """The names of the lesson checkpoints (checkpoints/<name>.pt beside the notebooks) that a notebook's code reads."""
    later = "".join(_source(cell) for cell in _cells(path, "code")[1:])
    return set(re.findall(r"checkpoints/([\w-]+)\.pt", later))


def _study_tables(path: Path) -> set[str]:
    """The study's tables (studies/tables/<name>.json in the repository) that a notebook's code reads."""
    later = "".join(_source(cell) for cell in _cells(path, "code")[1:])
    return {name for name in re.findall(r'"([\w-]+\.json)"', later) if (ROOT / "studies" / "tables" / name).exists()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_install_cell_fetches_only_from_the_project_repository_at_the_badges_revision(path):
    first = _source(_cells(path, "code")[0])
    repository, revision = PYPROJECT["project"]["urls"]["Repository"], colab_install_cell.REVISION
    tag = f"https://raw.githubusercontent.com/{repository.removeprefix('https://github.com/')}/{revision}/"
    raw, tables = f"{tag}notebooks/", f"{tag}studies/tables/"
    addresses = re.findall(r"https://[^\s\"',]+", first)
    assert all(address == f"{repository}@{revision}" or address.startswith((raw, tables)) for address in addresses), \
        addresses
    for name in sorted(_lesson_checkpoints(path)):
        assert f'"{name}"' in first and f"{raw}checkpoints/{{name}}.pt" in first, f"checkpoints/{name}.pt: not downloaded on Colab"
    for name in sorted(_study_tables(path)):
        assert f'"{name}"' in first and f"{tables}{{name}}" in first, f"studies/tables/{name}: not downloaded on Colab"


def test_the_lesson_checkpoints_the_notebooks_read_are_beside_them():
    folder = ROOT / "notebooks" / "checkpoints"
    if not folder.exists():
        pytest.skip("notebooks/checkpoints/ not written yet (python scripts/lesson_checkpoints.py)")
    names = set().union(*(_lesson_checkpoints(path) for path in NOTEBOOKS))
    assert not [name for name in sorted(names) if not (folder / f"{name}.pt").is_file()], "Colab would download nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_has_one_parameters_cell_after_the_imports(path):
    code = _cells(path, "code")
    tagged = [index for index, cell in enumerate(code) if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1
    assert all(not _imported_modules(_source(cell)) for cell in code[tagged[0]:]), "imports come before the parameters"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_imports_only_the_kit_its_dependencies_and_the_standard_library(path):
    allowed = _allowed_imports() | set(sys.stdlib_module_names) | LOCAL_MODULES
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
    claim_lines = [line for source in code for line in source.splitlines()
                   if line.startswith(("assert ", "claims.check("))]  # claims.check asserts at the defaults
    assert claim_lines, "claims are asserted"


def cell_outputs_text(path: Path, source: str) -> str:
    """The stdout a code cell with this source printed when committed."""
    cell = next(cell for cell in _cells(path, "code") if _source(cell) == source)
    return "".join("".join(output.get("text", "")) for output in cell["outputs"] if output["output_type"] == "stream")


# ---- committed clean and small (scripts/clean_notebooks.py) ------------------------------------------------------

def _outputs(path: Path) -> list[dict]:
    return [output for cell in _cells(path, "code") for output in cell["outputs"]]


def _output_text(output: dict) -> str:
    texts = [output.get("text", ""), *output.get("data", {}).values(), output.get("traceback", [])]
    return "".join("".join(text) if isinstance(text, list) else str(text) for text in texts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_without_widget_state_or_progress_bars(path):
    notebook = json.loads(path.read_text())
    assert "widgets" not in notebook["metadata"], "run python scripts/clean_notebooks.py"
    for output in _outputs(path):
        assert clean_notebooks.WIDGET_VIEW not in output.get("data", {}), "a widget view without its state"
        bars = [line for line in _output_text(output).splitlines() if clean_notebooks.PROGRESS_BAR.search(line)]
        assert all(clean_notebooks.finished(bar) for bar in bars), f"unfinished progress bars: {bars}"
        assert not _output_text(output).startswith("interactive(children="), "a widget's raw repr"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_no_local_absolute_path_in_outputs(path):
    for output in _outputs(path):
        assert not clean_notebooks.local_paths(_output_text(output)), "run python scripts/clean_notebooks.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_as_the_cleaning_step_leaves_it(path):
    notebook = nbformat.read(path, as_version=4)
    assert clean_notebooks.clean(notebook, path) == notebook, "run python scripts/clean_notebooks.py"


def _image_sizes(path: Path) -> list[int]:
    """The decoded bytes of each image output."""
    return [len(base64.b64decode("".join(output["data"][mime])))
            for output in _outputs(path) for mime in ("image/png", "image/jpeg") if mime in output.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_figure_is_sized_for_the_screen(path):
    for size in _image_sizes(path):
        assert size <= clean_notebooks.IMAGE_LIMIT_BYTES, f"a {size // 1000} KB image: make the figure smaller"


def test_all_notebooks_together_are_at_most_1_2_mb():
    sizes = {path.name: path.stat().st_size for path in NOTEBOOKS}
    total = sum(sizes.values())
    assert total <= TOTAL_LIMIT_BYTES, f"{total // 1000} KB in all (limit {TOTAL_LIMIT_BYTES // 1000} KB): {sizes}"
