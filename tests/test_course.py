"""The course layer, outside the library: each exercise is marked so the tooling finds it; the student edition
(scripts/student_edition.py) removes exactly the solutions, keeps the checks, refuses any notebook that would lose or
leak an answer, and is committed as it generates it; the check helpers (notebooks/course_checks.py) say what differs,
without a traceback, also when the student's code raises; CI's verdict on an executed student edition is right. No
kernel here (grading, which runs one, is tests/test_grade.py); executing whole student editions is
scripts/run_notebooks.sh's job."""

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
PILOT = ROOT / "notebooks" / "01_projection_jacobians.ipynb"
STUDENT = ROOT / "notebooks" / "student"


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
    assert PILOT in WITH_EXERCISES


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
    student = student_edition.student_edition(instructor, path.name)
    solutions = set(student_edition.solution_cells(instructor))
    assert len(student.cells) == len(instructor.cells)
    assert student.cells[0].source.endswith(instructor.cells[0].source.split("\n# ", 1)[1]), "the title and what follows"
    assert "**Student edition.**" in student.cells[0].source and "Instructor edition" not in student.cells[0].source
    for index, (theirs, ours) in enumerate(zip(instructor.cells, student.cells)):
        assert _tags(theirs) == _tags(ours) and theirs.get("id") == ours.get("id")
        if index == 0:
            continue
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
    assert not (tmp_path / "checkpoints").is_symlink(), "outside the repository the lesson models are copied"
    assert all((tmp_path / "checkpoints" / path.name).read_bytes() == path.read_bytes() for path in shipped.glob("*.pt"))
    for path in tmp_path.glob("*.ipynb"):
        nbformat.validate(_read(path))
        assert "SOLUTION" not in path.read_text()


def test_the_committed_student_edition_is_what_the_generator_writes(tmp_path):
    """notebooks/student/ is committed (Colab and Binder open it at a revision); it must be a fresh generation."""
    with redirect_stdout(io.StringIO()):
        assert student_edition.main(["--output", str(tmp_path)]) == 0
    generated = sorted(path.name for path in tmp_path.glob("*.ipynb"))
    assert sorted(path.name for path in STUDENT.glob("*.ipynb")) == generated, "run python scripts/student_edition.py"
    for name in [*generated, "course_checks.py"]:
        assert (STUDENT / name).read_bytes() == (tmp_path / name).read_bytes(), \
            f"notebooks/student/{name} is stale: run python scripts/student_edition.py"
    link = STUDENT / "checkpoints"
    assert link.is_symlink() and link.readlink() == Path("../checkpoints"), "the lesson models, linked, not copied"


# ---- the generator refuses what would lose or leak an answer -------------------------------------------------------

def _instructor_copy(folder: Path, edit) -> Path:
    """The pilot, with ``edit(cells_by_id)`` applied, written to ``folder``/01_projection_jacobians.ipynb."""
    notebook = _read(PILOT)
    edit({cell.id: cell for cell in notebook.cells})
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / PILOT.name)
    return folder / PILOT.name


def _drop_markers(cells):
    cells["solution-1"].source = cells["solution-1"].source.replace("    ### BEGIN SOLUTION\n", "").replace(
        "    ### END SOLUTION\n", "")


def _lower_case(cells):
    cells["solution-1"].source = cells["solution-1"].source.replace("### BEGIN SOLUTION", "### begin solution")


def _markers_in_check(cells):
    cells["course-checks-check-close"].source = f"### BEGIN SOLUTION\n{cells['course-checks-check-close'].source}\n### END SOLUTION"


def _unclosed(cells):
    cells["solution-1"].source = cells["solution-1"].source.replace("    ### END SOLUTION\n", "")


def _end_first(cells):
    cells["solution-3"].source = "### END SOLUTION\nprediction = 'c'\n### BEGIN SOLUTION"


def _nested(cells):
    cells["solution-1"].source = cells["solution-1"].source.replace("### BEGIN SOLUTION", "### BEGIN SOLUTION\n    ### BEGIN SOLUTION")


def _hash_missing(cells):
    cells["solution-3"].source = cells["solution-3"].source.replace("### BEGIN SOLUTION", "# BEGIN SOLUTION")


