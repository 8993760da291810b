"""The student edition of the instructor notebooks, and CI's check that it stops at its first exercise.

An exercise is three cells: a markdown statement tagged `exercise`, a code cell tagged `solution` whose answer lies
between `### BEGIN SOLUTION` and `### END SOLUTION`, and a code cell tagged `check` that calls `course_checks`
(notebooks/course_checks.py). The student edition replaces each solution region with `# YOUR CODE HERE` and
`raise NotImplementedError()` (indented as the marker was), keeps the checks, clears every output and execution count, and opens with the student
edition's own Colab badge and banner (scripts/colab_install_cell.py writes both editions' headers). Beside the
notebooks: a copy of `course_checks.py`, and the lesson checkpoints (`checkpoints/`, which notebooks 04–06 load
instead of training) as a link to the instructor's folder inside the repository, as a copy elsewhere. Nothing but the
kit is needed to run it, so it runs on Colab and Binder as it is.

The generator refuses, with one line naming the notebook and the cell, anything that would lose or leak an answer:
an output folder that holds the instructor notebooks, a `solution` cell without markers, a marker spelt any other way
(`### begin solution`, `# BEGIN SOLUTION`), unbalanced or nested markers, and markers in a cell not tagged
`solution` (in a check cell they would delete the check). Why not nbgrader's `ClearSolutions`, which this replaced: it
takes all of these silently (a lower-case marker ships the answer, markers in a check cell delete it), and installing
nbgrader gives every student its Validate button, which calls an untouched notebook a pass; once the markers are
checked, clearing them is a few lines.

The student edition of the repository's notebooks is committed in notebooks/student/ (so Colab and Binder can open it
at a revision); tests/test_course.py checks that it is what this script writes.

Usage:
  python scripts/student_edition.py [NOTEBOOK ...] [--output FOLDER]   writes notebooks/student/ from
                                                                         notebooks/0*.ipynb by default
  python scripts/student_edition.py --has-exercises NOTEBOOK             exit 0 if it has an exercise, else 1
  python scripts/student_edition.py --check-run EXECUTED.ipynb           exit 0 if an executed student edition
      stopped with NotImplementedError in its first solution cell and nowhere before (or, without exercises, ran
      to the end without error); scripts/run_notebooks.sh runs it on papermill's output
"""

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling scripts, also when a test imports this file
import colab_install_cell  # noqa: E402  (each edition's header: badges and banner)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUTPUT = NOTEBOOKS / "student"
HELPERS = NOTEBOOKS / "course_checks.py"
LESSON_CHECKPOINTS = NOTEBOOKS / "checkpoints"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "raise NotImplementedError()"
YOUR_CODE = "# YOUR CODE HERE"  # above the stub: the two lines an exercise's comment asks to replace
# Anything that looks like a solution marker, in any spelling; only BEGIN and END exactly as above are accepted.
MARKER_LIKE = re.compile(r"#.*\b(begin|end)\s+solution\b", re.IGNORECASE)


