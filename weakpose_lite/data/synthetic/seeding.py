"""Random draws of the synthetic data: one generator per named thing drawn, and the few distributions used.

Every draw comes from a ``torch.Generator`` seeded from the dataset's seed and the name of what it draws (rig,
subject 7, motion of subject 7 sequence 1, the simulated detections of a Panoptic sequence, ...), so a dataset is
reproducible and one subject's or sequence's data does not depend on how many others there are.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor


def child_generator(seed: int, *keys: object) -> torch.Generator:
    """A generator seeded from ``seed`` and the keys naming what it will draw (stable across runs and machines)."""
    digest = hashlib.sha256(repr((seed,) + keys).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def uniform(generator: torch.Generator, low: float, high: float, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Values (*shape) drawn uniformly in [low, high)."""
    return low + (high - low) * torch.rand(shape, generator=generator, dtype=dtype)


def choice(generator: torch.Generator, count: int) -> int:
    """One of 0 .. count − 1, uniformly."""
    return int(torch.randint(count, (), generator=generator))
