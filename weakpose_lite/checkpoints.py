"""Checkpoint files: what ``train`` saves each epoch (``TrainingState``: all a resumed run needs to continue exactly),
written atomically, read back safely and checked.

A checkpoint is a dict saved by ``torch.save`` and read with ``weights_only=True`` (tensors and plain values only, no
code). Version 2 names the network's skeleton; version 1 (which told it by the joint count) is refused with a
message. Weights that are not finite are refused when read (such a network lifts every pose to NaN), and so are
normalisation statistics outside a person's range (``NormalisationStats.check``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite.files import atomic_path, write_text_atomic
from weakpose_lite.model import NormalisationStats

FORMAT = "weakpose-lite checkpoint"
VERSION = 2


def write_checkpoint(path: str | Path, content: dict) -> None:
    """Save ``content`` (tensors and plain values) with the format and version fields, atomically."""
    with atomic_path(path) as temporary:
        torch.save({"format": FORMAT, "version": VERSION, **content}, temporary)


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint; a damaged, foreign or older file, or unusable weights, get an error naming it."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file; report them all the same way
        raise ValueError(f"{path}: not a readable weakpose-lite checkpoint ({type(error).__name__}: {error})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ValueError(f"{path}: not a weakpose-lite checkpoint (no 'format' field)")
    if checkpoint.get("version") != VERSION:
        raise ValueError(
            f"{path}: checkpoint version must be {VERSION}, got {checkpoint.get('version')!r} (version 1 was written "
            f"before checkpoints named their skeleton: train it again with this version of the kit)"
        )
    for name in ("model", "best_model"):
        if isinstance(checkpoint.get(name), dict):
            _check_weights(path, name, checkpoint[name])
    return checkpoint


def _check_weights(path: Path, name: str, weights: dict[str, Tensor]) -> None:
    """The network's statistics through their gate, then every other weight finite."""
    statistics = [weights.get(key) for key in ("mean_2d", "std_2d", "mean_3d", "std_3d")]
    if all(isinstance(value, Tensor) for value in statistics):
        NormalisationStats(*statistics).check(str(path), f"{name}.")
    for key, value in weights.items():
        if isinstance(value, Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise ValueError(f"{path}: {name}.{key} must be finite, got {bad} NaN or infinite values")


class TrainingState:
    """What a resumed run needs to continue exactly: weights, optimiser, schedule, random streams, history."""

    def __init__(self, model, optimiser, scheduler, generator):
        self.model, self.optimiser, self.scheduler, self.generator = model, optimiser, scheduler, generator
        self.epoch = 0
        self.history: list[dict] = []
        self.best_score = float("inf")
        self.best_epoch = -1
        self.best_weights = {k: v.clone() for k, v in model.state_dict().items()}

    def finish_epoch(self, record: dict, config, output: str | Path | None) -> None:
        """Log the epoch, keep the best weights, and write best.pt, history.json, then last.pt under ``output``.

        ``last.pt`` is written last: it is what a resume starts from, and a run killed before it repeats the epoch
        (seeded, so exactly) and rewrites the other two.
        """
        self.history.append(record)
        self.epoch = record["epoch"]
        score = record["validation_mpjpe_mm" if config.selection_metric == "validation_mpjpe" else "validation_loss"]
        improved = score < self.best_score
        if improved:
            self.best_score, self.best_epoch = score, record["epoch"]
            self.best_weights = {k: v.clone() for k, v in self.model.state_dict().items()}
        if output is not None:
            folder = Path(output)
            if improved:
                self.save(folder / "best.pt", config)
            write_text_atomic(folder / "history.json", json.dumps(self.history, indent=1))
            self.save(folder / "last.pt", config)

    def load(self, path: Path, written_with: Callable[[dict], bool]) -> None:
        """Restore everything from ``path`` to continue exactly; ``written_with`` says whether its saved configuration
        is this run's (``train`` reads older saved forms too)."""
        checkpoint = load_checkpoint(path)
        if not written_with(checkpoint["config"]):
            raise ValueError(f"{path}: was written with another configuration; resume with the same one")
        self.model.load_state_dict(checkpoint["model"])
        self.optimiser.load_state_dict(checkpoint["optimiser"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.generator.set_state(checkpoint["generator"])
        torch.set_rng_state(checkpoint["torch_rng"])
        self.history = json.loads(checkpoint["history"])
        self.epoch = checkpoint["epoch"]
        self.best_score, self.best_epoch = checkpoint["best_score"], checkpoint["best_epoch"]
        self.best_weights = checkpoint["best_model"]

    def save(self, path: Path, config) -> None:
        """Write weights, optimiser, schedule, random streams, statistics, configuration (a ``TrainConfig``) and
        epoch, atomically."""
        write_checkpoint(path, {
            "config": asdict(config), "skeleton": self.model.skeleton.name, "model": self.model.state_dict(),
            "best_model": self.best_weights, "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(), "epoch": self.epoch, "best_epoch": self.best_epoch,
            "best_score": self.best_score, "history": json.dumps(self.history),
        })  # fmt: skip