@pytest.mark.parametrize("edit, cell, complaint", [
    (_drop_markers, "solution-1", "tagged 'solution' but has no '### BEGIN SOLUTION'"),
    (_lower_case, "solution-1", "'### begin solution' is not a marker"),
    (_markers_in_check, "course-checks-check-close", "solution markers in a check cell"),
    (_unclosed, "solution-1", "has no '### END SOLUTION'"),
    (_end_first, "solution-3", "'### END SOLUTION' outside a solution region"),
    (_nested, "solution-1", "'### BEGIN SOLUTION' inside a solution region"),
    (_hash_missing, "solution-3", "'# BEGIN SOLUTION' is not a marker"),
], ids=lambda value: value.__name__ if callable(value) else None)
def test_the_generator_refuses_a_notebook_that_would_lose_or_leak_an_answer(tmp_path, capsys, edit, cell, complaint):
    path = _instructor_copy(tmp_path / "instructor", edit)
    index = next(i for i, c in enumerate(_read(path).cells) if c.id == cell)
    assert student_edition.main([str(path), "--output", str(tmp_path / "student")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{PILOT.name}: cell {index} (id {cell})" in error and complaint in error, error
    assert not (tmp_path / "student").exists(), "nothing written"


def test_the_generator_refuses_to_write_over_the_instructor_notebooks(tmp_path, capsys):
    path = _instructor_copy(tmp_path, lambda cells: None)
    before = path.read_bytes()
    assert student_edition.main([str(path), "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "the instructor notebooks' folder" in error
    assert path.read_bytes() == before
    with pytest.raises(student_edition.EditionError, match="instructor notebooks' folder"):  # the repository's own
        student_edition._refuse_instructor_folder([path], ROOT / "notebooks" / "." )


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


def test_a_prediction_about_the_defaults_is_not_judged_on_a_run_with_other_parameters(capsys):
    choices = {"a": 1.0, "b": 0.5, "c": 0.03}
    course_checks.check_prediction("c", choices, 0.272, what="bone ratio", judged=False)
    out = capsys.readouterr().out
    assert out.startswith("not judged (parameters changed): bone ratio: you predicted (c); this run measured 0.272, i.e. (b)")
    with pytest.raises(AssertionError, match="answer with one of"):  # a non-option is refused in any run
        course_checks.check_prediction("z", choices, 0.272, what="bone ratio", judged=False)
    with pytest.raises(AssertionError, match=r"you predicted \(c\)"):  # and judged by default
        course_checks.check_prediction("c", choices, 0.272, what="bone ratio")


def test_a_failed_check_renders_as_its_message_alone_in_jupyter():
    """IPython shows an exception through its _render_traceback_ when it has one: the message, no traceback."""
    with pytest.raises(course_checks.CheckFailed) as raised:
        course_checks.check_close(np.zeros(2), np.ones(2), what="x", hint="add one")
    assert isinstance(raised.value, AssertionError)
    assert raised.value._render_traceback_() == str(raised.value).splitlines()
    assert raised.value._render_traceback_()[-1] == "  hint: add one"


def test_check_call_turns_a_broadcasting_error_of_the_students_code_into_the_hint():
    def index_instead_of_slice(points):  # the commonest mistake in 01's first exercise
        return points[..., :2] / points[..., 2]

    points = torch.rand(4, 17, 3, dtype=torch.float64) + 1
    with pytest.raises(course_checks.CheckFailed) as raised:
        course_checks.check_call(index_instead_of_slice, (points,), points[..., :2] / points[..., 2:3], what="Π_p",
                                 hint="points[..., 2:3]")
    message = str(raised.value)
    assert message.startswith("✗ Π_p: your code raised RuntimeError: The size of tensor a (2) must match")
    assert message.endswith("\n  hint: points[..., 2:3]") and message.count("\n") == 1


def test_check_call_compares_like_check_close_and_lets_an_unanswered_exercise_through(capsys):
    course_checks.check_call(lambda x: x * 2, (np.arange(3.0),), [0.0, 2.0, 4.0], what="double")
    assert capsys.readouterr().out.startswith("✓ double: matches")
    with pytest.raises(course_checks.CheckFailed, match="1 of 3 entries differ"):
        course_checks.check_call(lambda x: x * 2, (np.arange(3.0),), [0.0, 2.0, 5.0], what="double")

    def unanswered(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        course_checks.check_call(unanswered, (1,), 1, what="x")


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


def test_no_student_environment_installs_nbgrader():
    """nbgrader's Validate button called an untouched notebook a pass; the grading here is scripts/grade.py."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    assert not [r for r in requirements if r.lower().startswith("nbgrader")]
    for path in ("environment.yml", "postBuild", "scripts/setup.sh"):
        commands = [line for line in (ROOT / path).read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not [line for line in commands if "nbgrader" in line.lower()], path


def test_the_course_pages_tables_and_expected_answers_come_from_the_notebooks():
    """site/course.md and site/instructor_notes.md: every placeholder is filled, each lesson and exercise listed, and
    each exercise's expected answer is the ✓ line its check printed in the committed instructor edition."""
    course_pages = _load(ROOT / "site" / "course_pages.py", "course_pages")
    for page in ("course.md", "instructor_notes.md"):
        filled = course_pages.fill((ROOT / "site" / page).read_text())
        assert not course_pages.PLACEHOLDER.search(filled) and "<!-- generated" not in filled, page
    assert all(f"../notebooks/student/{path.name}" in course_pages.lessons() for path in NOTEBOOKS)
    exercises = sum(len(_exercises(_read(path))) for path in NOTEBOOKS)
    assert course_pages.graded().count("| 1 |") == exercises
    for path in WITH_EXERCISES:
        answers = course_pages.expected_answers(path.stem).splitlines()
        assert len(answers) == len(_exercises(_read(path))) and all("The check prints: ✓" in line for line in answers)
