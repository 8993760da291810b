"""scripts/clean_notebooks.py on made-up outputs: a finished progress bar stays as one line, one that stopped short
(even at a rounded "100%") goes, an interactive widget leaves a note instead of its raw repr, and a figure keeps its
look with a palette."""

import base64
import importlib.util
import io
from pathlib import Path

import nbformat
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("clean_notebooks", ROOT / "scripts" / "clean_notebooks.py")
clean_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(clean_notebooks)


def _cleaned(*outputs) -> list:
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("pass", outputs=list(outputs)))
    return clean_notebooks.clean(notebook, ROOT / "notebooks" / "made_up.ipynb").cells[0].outputs


def _stream(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def test_a_bar_is_finished_only_when_its_count_reaches_its_total():
    assert clean_notebooks.finished("L_M only: 100%|██████████| 12/12 [00:06<00:00, 2.13it/s]")
    assert not clean_notebooks.finished("reading: 100%|██████████| 1836/1841 [00:00<00:00, 2415.46file/s]")
    assert not clean_notebooks.finished("reading:  40%|████      | 4/10 [00:01<00:01, 4.0file/s]")


def test_a_bar_that_stopped_short_is_removed_and_a_finished_one_kept():
    short = _stream("reading: 100%|██████████| 1836/1841 [00:00<00:00, 2415.46file/s]\n")
    assert _cleaned(short, _stream("lifted 60 of 60 rows\n")) == [_stream("lifted 60 of 60 rows\n")]
    done = _stream("epochs: 100%|██████████| 12/12 [00:06<00:00, 2.13it/s]\n")
    assert _cleaned(done) == [done]


def test_an_interactive_widget_leaves_a_note_not_its_repr():
    widget = nbformat.v4.new_output("display_data", data={
        clean_notebooks.WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0},
        "text/plain": "interactive(children=(IntSlider(value=30, description='frame', max=239), ...))"})
    (note,) = _cleaned(widget)
    assert note.data == {"text/plain": clean_notebooks.WIDGET_NOTE}
    assert _cleaned(note) == [note], "cleaning twice changes nothing"
    del widget.data[clean_notebooks.WIDGET_VIEW]  # the repr an earlier cleaning left behind
    assert _cleaned(widget)[0].data == {"text/plain": clean_notebooks.WIDGET_NOTE}


def _figure_png() -> str:
    """A small matplotlib plot (lines, text, anti-aliasing) as base64 RGBA PNG, as Jupyter stores it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3, 2), dpi=80)
    axes.plot([0, 1, 2], [0, 1, 0.5], label="a line")
    axes.bar([0.5, 1.5], [0.3, 0.7], color="tab:orange")
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pixels(encoded: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB"), dtype=np.int16)


def test_a_figure_keeps_its_look_with_a_palette_and_a_second_pass_changes_nothing():
    original = _figure_png()
    stored = clean_notebooks.palette_png(original)
    assert Image.open(io.BytesIO(base64.b64decode(stored))).mode == "P"
    assert len(stored) < len(original)
    difference = np.abs(_pixels(stored) - _pixels(original))
    assert difference.shape == _pixels(original).shape
    assert difference.mean() < 1.0 and np.quantile(difference, 0.99) <= 8  # levels out of 255
    assert clean_notebooks.palette_png(stored) == stored
