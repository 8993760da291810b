"""The student edition of the instructor notebooks, and CI's check that it stops at its first exercise.

An exercise is three cells: a markdown statement tagged `exercise`, a code cell tagged `solution` whose answer lies
between `### BEGIN SOLUTION` and `### END SOLUTION`, and a code cell tagged `check` that calls `course_checks`
(notebooks/course_checks.py). The student edition is written by nbgrader's `ClearSolutions` preprocessor, which
replaces each solution region with `raise NotImplementedError()`; the checks stay as they are, every output and
execution count is cleared, and `course_checks.py` and the lesson checkpoints (`checkpoints/`, which notebooks 04–06
load instead of training) are copied beside the notebooks. Nothing but the kit is needed to run it (no nbgrader, no
grader object), so it runs on Colab and Binder as it is.

Usage:
  python scripts/student_edition.py [NOTEBOOK ...] [--output FOLDER]   writes notebooks/student/ (ignored) from
                                                                         notebooks/0*.ipynb by default
  python scripts/student_edition.py --has-exercises NOTEBOOK             exit 0 if it has an exercise, else 1
  python scripts/student_edition.py --check-run EXECUTED.ipynb           exit 0 if an executed student edition
      stopped with NotImplementedError in its first solution cell and nowhere before (or, without exercises, ran
      to the end without error); scripts/run_notebooks.sh runs it on papermill's output
"""

import argparse
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor
from nbgrader.preprocessors import ClearSolutions

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUTPUT = NOTEBOOKS / "student"
HELPERS = NOTEBOOKS / "course_checks.py"
LESSON_CHECKPOINTS = NOTEBOOKS / "checkpoints"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "raise NotImplementedError()"


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def solution_cells(notebook) -> list[int]:
    """Indices (into notebook.cells) of the code cells tagged `solution`, in order."""
    return [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code" and "solution" in tags(cell)]


def student_edition(notebook):
    """The student edition of an instructor notebook: solutions cleared, checks kept, no outputs."""
    # enforce_metadata=False: our cells carry tags, not nbgrader's gradebook metadata (we use no gradebook).
    notebook, resources = ClearSolutions(enforce_metadata=False).preprocess(nbformat.from_dict(notebook), {})
    notebook, _ = ClearOutputPreprocessor().preprocess(notebook, resources)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    for key in ("papermill", "widgets"):
        notebook.metadata.pop(key, None)
    return notebook


def write_student_editions(paths: list[Path], output: Path) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = output / path.name
        nbformat.write(student_edition(nbformat.read(path, as_version=4)), target)
        written.append(target)
    shutil.copy2(HELPERS, output / HELPERS.name)
    shutil.copytree(LESSON_CHECKPOINTS, output / LESSON_CHECKPOINTS.name, dirs_exist_ok=True)
    return written


def check_run(executed) -> str:
    """Raises AssertionError unless an executed student edition stopped exactly at its first unanswered exercise
    (or, without exercises, ran to the end); returns what it did. Code cells are counted from 0."""
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    errors = [(index, output) for index, cell in enumerate(code)
              for output in cell.get("outputs", []) if output.output_type == "error"]
    solutions = [index for index, cell in enumerate(code) if "solution" in tags(cell)]
    if not solutions:
        assert not errors, f"no exercise, yet code cell {errors[0][0]} raised {errors[0][1].ename}: {errors[0][1].evalue}"
        assert all(cell.execution_count for cell in code), "no exercise and no error, yet not every cell ran"
        return "ran to the end (no exercise yet)"
    first = solutions[0]
    assert errors, f"ran past its first exercise (code cell {first}) without a NotImplementedError"
    index, error = errors[0]
    assert index == first and error.ename == "NotImplementedError", (
        f"expected NotImplementedError from the first solution cell (code cell {first}), got {error.ename} "
        f"from code cell {index}: {error.evalue}\n{code[index].source[:300]}")
    before = [i for i, cell in enumerate(code[:first]) if not cell.execution_count]
    assert not before, f"code cells {before} before the first exercise did not run"
    return f"stopped at its first exercise (code cell {first}, id {code[first].get('id', '?')}) with NotImplementedError"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="instructor notebooks (default: notebooks/0*.ipynb)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="default: notebooks/student/")
    parser.add_argument("--has-exercises", type=Path, metavar="NOTEBOOK")
    parser.add_argument("--check-run", type=Path, metavar="EXECUTED")
    arguments = parser.parse_args(argv)
    if arguments.has_exercises:
        return 0 if solution_cells(nbformat.read(arguments.has_exercises, as_version=4)) else 1
    if arguments.check_run:
        try:
            print(f"student edition {arguments.check_run.stem}: "
                  f"{check_run(nbformat.read(arguments.check_run, as_version=4))}")
        except AssertionError as error:
            print(f"student edition {arguments.check_run.stem}: {error}", file=sys.stderr)
            return 1
        return 0
    paths = arguments.notebooks or sorted(NOTEBOOKS.glob("0*.ipynb"))
    written = write_student_editions(paths, arguments.output)
    print(f"student edition: {len(written)} notebooks, {HELPERS.name} and {LESSON_CHECKPOINTS.name}/ in {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
