"""The parts of the site's course pages that are read from the notebooks, so that they say what the notebooks say:
each lesson's title, prerequisites, objectives and time (from its first cell), its exercises (cells tagged
`exercise`, `solution`, `check`: scripts/student_edition.py), and each exercise's expected answer, the "✓ ..." line
its check printed in the committed instructor edition. site/conf.py replaces each `<!-- generated: NAME -->` line of
site/course.md and site/instructor_notes.md with what NAME gives here."""

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
PLACEHOLDER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.M)


def _first_cell(notebook) -> str:
    return notebook.cells[0].source


def _field(text: str, name: str) -> str:
    """The text after **name** in the first cell, up to the next bold field or blank line, on one line."""
    found = re.search(rf"\*\*{name}[.:]?\*\*:?(.*?)(?=\*\*[A-Z]|\n\n|$)", text, re.S)
    return " ".join(found.group(1).split()) if found else ""


def _title(text: str) -> str:
    return next(line[2:] for line in text.splitlines() if line.startswith("# "))


def _objectives(text: str) -> list[str]:
    found = re.search(r"\*\*Learning objectives\.\*\*.*?\n((?:- .*\n?(?: {2}.*\n?)*)+)", text)
    items = re.split(r"\n- ", "\n" + found.group(1).strip()) if found else []
    return [" ".join(item.split()).rstrip(";.") for item in items if item.strip()]


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def exercises(notebook) -> list[dict]:
    """Per exercise: its statement's first line, the solution cell, and the "✓" lines its check printed."""
    found, statement, solution = [], "", None
    for cell in notebook.cells:
        if "exercise" in _tags(cell):
            statement = cell.source
        elif "solution" in _tags(cell):
            solution = cell
        elif "check" in _tags(cell) and solution is not None:
            printed = "".join(output.get("text", "") for output in cell.get("outputs", []))
            ticks = [line.removeprefix("✓ ") for line in printed.splitlines() if line.startswith("✓")]
            found.append({"statement": _statement(statement, len(found) + 1), "solution": solution.source,
                          "expected": ticks})
            solution = None
    return found


def _statement(markdown: str, number: int) -> str:
    """"Exercise 2 (predict, then run)"-like: the bold opening of the statement, else "exercise N"."""
    bold = re.findall(r"\*\*(.+?)\*\*", markdown)
    opening = next((text.rstrip(".") for text in bold if text.lower().startswith(("exercise", "predict"))), None)
    return opening or f"exercise {number}"


def _page(path: Path, student: bool = False) -> str:
    return f"../notebooks/{'student/' if student else ''}{path.name}"


def lessons() -> str:
    """A table of the lessons: title with both editions, prerequisites, time to run, exercises."""
    rows = ["| lesson | prerequisites | time to run | exercises (1 point each) |", "|---|---|---|---|"]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        text = _first_cell(notebook)
        rows.append(f"| {_title(text)} ([student edition]({_page(path, True)}), [instructor edition]({_page(path)}))"
                    f" | {_field(text, 'Prerequisites')} | {_field(text, 'Time')} | {len(exercises(notebook))} |")
    return "\n".join(rows)


def objectives() -> str:
    """Each lesson's learning objectives, as its first cell states them."""
    parts = []
    for path in NOTEBOOKS:
        text = _first_cell(nbformat.read(path, as_version=4))
        parts += [f"**{_title(text)}**", "", *(f"- {item}" for item in _objectives(text)), ""]
    return "\n".join(parts)


def graded() -> str:
    """Every graded exercise: lesson, number, statement; one point each."""
    rows = ["| lesson | exercise | point |", "|---|---|---|"]
    for path in NOTEBOOKS:
        for number, exercise in enumerate(exercises(nbformat.read(path, as_version=4)), 1):
            rows.append(f"| {path.stem} | {number}: {exercise['statement']} | 1 |")
    return "\n".join(rows)


def expected_answers(stem: str) -> str:
    """The expected answer of each exercise of one lesson: its check's ✓ lines in the instructor edition."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    lines = []
    for number, exercise in enumerate(exercises(notebook), 1):
        letters = re.findall(r'^(\w+) = "([a-d])"$', exercise["solution"], re.M)
        answer = f" Answer: {', '.join(f'`{name} = {letter!r}`' for name, letter in letters)}." if letters else ""
        printed = "; ".join(f"✓ {tick}" for tick in exercise["expected"]) or "(not executed)"
        lines.append(f"{number}. *{exercise['statement']}.*{answer} The check prints: {printed}")
    return "\n".join(lines)


def generated(name: str) -> str:
    if name.startswith("answers-"):
        return expected_answers(name.removeprefix("answers-"))
    return {"lessons": lessons, "objectives": objectives, "graded": graded}[name]()


def fill(source: str) -> str:
    """``source`` with each placeholder line replaced by what it names."""
    return PLACEHOLDER.sub(lambda match: generated(match.group(1)), source)
