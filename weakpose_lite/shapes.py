"""The argument gate of the library's tensor functions: shapes and dtypes checked before any arithmetic.

A wrong argument would otherwise surface as a raw PyTorch error from deep inside (``mat1 and mat2 shapes cannot be
multiplied (18x2 and 3x3)``) or, worse, broadcast into a silent wrong answer. ``check_tensor`` names the function, the
argument, the shape expected (letters for sizes that must agree between arguments) and what came:
``"project: points must be (..., J, 3), got (2, 18, 2)"``. It reads shapes only, never values: no host sync, and it
works on any device (``meta`` included).
"""

from __future__ import annotations

import torch
from torch import Tensor

KINDS = {"float": "floating point", "bool": "bool"}


def check_tensor(
    function: str, name: str, value: object, shape: tuple, kind: str | None = "float", sizes: dict | None = None
) -> dict:
    """Refuse ``value`` unless it is a tensor of ``kind`` ("float", "bool" or None: any) whose shape is ``shape``:
    a tuple of ints and letters, led by "..." for any leading dimensions, e.g. ``("...", "J", 3)``. A letter takes the
    size it first meets in ``sizes`` (shared between the arguments of one call); returns ``sizes``, updated."""
    sizes = {} if sizes is None else sizes
    expected = f"{KINDS[kind] + ' ' if kind else ''}({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"
    if not isinstance(value, Tensor):
        raise ValueError(f"{function}: {name} must be a tensor {expected}, got {type(value).__name__}")
    if kind == "float" and not value.is_floating_point() or kind == "bool" and value.dtype != torch.bool:
        raise ValueError(f"{function}: {name} must be {expected}, got {str(value.dtype).removeprefix('torch.')}")
    fixed = shape[1:] if shape[:1] == ("...",) else shape
    leading = value.ndim - len(fixed)
    if leading < 0 or (leading and shape[:1] != ("...",)):
        raise ValueError(f"{function}: {name} must be {expected}, got {tuple(value.shape)}")
    for letter, size in zip(fixed, value.shape[leading:]):
        wanted = letter if isinstance(letter, int) else sizes.setdefault(letter, size)
        if size != wanted:
            bound = ", ".join(f"{key}={sizes[key]}" for key in fixed if isinstance(key, str) and key in sizes)
            raise ValueError(f"{function}: {name} must be {expected}{f' ({bound})' if bound else ''}, got "
                             f"{tuple(value.shape)}")  # fmt: skip
    return sizes
