"""Grades submitted notebooks: each exercise's check, as the instructor wrote it, run on the student's answers.

Usage:
  python scripts/grade.py SUBMISSIONS [-o grades.csv] [--executed FOLDER]
      SUBMISSIONS/<student>/<notebook>.ipynb -> a CSV with one row per student and one column per exercise (1 point
      when its check passes, else 0), the total and the maximum; the same table is printed, and each exercise's
      verdict on stderr. --executed keeps each graded notebook as it ran (FOLDER/<student>/<notebook>.ipynb), with
      the feedback its student saw.
  python scripts/check_notebook.py NOTEBOOK.ipynb     one notebook, ✓ or ✗ and the check's message per exercise

How a notebook is graded: the instructor notebook of the same name (notebooks/<name>.ipynb) says which cells are the
exercises' solutions and checks (tags `solution` and `check`, scripts/student_edition.py). The submission's check
cells are replaced by the instructor's, matched by cell id (a check changed or deleted by the student counts as the
instructor's, or as missing), the cells after the last check are dropped (they teach and are not graded; some
train), and the rest runs in a fresh kernel (nbclient) in the instructor notebooks' folder, beside the instructor's
course_checks.py and lesson checkpoints, going on after errors. An exercise scores its point when its check cell ran
without an error, so an untouched student edition (every solution `raise NotImplementedError()`) scores 0. Like
any autograder, this runs the students' code: run it where that is acceptable.
"""

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@dataclass(frozen=True)
class Exercise:
    number: int  # from 1, in the notebook's order
    solution_id: str
    check_id: str


@dataclass(frozen=True)
class Result:
    exercise: Exercise
    passed: bool
    message: str  # the check's "✓ ..." line, or why it failed


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def exercises(instructor) -> list[Exercise]:
    """The exercises of an instructor notebook: each check cell with the solution cell before it."""
    found, solution = [], None
    for cell in instructor.cells:
        if "solution" in _tags(cell):
            solution = cell.id
        elif "check" in _tags(cell) and solution is not None:
            found.append(Exercise(len(found) + 1, solution, cell.id))
            solution = None
    return found


def graded_copy(submission, instructor):
    """The submission as it is run for grading: the instructor's check cells, nothing after the last check."""
    checks = {cell.id: cell for cell in instructor.cells if "check" in _tags(cell)}
    graded = nbformat.from_dict(submission)
    cells = []
    for cell in graded.cells:
        if cell.get("id") in checks:
            cell = nbformat.from_dict(checks[cell.id])
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    present = [index for index, cell in enumerate(cells) if cell.get("id") in checks]
    graded.cells = cells[:present[-1] + 1] if present else cells
    return graded


def _text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


def _error(cell):
    return next((output for output in cell.get("outputs", []) if output.output_type == "error"), None)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def judge(exercise: Exercise, executed) -> Result:
    """The result of one exercise in an executed graded copy."""
    cells = {cell.get("id"): cell for cell in executed.cells}
    check, solution = cells.get(exercise.check_id), cells.get(exercise.solution_id)
    if check is None:
        return Result(exercise, False, f"its check cell (id {exercise.check_id}) is missing from the notebook")
    error = _error(check)
    if error is None:
        ticks = [line for line in _text(check).splitlines() if line.startswith("✓")]
        return Result(exercise, True, "; ".join(ticks) or "passed")
    answered = _error(solution) if solution is not None else None
    if answered is not None and answered.ename == "NotImplementedError":
        return Result(exercise, False, "not answered yet: the solution cell still raises NotImplementedError")
    if error.ename == "CheckFailed":
        return Result(exercise, False, error.evalue.strip())
    if answered is not None:
        return Result(exercise, False, f"the solution cell raised {answered.ename}: {_first_line(answered.evalue)}")
    return Result(exercise, False, f"the check raised {error.ename}: {_first_line(error.evalue)}")


def grade_notebook(path: Path, instructor_folder: Path = NOTEBOOKS, timeout: int = 600,
                   executed: Path | None = None) -> list[Result]:
    """Runs the graded copy of the submitted notebook ``path`` and judges each exercise of its instructor edition;
    writes the graded copy as it ran to ``executed`` if given."""
    instructor_path = instructor_folder / path.name
    if not instructor_path.is_file():
        raise FileNotFoundError(f"{path}: no instructor notebook {instructor_path} of that name")
    instructor = nbformat.read(instructor_path, as_version=4)
    graded = graded_copy(nbformat.read(path, as_version=4), instructor)
    NotebookClient(graded, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(instructor_folder)}}).execute()
    if executed is not None:
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(graded, executed)
    return [judge(exercise, graded) for exercise in exercises(instructor)]


def column(notebook: str, exercise: Exercise) -> str:
    return f"{notebook} ex{exercise.number}"


def grade_folder(submissions: Path, instructor_folder: Path = NOTEBOOKS, timeout: int = 600,
                 executed: Path | None = None) -> list[dict]:
    """One row per student folder of ``submissions``: {"student", "<notebook> ex<n>": 0 or 1, ..., "total", "max"};
    a notebook a student did not submit scores 0 in each of its exercises. The graded notebooks as they ran go to
    ``executed``/<student>/ if given."""
    students = sorted(folder for folder in submissions.iterdir() if folder.is_dir())
    names = sorted({path.name for student in students for path in student.glob("*.ipynb")})
    unknown = [name for name in names if not (instructor_folder / name).is_file()]
    if unknown:
        raise FileNotFoundError(f"{submissions}: no instructor notebook for {', '.join(unknown)} in {instructor_folder}")
    columns = [column(Path(name).stem, exercise) for name in names
               for exercise in exercises(nbformat.read(instructor_folder / name, as_version=4))]
    rows = []
    for student in students:
        row = {"student": student.name, **dict.fromkeys(columns, 0)}
        for path in sorted(student.glob("*.ipynb")):
            kept = executed / student.name / path.name if executed else None
            for result in grade_notebook(path, instructor_folder, timeout, kept):
                row[column(path.stem, result.exercise)] = int(result.passed)
                message = _first_line(result.message).removeprefix("✓ ").removeprefix("✗ ")
                print(f"{student.name}/{path.name} exercise {result.exercise.number}: "
                      f"{'✓' if result.passed else '✗'} {message}", file=sys.stderr)
        row["total"], row["max"] = sum(row[name] for name in columns), len(columns)
        rows.append(row)
    return rows


def write_csv(rows: list[dict], output: Path) -> None:
    """Atomic: a temporary file beside ``output``, then renamed."""
    temporary = output.with_name(f".{output.name}.tmp")
    with temporary.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder with one folder of notebooks per student")
    parser.add_argument("-o", "--output", type=Path, default=Path("grades.csv"), help="default: grades.csv")
    parser.add_argument("--instructor", type=Path, default=NOTEBOOKS, help="the instructor edition (default: notebooks/)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    parser.add_argument("--executed", type=Path, help="keep each graded notebook as it ran, under this folder")
    arguments = parser.parse_args(argv)
    if not arguments.submissions.is_dir():
        print(f"grade: {arguments.submissions} is not a folder of student folders", file=sys.stderr)
        return 2
    try:
        rows = grade_folder(arguments.submissions, arguments.instructor.resolve(), arguments.timeout, arguments.executed)
    except FileNotFoundError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    if not rows:
        print(f"grade: no student folder in {arguments.submissions}", file=sys.stderr)
        return 2
    write_csv(rows, arguments.output)
    print(arguments.output.read_text(), end="")
    print(f"grades: {len(rows)} students in {arguments.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
