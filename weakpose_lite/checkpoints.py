"""Checkpoint files: what ``train`` saves each epoch, written atomically, read back safely and checked.

A checkpoint is a dict saved by ``torch.save`` and read with ``weights_only=True`` (tensors and plain values only, no
code). Version 2 names the network's skeleton; version 1 (which told it by the joint count) is refused with a
message. Weights that are not finite, or standard deviations that are not positive, are refused when read: such a
network lifts every pose to NaN.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite.files import atomic_path

FORMAT = "weakpose-lite checkpoint"
VERSION = 2
_POSITIVE = ("std_2d", "std_3d")  # the network's normalisation statistics that must be > 0


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
    for key, value in weights.items():
        if isinstance(value, Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise ValueError(f"{path}: {name}.{key} must be finite, got {bad} NaN or infinite values")
    for key in _POSITIVE:
        if key in weights and not (weights[key] > 0).all():
            raise ValueError(f"{path}: {name}.{key} must be positive (a standard deviation), got {weights[key].min().item()}")
