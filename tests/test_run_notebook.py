"""scripts/run_notebook.py: every parameter listed, a typo or a bad type refused in one line before any kernel."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
SCRIPT = REPOSITORY / "scripts" / "run_notebook.py"
NOTEBOOKS = sorted((REPOSITORY / "notebooks").glob("0*.ipynb"))


def _run(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *map(str, arguments)], capture_output=True, text=True, timeout=60)


def _parameter_lines(notebook: Path) -> list[str]:
    cell = next(c for c in json.loads(notebook.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    return [line for line in "".join(cell["source"]).splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_help_notebook_lists_every_parameter_of_the_cell(notebook):
    result = _run(notebook, "--help-notebook")
    assert result.returncode == 0, result.stderr
    names = [line.split(":")[0] for line in _parameter_lines(notebook)]
    listed = [line.split(":")[0].strip() for line in result.stdout.splitlines()[1:]]
    assert listed == names and len(names) >= 5


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_papermill_itself_lists_every_parameter_too(notebook):
    papermill = pytest.importorskip("papermill.inspection")
    names = [line.split(":")[0] for line in _parameter_lines(notebook)]
    assert list(papermill.inspect_notebook(str(notebook))) == names


@pytest.mark.parametrize("arguments, expected", [
    (("-p", "lamda", "0.6"), "has no parameter 'lamda' (did you mean 'lam'?)"),
    (("-p", "epochs", "5.5"), "parameter epochs must be int, got '5.5'"),
    (("-p", "lam", "0.5x"), "parameter lam must be float, got '0.5x'"),
])  # fmt: skip
def test_a_typo_or_a_bad_type_is_one_line_and_exit_2_before_any_kernel(arguments, expected, tmp_path):
    output = tmp_path / "out.ipynb"
    result = _run(REPOSITORY / "notebooks" / "03_reprojection_loss.ipynb", *arguments, "-o", output)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert not output.exists()
