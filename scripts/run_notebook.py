"""Run a notebook as a reproduction run: its parameters checked before a kernel starts, then papermill.

    python scripts/run_notebook.py notebooks/03_reprojection_loss.ipynb -p lam 0.6 -p epochs 4
    python scripts/run_notebook.py notebooks/04_full_training.ipynb --help-notebook

Each ``-p NAME VALUE`` must name a parameter of the notebook's ``parameters`` cell and read as its type (an unknown
name or a bad value: one line, exit status 2, within a second). The executed notebook is kept as the run's record
(default ``results/notebook_runs/<notebook>-<time>.ipynb``); at the end the command prints its path and the files
the run wrote under ``results/``. A failing cell: one line naming the cell and the error, exit status 1, the
notebook executed up to that cell kept. Training in the kernel uses one thread unless ``WEAKPOSE_THREADS`` is set.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SHOWN_FILES = 12  # of the files a run wrote; a notebook that exports a sequence writes hundreds
sys.path.insert(0, str(REPOSITORY))  # the kit, also where it is not installed into this Python

from weakpose_lite.parameters import Parameter, converted, parameters_cell  # noqa: E402


def read_parameters(notebook: Path) -> dict[str, Parameter]:
    """The notebook's parameters, from its cell tagged ``parameters``."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{notebook}: not a readable notebook ({error})") from error
    tagged = [cell for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{notebook}: expected one cell tagged 'parameters', found {len(tagged)}")
    return parameters_cell("".join(tagged[0]["source"]), f"{notebook.name}, parameters cell")


def chosen_values(parameters: dict[str, Parameter], pairs: list[list[str]], notebook: Path) -> dict[str, object]:
    """``-p NAME VALUE`` pairs -> {name: typed value}; an unknown name or a bad value is a one-line error."""
    values = {}
    for name, text in pairs:
        if name not in parameters:
            close = difflib.get_close_matches(name, parameters, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{notebook.name} has no parameter {name!r}{hint}; its parameters: {', '.join(parameters)}")
        values[name] = converted(parameters[name], text)
    return values


def describe(parameters: dict[str, Parameter], notebook: Path) -> str:
    """The ``--help-notebook`` text: each parameter with its type, default and help."""
    lines = [f"Parameters of {notebook}:"]
    lines += [f"  {p.name}: {p.type_name} (default {p.default!r})  {p.help}" for p in parameters.values()]
    return "\n".join(lines)


def execute(notebook: Path, output: Path, values: dict[str, object]) -> None:
    """papermill in the notebook's folder with the python3 kernel; a failing cell -> ``RuntimeError`` in one line."""
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters=values, cwd=str(notebook.parent), kernel_name="python3",
            progress_bar=sys.stderr.isatty(), log_output=False,
        )  # fmt: skip
    except papermill.PapermillExecutionError as error:
        raise RuntimeError(
            f"{notebook.name} failed in cell {error.cell_index} ({error.ename}: {' '.join(str(error.evalue).split())}); "
            f"executed up to there: {output}"
        ) from error


def written_since(started: float, folder: Path, record: Path) -> list[Path]:
    """Files under ``folder`` changed since ``started`` (the run's results), the record itself aside."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime >= started and p != record)


def run(arguments: argparse.Namespace) -> None:
    notebook = Path(arguments.notebook)
    parameters = read_parameters(notebook)
    if arguments.help_notebook:
        print(describe(parameters, notebook))
        return
    values = chosen_values(parameters, arguments.parameter, notebook)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = Path(arguments.output or REPOSITORY / "results" / "notebook_runs" / f"{notebook.stem}-{stamp}.ipynb")
    print(f"running {notebook} with {values or 'its default parameters'} ...", flush=True)
    started = time.time()
    execute(notebook.resolve(), output.resolve(), values)
    print(f"done in {time.time() - started:.0f} s; the executed notebook: {output}")
    written = written_since(started, REPOSITORY / "results", output.resolve())
    for path in written[:SHOWN_FILES]:
        print(f"  wrote {path.relative_to(REPOSITORY)}")
    if len(written) > SHOWN_FILES:
        print(f"  and {len(written) - SHOWN_FILES} more files under results/")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python scripts/run_notebook.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    parser.add_argument("notebook", help="the notebook to run, e.g. notebooks/03_reprojection_loss.ipynb")
    parser.add_argument("-o", "--output", help="the executed notebook (default: results/notebook_runs/NAME-TIME.ipynb)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter of the notebook and its value (repeatable)")  # fmt: skip
    parser.add_argument("--help-notebook", action="store_true", help="list the notebook's parameters and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        run(arguments)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
