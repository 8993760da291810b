"""Cleans executed notebooks before they are committed, in place: only metadata and outputs change, never a source.

- the widget state (`metadata.widgets`, hundreds of KB of tqdm models) is removed, and with it every
  `application/vnd.jupyter.widget-view+json` output, which could only show "model not found" without it; an
  interactive widget (not a progress bar) leaves WIDGET_NOTE instead of its raw repr
  ("interactive(children=(IntSlider(...");
- tqdm progress bars are removed, as widgets (their text/plain is the bar's first state, "0%|") and as text; of each
  cell's bars only the first one, if it finished (its count reached its total: "100%" alone is rounded, 1836/1841
  shows it too), stays as one line of text, e.g. "L_M only: 100%|██████████| 12/12 [00:06<00:00, 2.13it/s]";
- local absolute paths in outputs (/work/..., /tmp/..., /home/..., /root/...) become relative to the notebook's folder
  when they are inside this repository's folder or beside it, else `<local>/NAME`;
- the per-cell execution timestamps (`metadata.execution`, `metadata.papermill`) are dropped: they change on every run.

- PNG figures are stored with a palette of at most 256 colours (Pillow's median-cut quantisation): a matplotlib plot
  uses a few dozen colours plus their anti-aliased blends, so it looks the same at about 40 % of the bytes, which
  keeps the notebooks small enough to open quickly on Binder and GitHub. A PNG that already has a palette is kept.

A cell marked `# NBVAL_CHECK_OUTPUT` is never changed, since nbval compares its outputs with a fresh run: a progress
bar or a local path there is an error to fix in the notebook. Images over IMAGE_LIMIT_BYTES after the palette step
are reported (make the figure smaller and re-execute).

Usage: python scripts/clean_notebooks.py [NOTEBOOK ...]   (default: notebooks/0*.ipynb)
       python scripts/clean_notebooks.py --check [NOTEBOOK ...]   (writes nothing; exit 1 if one would change)
"""

import argparse
import base64
import copy
import html
import io
import os
import re
import sys
from pathlib import Path

import nbformat
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
IMAGE_LIMIT_BYTES = 150_000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CHECKED = "# NBVAL_CHECK_OUTPUT"
# A tqdm bar as text: "desc:  42%|████▏     | 5/12 [00:03<00:04, 1.6it/s]" (the description is optional).
PROGRESS_BAR = re.compile(r"\d{1,3}%\|[^|\n]*\| *\d+(?:\.\d+)?[kMG]?/\S+ \[")
FINISHED_BAR = re.compile(r"(?:^|\s)100%\|")
BAR_COUNT = re.compile(r"\| *(\d+(?:\.\d+)?[kMG]?)/(\d+(?:\.\d+)?[kMG]?) \[")
WIDGET_NOTE = "[an interactive widget (ipywidgets): run this cell in Jupyter to use it]"
# The text/plain of an ipywidgets container, e.g. interact's "interactive(children=(IntSlider(...": what an earlier
# cleaning kept of a widget whose view it removed.
WIDGET_REPR = re.compile(r"^(?:interactive|[A-Z]\w*Box)\(children=\(")
# An absolute path in one of the usual local roots, not inside a URL ("https://host/home/..." is left alone).
LOCAL_PATH = re.compile(r"(?<![\w.:/~-])/(?:work|tmp|home|root|Users|private|var/folders|content|mnt|scratch)(?:/[^\s\"'`<>|:;,()\[\]{}]*)?")
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def local_paths(text: str) -> list[str]:
    """The local absolute paths in a text."""
    return LOCAL_PATH.findall(text)


def relative_path(match: re.Match, notebook_folder: Path) -> str:
    path = Path(match.group(0))
    for base in (ROOT, ROOT.parent):  # the repository, then what lies beside it (../shared)
        if path == base or base in path.parents:
            return Path(os.path.relpath(path, notebook_folder)).as_posix()
    return f"<local>/{path.name}" if path.name else "<local>"


def _without_paths(text: str, notebook_folder: Path) -> str:
    return LOCAL_PATH.sub(lambda match: relative_path(match, notebook_folder), text)


def _terminal_lines(text: str) -> list[str]:
    """What a terminal shows of a text written with carriage returns: each line's last rewrite."""
    return [line.rsplit("\r", 1)[-1] for line in text.split("\n")]


def _bar_summary(view: dict, widget_state: dict) -> str | None:
    """The final text of a finished tqdm widget bar (an HBox of HTML, FloatProgress, HTML), or None."""
    model = widget_state.get(view.get("model_id", ""), {}).get("state", {})
    children = [widget_state.get(child.removeprefix("IPY_MODEL_"), {}).get("state", {})
                for child in model.get("children", [])]
    kinds = [child.get("_model_name") for child in children]
    if kinds != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    prefix, progress, suffix = children
    if progress.get("max") in (None, 0) or progress.get("value", 0) < progress["max"]:
        return None
    text = f"{prefix.get('value', '')}|{'█' * 10}|{suffix.get('value', '')}"
    text = " ".join(html.unescape(text).replace("\u2007", " ").replace("\u200b", "").split())
    return text if finished(text) else None  # tqdm may close a bar before redrawing its text


