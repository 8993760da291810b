"""Grading (scripts/grade.py, scripts/check_notebook.py): an untouched student notebook scores 0, a half-done one
part, a solved one all, with the instructor's checks whatever the student did to theirs; the feedback a student sees
is the check's message and hint, without a traceback. The submissions are made in the test from the instructor
edition of notebook 01 through the student-edition generator; the slow test runs each in a kernel up to its last
check (about 7 s apiece here)."""

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT / "notebooks" / "01_projection_jacobians.ipynb"
STUDENT = ROOT / "notebooks" / "student"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


student_edition = _load(ROOT / "scripts" / "student_edition.py", "student_edition")
grade = _load(ROOT / "scripts" / "grade.py", "grade")
check_notebook = _load(ROOT / "scripts" / "check_notebook.py", "check_notebook")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _submission(edit) -> nbformat.NotebookNode:
    """The pilot's student edition with ``edit(student_cells_by_id, instructor_cells_by_id)`` applied."""
    instructor = _read(PILOT)
    student = student_edition.student_edition(instructor, PILOT.name)
    edit({cell.id: cell for cell in student.cells}, {cell.id: cell for cell in instructor.cells})
    return student


def _untouched(mine, theirs):
    pass


def _answer(cell) -> str:
    """The instructor's solution as a student would write it: the answer, without the solution markers."""
    return "\n".join(line for line in cell.source.splitlines()
                     if line.strip() not in (student_edition.BEGIN, student_edition.END))


def _half_done(mine, theirs):
    """Exercise 1 with the [..., 2] mistake, exercise 2 solved, exercise 3 not answered."""
    mine["solution-1"].source = _answer(theirs["solution-1"]).replace("points[..., 2:3]", "points[..., 2]")
    mine["solution-2"].source = _answer(theirs["solution-2"])


def _solved(mine, theirs):
    for cell_id in ("solution-1", "solution-2", "solution-3"):
        mine[cell_id].source = _answer(theirs[cell_id])


def test_graded_copy_runs_the_instructors_checks_and_stops_at_the_last():
    def tampered(mine, theirs):
        mine["course-checks-check-prediction"].source = 'print("✓ the norm of Eq. 13")'

    instructor = _read(PILOT)
    graded = grade.graded_copy(_submission(tampered), instructor)
    ids = [cell.id for cell in graded.cells]
    assert ids == [cell.id for cell in instructor.cells][:ids.index("course-checks-check-prediction") + 1]
    assert graded.cells[-1].source == next(c for c in instructor.cells if c.id == graded.cells[-1].id).source
    assert [e.check_id for e in grade.exercises(instructor)] == ["exercise-points-torch-randn",
                                                                  "course-checks-check-close",
                                                                  "course-checks-check-prediction"]


@pytest.mark.slow
def test_grading_three_submissions_gives_0_1_and_3_points_and_the_feedback_without_a_traceback(tmp_path, capsys):
    """The instructor's one command on three students' copies of notebook 01."""
    submissions = tmp_path / "submissions"
    for student, edit in (("ada", _untouched), ("ben", _half_done), ("cy", _solved)):
        (submissions / student).mkdir(parents=True)
        nbformat.write(_submission(edit), submissions / student / PILOT.name)
    output, executed = tmp_path / "grades.csv", tmp_path / "executed"
    assert grade.main([str(submissions), "-o", str(output), "--executed", str(executed)]) == 0
    printed = capsys.readouterr()
    header = "student,01_projection_jacobians ex1,01_projection_jacobians ex2,01_projection_jacobians ex3,total,max"
    assert output.read_text().splitlines() == [header, "ada,0,0,0,0,3", "ben,0,1,0,1,3", "cy,1,1,1,3,3"]
    assert output.read_text() in printed.out
    assert "ada/01_projection_jacobians.ipynb exercise 1: ✗ not answered yet" in printed.err
    assert "ben/01_projection_jacobians.ipynb exercise 1: ✗ Π_p of 4 × 17 points: your code raised RuntimeError" in printed.err

    ran = {cell.id: cell for cell in _read(executed / "ben" / PILOT.name).cells}
    error = next(o for o in ran["exercise-points-torch-randn"].outputs if o.output_type == "error")
    assert error.ename == "CheckFailed" and error.traceback == error.evalue.splitlines(), "the message, no traceback"
    assert error.traceback[-1].startswith("  hint: divide (X_x, X_y) = points[..., :2] by X_z = points[..., 2:3]")
    assert any("✓ J_Πp of 4 × 17 points" in o.get("text", "") for o in ran["course-checks-check-close"].outputs)


def test_check_notebook_prints_a_verdict_per_exercise_and_fails_unless_all_pass(monkeypatch, capsys):
    exercises = grade.exercises(_read(PILOT))
    results = [grade.Result(exercises[0], False, "✗ Π_p: shape (2,) differs\n  hint: slice"),
               grade.Result(exercises[1], True, "✓ J_Πp: matches"),
               grade.Result(exercises[2], False, "not answered yet: the solution cell still raises NotImplementedError")]
    monkeypatch.setattr(check_notebook.grade, "grade_notebook", lambda path, timeout: results)
    assert check_notebook.main([str(STUDENT / PILOT.name)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "✗ exercise 1: Π_p: shape (2,) differs", "      hint: slice", "✓ exercise 2: J_Πp: matches",
        "✗ exercise 3: not answered yet: the solution cell still raises NotImplementedError",
        "01_projection_jacobians.ipynb: 1 of 3 exercises pass"]
