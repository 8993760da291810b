"""The library's layout: imports go strictly downward through its layers, and no module is a hub.

Layers, lowest first (a module may import only from its own layer or lower, and never from a command line):
0. plain tools that import nothing of the kit: files, configs, progress, threads, parameters, paper, skeleton, dropout, shapes
1. the geometry core: cameras, then triangulation (which needs only cameras)
2. data: the dataset type, the file formats, the synthetic rig, the Panoptic build
3. views: a dataset -> what the network reads
4. the model, the losses, the metrics, the checkpoint format
5. inference: one predict, one evaluate, lifting
6. train; then results (train and report) and the poses file; plots
7. the command lines: reproduce, lift
"""

import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "weakpose_lite"
LAYERS = {
    "files": 0, "configs": 0, "progress": 0, "threads": 0, "parameters": 0, "paper": 0, "skeleton": 0, "dropout": 0,
    "shapes": 0,
    "cameras": 1, "triangulation": 1.5,
    "data": 2,
    "views": 3,
    "model": 4, "losses": 4, "metrics": 4, "checkpoints": 4,
    "inference": 5,
    "train": 6, "results": 6.5, "poses_file": 6.5, "plots": 6.5,
    "reproduce": 7, "lift": 7,
}  # fmt: skip
COMMAND_LINES = {"reproduce", "lift"}
MAX_LINES = 400


def _module(path: Path) -> str:
    """weakpose_lite/data/formats/openpose.py -> "data"; weakpose_lite/train.py -> "train"."""
    return path.relative_to(LIBRARY).parts[0].removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """The kit's modules (first component under weakpose_lite) that a file imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("weakpose_lite"):
            parts = node.module.split(".")
            names |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("weakpose_lite.")}
    return names


SOURCES = sorted(path for path in LIBRARY.rglob("*.py") if path.name != "__init__.py" or path.parent != LIBRARY)


def test_every_module_has_a_layer():
    assert {_module(path) for path in SOURCES} <= set(LAYERS)


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(LIBRARY)))
def test_imports_go_downward_only(path):
    module = _module(path)
    upward = {name for name in _imported(path) if LAYERS[name] > LAYERS[module]}
    assert not upward, f"{path.relative_to(LIBRARY)} (layer {LAYERS[module]}) imports from higher layers: {upward}"


def test_only_train_and_what_sits_above_it_imports_train():
    importers = {_module(path) for path in SOURCES if "train" in _imported(path) and _module(path) != "train"}
    assert importers <= {"results", "lift", "reproduce"}, importers


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(LIBRARY)))
def test_no_library_file_reaches_the_size_of_a_hub(path):
    assert len(path.read_text().splitlines()) < MAX_LINES