class EditionError(ValueError):
    """A notebook the student edition cannot be written from; the message is one line naming notebook and cell."""


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def solution_cells(notebook) -> list[int]:
    """Indices (into notebook.cells) of the code cells tagged `solution`, in order."""
    return [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code" and "solution" in tags(cell)]


def _where(name: str, index: int, cell) -> str:
    return f"{name}: cell {index} (id {cell.get('id', '?')})"


def solution_regions(source: str, where: str) -> list[tuple[int, int]]:
    """(BEGIN line, END line) of each solution region of a cell's source, line numbers from 0; raises EditionError for
    a marker spelt otherwise, a BEGIN inside a region, an END outside one, or a region left open."""
    regions, begin = [], None
    for number, line in enumerate(source.splitlines()):
        marker = line.strip()
        if marker not in (BEGIN, END):
            if MARKER_LIKE.search(line):
                raise EditionError(f"{where}: line {number + 1} {marker!r} is not a marker; write {BEGIN!r} / {END!r}")
            continue
        if (marker == BEGIN) == (begin is not None):
            raise EditionError(f"{where}: line {number + 1} {marker!r} {'inside' if begin is not None else 'outside'} "
                               "a solution region; each region is one BEGIN, then one END")
        if marker == BEGIN:
            begin = number
        else:
            regions.append((begin, number))
            begin = None
    if begin is not None:
        raise EditionError(f"{where}: {BEGIN!r} on line {begin + 1} has no {END!r}")
    return regions


def cleared(source: str, regions: list[tuple[int, int]]) -> str:
    """The source with each region (markers included) replaced by YOUR_CODE and the stub, indented as its BEGIN
    marker."""
    lines = source.splitlines()
    for begin, end in reversed(regions):
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        lines[begin:end + 1] = [indent + YOUR_CODE, indent + STUB]
    return "\n".join(lines)


def _student_cell(cell, where: str):
    regions = solution_regions(cell.source, where)
    is_solution = "solution" in tags(cell)
    if is_solution and cell.cell_type != "code":
        raise EditionError(f"{where}: a {cell.cell_type} cell tagged 'solution'; only code cells hold solutions")
    if is_solution and not regions:
        raise EditionError(f"{where}: tagged 'solution' but has no {BEGIN!r} ... {END!r}; its answer would ship")
    if regions and not is_solution:
        kind = "a check cell" if "check" in tags(cell) else "a cell not tagged 'solution'"
        raise EditionError(f"{where}: solution markers in {kind}; they would delete its code from the student edition")
    if regions:
        cell.source = cleared(cell.source, regions)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    cell.metadata.pop("papermill", None)
    cell.metadata.pop("execution", None)
    return cell


def student_edition(notebook, name: str = "notebook"):
    """The student edition of an instructor notebook ``name`` (its file name): solutions cleared, checks kept, no
    outputs, the student edition's header; raises EditionError if a solution could be lost or leak."""
    notebook = nbformat.from_dict(notebook)
    notebook.cells = [_student_cell(cell, _where(name, index, cell)) for index, cell in enumerate(notebook.cells)]
    for key in ("papermill", "widgets"):
        notebook.metadata.pop(key, None)
    colab_install_cell.set_header(notebook, name, student=True)
    return notebook


def _refuse_instructor_folder(paths: list[Path], output: Path) -> None:
    inputs = {path.resolve().parent for path in paths} | {NOTEBOOKS.resolve()}
    if output.resolve() in inputs:
        raise EditionError(f"--output {output}: the instructor notebooks' folder; the student edition would overwrite "
                           "their solutions (write it to notebooks/student/, the default, or a folder of its own)")


def _place_checkpoints(output: Path) -> None:
    """The lesson checkpoints beside the student edition: a relative link inside the repository, else a copy."""
    target = output / LESSON_CHECKPOINTS.name
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    if ROOT in output.resolve().parents:
        target.symlink_to(os.path.relpath(LESSON_CHECKPOINTS, output.resolve()), target_is_directory=True)
    else:
        shutil.copytree(LESSON_CHECKPOINTS, target)


def write_student_editions(paths: list[Path], output: Path) -> list[Path]:
    """Writes the student edition of each notebook into ``output`` (all checked before any is written)."""
    _refuse_instructor_folder(paths, output)
    editions = {output / path.name: student_edition(nbformat.read(path, as_version=4), path.name) for path in paths}
    output.mkdir(parents=True, exist_ok=True)
    for target, notebook in editions.items():
        nbformat.write(notebook, target)
    shutil.copy2(HELPERS, output / HELPERS.name)
    _place_checkpoints(output)
    return list(editions)


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
    try:
        written = write_student_editions(paths, arguments.output)
    except EditionError as error:
        print(f"student edition: {error}", file=sys.stderr)
        return 2
    print(f"student edition: {len(written)} notebooks, {HELPERS.name} and {LESSON_CHECKPOINTS.name}/ in {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
