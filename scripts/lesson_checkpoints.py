#!/usr/bin/env python
"""The trained models the notebooks load instead of training (load-or-train), written by one seeded command.

    python scripts/lesson_checkpoints.py           # notebooks/checkpoints/{strong,weak}.pt: the main job's two models
    python scripts/lesson_checkpoints.py --check   # train them again and compare with the committed files

They are the strong and weak models of the main job (``reproduce.model_configs(ReproduceConfig())``: the paper's
λ = 0.8, the quick budget, the default synthetic set, seed 0), trained at once in two processes as the main job does;
each is the ``model.pt`` that ``results.train_and_report`` exports (the network without its optimiser state, about
1 MB). Notebooks 04–06 read them with ``train.load_or_train``, which trains afresh whenever a notebook asks for
another configuration or other data.

``--check`` trains both again into a temporary folder and compares them with the committed files: the same test
MPJPE within ``--tolerance`` (the weights agree to the bit on the machine that wrote them; another CPU may round the
last bits of its arithmetic differently). ``tests/test_lesson_checkpoints.py`` runs it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

from weakpose_lite.inference import evaluate
from weakpose_lite.reproduce import ReproduceConfig, model_configs, read_splits
from weakpose_lite.results import train_and_report_all
from weakpose_lite.train import load_model
from weakpose_lite.views import make_views

FOLDER = Path(__file__).resolve().parents[1] / "notebooks" / "checkpoints"
LESSON_MODELS = ("strong", "weak")


def write_lesson_checkpoints(folder: Path, processes: int = 2) -> dict[str, float]:
    """Train the lesson models and copy their ``model.pt`` to ``folder/<name>.pt``; -> test MPJPE (mm) by name."""
    configs = {name: model_configs(ReproduceConfig())[name] for name in LESSON_MODELS}
    splits = read_splits(ReproduceConfig(), "body")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch)
        records = train_and_report_all(configs, splits, output, processes, partial(read_splits, ReproduceConfig(), "body"))
        for name in LESSON_MODELS:
            shutil.copyfile(output / name / "model.pt", folder / f"{name}.pt")
            print(f"{name}: test MPJPE {records[name]['evaluation']['mpjpe_mm']:.2f} mm -> {folder / f'{name}.pt'}")
    return {name: records[name]["evaluation"]["mpjpe_mm"] for name in LESSON_MODELS}


def committed_mpjpe(folder: Path) -> dict[str, float]:
    """Test MPJPE (mm) of the lesson checkpoints in ``folder``."""
    test = read_splits(ReproduceConfig(), "body")["test"]
    views = make_views(test, with_targets=False)
    return {name: evaluate(load_model(folder / f"{name}.pt")[0], views, test.skeleton)["mpjpe_mm"] for name in LESSON_MODELS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="train again and compare with the committed files")
    parser.add_argument("--tolerance", type=float, default=0.03, help="relative test-MPJPE difference allowed")
    parser.add_argument("--processes", type=int, default=2, help="models trained at once")
    arguments = parser.parse_args(argv)
    if not arguments.check:
        write_lesson_checkpoints(FOLDER, arguments.processes)
        return 0
    committed = committed_mpjpe(FOLDER)
    with tempfile.TemporaryDirectory() as scratch:
        retrained = write_lesson_checkpoints(Path(scratch), arguments.processes)
    for name in LESSON_MODELS:
        difference = abs(retrained[name] - committed[name]) / committed[name]
        print(f"{name}: committed {committed[name]:.2f} mm, retrained {retrained[name]:.2f} mm ({100 * difference:.2f}%)")
        if difference > arguments.tolerance:
            print(f"{name}: the command no longer reproduces {FOLDER / f'{name}.pt'}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