def finished(bar: str) -> bool:
    """Whether a tqdm bar's text shows it done: 100 % and its count equal to its total."""
    count = BAR_COUNT.search(bar)
    return bool(FINISHED_BAR.search(bar)) and count is not None and count.group(1) == count.group(2)


def palette_png(encoded: str) -> str:
    """A base64 PNG -> the same picture with a palette of at most 256 colours, base64 (unchanged if it has one)."""
    image = Image.open(io.BytesIO(base64.b64decode(encoded)))
    if image.mode == "P":
        return encoded
    buffer = io.BytesIO()
    image.convert("RGB").quantize(colors=256).save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _is_progress_widget(output: dict) -> bool:
    return WIDGET_VIEW in output.get("data", {}) and bool(PROGRESS_BAR.search(_text(output["data"].get("text/plain", ""))))


def _clean_outputs(outputs: list, widget_state: dict, notebook_folder: Path) -> list:
    cleaned, kept_summary = [], False
    for output in outputs:
        if _is_progress_widget(output):
            summary = None if kept_summary else _bar_summary(output["data"][WIDGET_VIEW], widget_state)
            if summary:
                cleaned.append(nbformat.v4.new_output("stream", name="stdout", text=summary + "\n"))
            kept_summary = True  # only the cell's first bar may leave a line, finished or not
            continue
        output = copy.deepcopy(output)
        if output["output_type"] == "stream":
            lines = []
            for line in _terminal_lines(_text(output["text"])):
                if PROGRESS_BAR.search(line):
                    if kept_summary or not finished(line):
                        kept_summary = True
                        continue
                    kept_summary = True
                lines.append(line)
            text = _without_paths("\n".join(lines), notebook_folder)
            if not text.strip("\n"):
                continue
            output["text"] = text
        if "data" in output:
            widget = output["data"].pop(WIDGET_VIEW, None) is not None
            if widget or WIDGET_REPR.match(_text(output["data"].get("text/plain", ""))):
                output["data"] = {"text/plain": WIDGET_NOTE}
            for mime in TEXT_MIMES:
                if mime in output["data"]:
                    output["data"][mime] = _without_paths(_text(output["data"][mime]), notebook_folder)
            if "image/png" in output["data"]:
                output["data"]["image/png"] = palette_png(_text(output["data"]["image/png"]))
        if output["output_type"] == "error":
            output["traceback"] = [_without_paths(line, notebook_folder) for line in output["traceback"]]
            output["evalue"] = _without_paths(output["evalue"], notebook_folder)
        cleaned.append(output)
    return cleaned


def clean(notebook: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """A cleaned copy of ``notebook`` (read from ``path``); raises ValueError for a checked cell that needs cleaning."""
    notebook = copy.deepcopy(notebook)
    folder = path.resolve().parent
    widget_state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if "papermill" in notebook.metadata:
        for key in ("input_path", "output_path"):
            if isinstance(notebook.metadata.papermill.get(key), str):
                notebook.metadata.papermill[key] = _without_paths(notebook.metadata.papermill[key], folder)
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        outputs = _clean_outputs(cell.outputs, widget_state, folder)
        if cell.source.startswith(CHECKED) and outputs != cell.outputs:
            raise ValueError(f"{path.name}: cell {index} is marked {CHECKED} but prints a progress bar, a widget or a "
                             "local path; nbval compares it with a fresh run, so fix the cell rather than its output")
        cell.outputs = outputs
    return notebook


def oversized_images(notebook: nbformat.NotebookNode) -> list[tuple[int, int]]:
    """(cell index, bytes) of each PNG/JPEG output over IMAGE_LIMIT_BYTES."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            for mime in ("image/png", "image/jpeg"):
                if mime in output.get("data", {}):
                    size = len(base64.b64decode(_text(output["data"][mime])))
                    if size > IMAGE_LIMIT_BYTES:
                        found.append((index, size))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook would change")
    arguments = parser.parse_args(argv)
    paths = arguments.notebooks or sorted((ROOT / "notebooks").glob("0*.ipynb"))
    unclean = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        try:
            cleaned = clean(notebook, path)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        before = path.stat().st_size
        for index, size in oversized_images(cleaned):
            print(f"{path.name}: cell {index} has a {size // 1000} KB image (limit {IMAGE_LIMIT_BYTES // 1000} KB): "
                  "make the figure smaller and re-execute", file=sys.stderr)
        if cleaned == notebook:
            continue
        unclean.append(path)
        if arguments.check:
            print(f"{path.name}: not clean (run python scripts/clean_notebooks.py {path})")
        else:
            nbformat.write(cleaned, path)
            print(f"{path.name}: {before // 1000} KB -> {path.stat().st_size // 1000} KB")
    return 1 if arguments.check and unclean else 0


if __name__ == "__main__":
    sys.exit(main())
