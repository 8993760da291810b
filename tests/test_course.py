"""The course layer, outside the library: each exercise is marked so the tooling finds it, the student edition
(scripts/student_edition.py, nbgrader's ClearSolutions) removes exactly the solutions and keeps the checks, the check
helpers (notebooks/course_checks.py) say what differs, and CI's verdict on an executed student edition is right.
Executing the student editions is scripts/run_notebooks.sh's job; these tests need no kernel."""

import importlib.util
import io
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


student_edition = _load(ROOT / "scripts" / "student_edition.py", "student_edition")
course_checks = _load(ROOT / "notebooks" / "course_checks.py", "course_checks")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _exercises(notebook) -> list[tuple[int, int, int]]:
    """(statement, solution, check) cell indices of each exercise, in order."""
    found = []
    for solution in student_edition.solution_cells(notebook):
        statement = max((i for i in range(solution) if "exercise" in _tags(notebook.cells[i])), default=None)
        check = next((i for i in range(solution + 1, len(notebook.cells)) if "check" in _tags(notebook.cells[i])), None)
        found.append((statement, solution, check))
    return found


WITH_EXERCISES = [path for path in NOTEBOOKS if student_edition.solution_cells(_read(path))]


def test_the_pilot_notebook_has_exercises():
    assert ROOT / "notebooks" / "01_projection_jacobians.ipynb" in WITH_EXERCISES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_solution_regions_are_balanced_and_only_in_solution_cells(path):
    for index, cell in enumerate(_read(path).cells):
        lines = [line.strip() for line in cell.source.splitlines()]
        markers = [line for line in lines if line in (student_edition.BEGIN, student_edition.END)]
        assert markers == [student_edition.BEGIN, student_edition.END] * (len(markers) // 2), f"cell {index}: {markers}"
        assert bool(markers) == ("solution" in _tags(cell)), f"cell {index}: solution markers iff tagged 'solution'"
        assert not ("BEGIN SOLUTION" in cell.source and not markers), f"cell {index}: write the marker as {student_edition.BEGIN}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_each_exercise_is_a_statement_a_solution_and_a_check_that_gives_feedback(path):
    notebook = _read(path)
    exercises = _exercises(notebook)
    if not exercises:
        pytest.skip("no exercises yet")
    assert 2 <= len(exercises) <= 4, "2 to 4 exercises per notebook"
    previous_check = -1
    for statement, solution, check in exercises:
        assert statement is not None and statement > previous_check, f"solution cell {solution}: no 'exercise' statement of its own before it"
        assert notebook.cells[statement].cell_type == "markdown"
        assert check is not None, f"solution cell {solution}: no 'check' cell after it"
        assert "course_checks." in notebook.cells[check].source, f"check cell {check} gives no feedback through course_checks"
        previous_check = check
    checks = [i for i, cell in enumerate(notebook.cells) if "check" in _tags(cell)]
    assert checks == [check for _, _, check in exercises], "one check cell per exercise"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_student_edition_removes_the_solutions_and_keeps_everything_else(path):
    instructor = _read(path)
    student = student_edition.student_edition(instructor)
    solutions = set(student_edition.solution_cells(instructor))
    assert len(student.cells) == len(instructor.cells)
    for index, (theirs, ours) in enumerate(zip(instructor.cells, student.cells)):
        assert _tags(theirs) == _tags(ours)
        if index in solutions:
            assert student_edition.STUB in ours.source and "SOLUTION" not in ours.source
            removed = [line for line in theirs.source.splitlines() if line not in ours.source.splitlines()]
            assert removed, f"cell {index}: nothing was removed"
        else:
            assert ours.source == theirs.source, f"cell {index} changed"
        if ours.cell_type == "code":
            assert ours.outputs == [] and ours.execution_count is None
        assert "papermill" not in ours.metadata and "execution" not in ours.metadata
    assert "widgets" not in student.metadata and "papermill" not in student.metadata


def test_student_edition_command_writes_every_notebook_the_checks_and_the_lesson_models_beside_them(tmp_path):
    with redirect_stdout(io.StringIO()):
        assert student_edition.main(["--output", str(tmp_path)]) == 0
    expected = [path.name for path in NOTEBOOKS] + ["course_checks.py", "checkpoints"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(expected)
    shipped = ROOT / "notebooks" / "checkpoints"
    assert all((tmp_path / "checkpoints" / path.name).read_bytes() == path.read_bytes() for path in shipped.glob("*.pt"))
    for path in tmp_path.glob("*.ipynb"):
        nbformat.validate(_read(path))
        assert "### BEGIN SOLUTION" not in path.read_text()


def test_solutions_and_checks_of_the_pilot_pass_in_the_instructor_edition():
    """The instructor edition's own answers pass their checks, here without a kernel: the pilot's code cells up to
    its last check run in one namespace (papermill runs the whole notebook in scripts/run_notebooks.sh)."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    notebook = _read(ROOT / "notebooks" / "01_projection_jacobians.ipynb")
    exercises = _exercises(notebook)
    last = exercises[-1][2]
    code = [cell.source for cell in notebook.cells[:last + 1] if cell.cell_type == "code"][1:]  # not the install cell
    namespace = {}
    with redirect_stdout(io.StringIO()) as printed:
        for source in code:
            exec(compile(source, "<notebook 01>", "exec"), namespace)
    plt.close("all")
    assert printed.getvalue().count("✓") == len(exercises)


# ---- course_checks: the messages say what differs ----------------------------------------------------------------

def test_check_close_passes_and_prints_a_tick_for_a_matching_tensor(capsys):
    reference = torch.linspace(0, 1, 12, dtype=torch.float64).reshape(4, 3)
    course_checks.check_close(reference.clone().requires_grad_(True) * 1, reference, what="values")
    assert capsys.readouterr().out.startswith("✓ values: matches, shape (4, 3)")


def test_check_close_names_the_shapes_when_they_differ():
    with pytest.raises(AssertionError, match=re.escape("shape (4, 3) (yours) differs from (4, 2) (expected)")):
        course_checks.check_close(np.zeros((4, 3)), np.zeros((4, 2)), what="Π_p", hint="drop X_z")


def test_check_close_names_the_worst_entry_and_the_hint():
    reference = np.arange(6.0).reshape(2, 3)
    wrong = reference.copy()
    wrong[1, 2] += 0.5
    with pytest.raises(AssertionError) as raised:
        course_checks.check_close(wrong, reference, what="J", hint="the third column")
    message = str(raised.value)
    assert "1 of 6 entries differ" in message and "index (1, 2)" in message and "yours 5.5, expected 5" in message
    assert "hint: the third column" in message


def test_check_close_reports_none_and_nans():
    with pytest.raises(AssertionError, match="forget to `return`"):
        course_checks.check_close(None, np.zeros(3), what="x")
    with pytest.raises(AssertionError, match="1 NaN entries"):
        course_checks.check_close(np.array([0.0, np.nan]), np.zeros(2), what="x")


def test_check_prediction_takes_the_nearest_choice_on_a_log_scale(capsys):
    choices = {"a": 3, "b": 300, "c": 3_000, "d": 300_000}
    course_checks.check_prediction("C", choices, 3015.0, what="ratio")
    assert capsys.readouterr().out.startswith("✓ ratio: (c)")
    with pytest.raises(AssertionError, match=r"you predicted \(b\).*measured 3.02e\+03, i.e. \(c\)"):
        course_checks.check_prediction("b", choices, 3015.0, what="ratio", why="1/X_z²")
    with pytest.raises(AssertionError, match="answer with one of"):
        course_checks.check_prediction("e", choices, 3015.0, what="ratio")


# ---- CI's verdict on an executed student edition -----------------------------------------------------------------

def _executed(cells: list[tuple[list[str], int | None, str | None]]):
    """A fake executed notebook: per code cell its tags, execution count and the ename it raised (or None)."""
    notebook = nbformat.v4.new_notebook()
    for tags, count, ename in cells:
        cell = nbformat.v4.new_code_cell("pass", metadata={"tags": tags})
        cell.execution_count = count
        if ename:
            cell.outputs = [nbformat.v4.new_output("error", ename=ename, evalue="", traceback=[])]
        notebook.cells.append(cell)
    return notebook


def test_check_run_accepts_a_stop_at_the_first_solution_cell():
    ran = _executed([([], 1, None), (["solution"], 2, "NotImplementedError"), (["check"], None, None)])
    assert "stopped at its first exercise" in student_edition.check_run(ran)


@pytest.mark.parametrize("cells, complaint", [
    ([([], 1, "NameError"), (["solution"], None, None)], "got NameError from code cell 0"),
    ([([], 1, None), (["solution"], 2, None), (["check"], 3, "AssertionError")], "got AssertionError from code cell 2"),
    ([([], 1, None), (["solution"], 2, None)], "ran past its first exercise"),
    ([([], None, None), (["solution"], 2, "NotImplementedError")], "did not run"),
    ([([], 1, None), ([], 2, "ValueError")], "no exercise, yet code cell 1 raised ValueError"),
])
def test_check_run_rejects_any_other_outcome(cells, complaint):
    with pytest.raises(AssertionError, match=re.escape(complaint)):
        student_edition.check_run(_executed(cells))


def test_check_run_accepts_a_notebook_without_exercises_that_ran_to_the_end():
    assert student_edition.check_run(_executed([([], 1, None), ([], 2, None)])) == "ran to the end (no exercise yet)"


def test_student_editions_are_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "notebooks/student/" in ignored
