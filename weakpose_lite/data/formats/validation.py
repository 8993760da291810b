"""Checks on files read from disk; each failure is a ``ValueError`` naming the file, the field and what was expected.

Every check takes ``source`` (the file or folder name shown to the user) and ``field`` (a path into the file, written
as in Python: ``cameras[3].R``), so a message reads ``"calibration_171204_pose1.json: cameras[3].R must be 3x3, got
3x2"``. The format modules (``panoptic``, ``openpose``) parse through these checks and nothing else.

Tolerances: a rotation is accepted when ``max |RᵀR − I| ≤ 1e-6`` and ``det R > 0``. The real Panoptic calibrations
are orthonormal to 5e-11 but are printed with 10 significant digits, so 1e-6 accepts every rounding of a real
rotation while rejecting any scale or shear that would visibly move a projection (1e-6 of 3 m is 3 µm). An
intrinsic matrix is accepted when it is finite, its last row is ``(0, 0, 1)`` and both focal lengths are positive,
which is exactly when K is invertible.

Numbers are read as float64 but the kit computes in float32, so a number must also be finite in float32
(``|x| ≤ FLOAT32_MAX``, 3.4e38): 1e39 would otherwise become inf in the tensors without a word.

Cameras, whatever made them (a calibration file, a dataset file, the synthetic rig), pass one gate,
``check_cameras``: the checks above on K and R, a centre within ``MAX_CAMERA_DISTANCE_MM`` of the origin, a lens that
``cameras.undistort`` inverts over its image (``LENS_ROUND_TRIP_PX``), and two cameras or more of a set not all at
one centre (``cameras.SAME_CENTRE_MM``), from which nothing can be triangulated. Detections pass ``check_detections``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from weakpose_lite.cameras import SAME_CENTRE_MM, Camera, centres_apart, lens_inversion_error_px

ROTATION_TOLERANCE = 1e-6
# Rotations stored in float32 are rounded by about 1e-7; 1e-4 still refuses any scale or shear that moves a
# projection visibly and accepts every rounding.
FLOAT32_ROTATION_TOLERANCE = 1e-4
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A lens whose undistortion, distorted again, misses a pixel of its image by more than this is refused (a usable
# lens round-trips to 1e-12 px; cameras.UNDISTORT_TOLERANCE already turns a miss of 2e-3 px into NaN).
LENS_ROUND_TRIP_PX = 0.01
# A camera centre farther than this from the world origin is refused: Panoptic's stand 3 m from it and no room or
# stadium where people are filmed is 200 m across, while a corrupt or mis-scaled translation lands far beyond.
MAX_CAMERA_DISTANCE_MM = 1e5
# A detection beyond ±MAX_PIXELS (1e5 px, fifty times the width of a 4K image: no camera puts one there) is refused
# as corrupt rather than read as a joint; a confidence must lie in [0, 1], as every detector writes it.
MAX_PIXELS = 1e5
CAMERA_KEYS = ("K", "R", "t", "dist")


def read_json(path: str | Path) -> Any:
    """The parsed content of a JSON file; malformed JSON is reported with its line and column, JSON that Python
    refuses to parse (an integer of more than 4,300 digits, arrays nested a thousand deep) in one line too."""
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path.name}: malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{path.name}: unreadable JSON ({str(error).split(';')[0]})") from error


def field_of(mapping: Any, key: str, source: str, parent: str = "") -> Any:
    """``mapping[key]``, or an error naming ``parent.key`` when ``mapping`` is not an object or lacks the key."""
    name = f"{parent}.{key}" if parent else key
    if not isinstance(mapping, dict):
        raise ValueError(f"{source}: {parent or 'the top level'} must be a JSON object, got {_kind(mapping)}")
    if key not in mapping:
        raise ValueError(f"{source}: {name} is missing")
    return mapping[key]


def list_of(value: Any, source: str, field: str) -> list:
    """``value`` checked to be a JSON list."""
    if not isinstance(value, list):
        raise ValueError(f"{source}: {field} must be a list, got {_kind(value)}")
    return value


def text_of(value: Any, source: str, field: str) -> str:
    """``value`` checked to be a JSON string."""
    if not isinstance(value, str):
        raise ValueError(f"{source}: {field} must be a string, got {_kind(value)}")
    return value


def integer_of(value: Any, source: str, field: str) -> int:
    """``value`` checked to be a JSON integer (booleans and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{source}: {field} must be an integer, got {_kind(value)}")
    return value


def number_array(value: Any, source: str, field: str, *shapes: tuple[int, ...]) -> np.ndarray:
    """A nested JSON list of numbers finite in float32 -> float64 array of one of ``shapes`` (e.g. ``(3, 3)``)."""
    expected = " or ".join(_describe_shape(s) for s in shapes)
    if not isinstance(value, list):
        raise ValueError(f"{source}: {field} must be {expected}, got {_kind(value)}")
    try:
        _check_numbers(value, source, field)
        shape = _nested_shape(value)
    except RecursionError as error:
        raise ValueError(f"{source}: {field} must be {expected}, got lists nested too deeply to read") from error
    if shape not in shapes:
        got = "rows of unequal length" if shape is None else _describe_shape(shape)
        raise ValueError(f"{source}: {field} must be {expected}, got {got}")
    array = np.asarray(value, dtype=np.float64)
    in_json = lambda index: field + "".join(f"[{i}]" for i in index)  # noqa: E731  (field[1][0], as in the file)
    refuse_first(~np.isfinite(array), source, in_json, lambda index: f"must be finite, got {array[index]:g}")
    refuse_first(np.abs(array) > FLOAT32_MAX, source, in_json,
                 lambda index: f"must be finite in float32 (|x| ≤ 3.4e38), got {array[index]:g}")  # fmt: skip
    return array


def refuse_first(bad, source: str, name: Callable[[tuple], str], describe: Callable[[tuple], str]) -> None:
    """Raise ``"<source>: <name(index)> <describe(index)>"`` for the first True of ``bad`` (a numpy or torch bool
    array of any shape): every value check of the data layer refuses through it."""
    found = np.argwhere(np.asarray(bad))
    if len(found):
        index = tuple(int(i) for i in found[0])
        raise ValueError(f"{source}: {name(index)} {describe(index)}")


def indexed(field: str) -> Callable[[tuple], str]:
    """How an array names its element ``index``: ``indexed("camera_R")((0, 3))`` is ``camera_R[0, 3]``."""
    return lambda index: f"{field}[{', '.join(map(str, index))}]"


def check_layout(values: list, source: str, field: str, layouts: dict[int, str]) -> None:
    """Refuse a flat keypoint list whose length is none of ``layouts`` (number of values -> what that length means)."""
    if len(values) not in layouts:
        expected = " or ".join(f"{count} numbers ({meaning})" for count, meaning in layouts.items())
        raise ValueError(f"{source}: {field} has an unknown layout: expected {expected}, got {len(values)} numbers")


def check_resolution(resolution: np.ndarray, source: str, field: str) -> None:
    """Refuse an image size (2,) that is not two positive integers (width, height)."""
    if not ((resolution > 0) & (resolution == np.round(resolution))).all():
        shown = ", ".join(f"{n:g}" for n in resolution)
        raise ValueError(f"{source}: {field} must be two positive integers (width, height), got [{shown}]")


def camera_array_field(key: str, index: tuple[int, ...]) -> str:
    """How a dataset file names a parameter of camera ``index`` (sequence, view): ``camera_R[0, 3]``."""
    return indexed(f"camera_{key}")(index)


def check_cameras(
    cameras: Camera, source: str, sets: Sequence[str], field: Callable[[str, tuple], str] = camera_array_field,
    image_sizes: Tensor | None = None,
) -> None:  # fmt: skip
    """The gate of every camera set: refuse the first unusable camera of ``cameras`` (S, C), world mm, its parameter
    named ``field(key, (s, c))``, then the first set (named ``sets[s]``) of two cameras or more at one centre.

    Unusable: a parameter not finite in float32; K not invertible (last row (0, 0, 1), focal lengths > 0); R not a
    rotation (within ``ROTATION_TOLERANCE``, or ``FLOAT32_ROTATION_TOLERANCE`` for float32 cameras); a centre −Rᵀt
    beyond ``MAX_CAMERA_DISTANCE_MM`` of the origin; a lens that ``cameras.undistort`` cannot invert over its image
    (``image_sizes`` (S, C, 2) width and height, else twice the principal point).
    """
    K, R, t, dist = (getattr(cameras, key).detach().cpu().to(torch.float64) for key in CAMERA_KEYS)

    def refuse(bad: Tensor, key: str, describe: Callable[[tuple], str]) -> None:
        refuse_first(bad, source, lambda index: field(key, index), describe)

    for key, value in zip(CAMERA_KEYS, (K, R, t, dist)):
        refuse(~(value.abs() <= FLOAT32_MAX).flatten(2).all(-1), key, lambda i: f"must be finite in float32, got "
               f"{value[i].tolist()}")  # fmt: skip
    last_row, fx, fy = K[..., 2, :], K[..., 0, 0], K[..., 1, 1]
    refuse((last_row != torch.tensor([0.0, 0.0, 1.0], dtype=K.dtype)).any(-1), "K",
           lambda i: f"must have last row [0, 0, 1], got {last_row[i].tolist()}")  # fmt: skip
    refuse((fx <= 0) | (fy <= 0), "K", lambda i: f"must be invertible with positive focal lengths, got fx={fx[i]:g}, "
           f"fy={fy[i]:g}")  # fmt: skip
    tolerance = ROTATION_TOLERANCE if cameras.R.dtype == torch.float64 else FLOAT32_ROTATION_TOLERANCE
    error = (R.mT @ R - torch.eye(3, dtype=R.dtype)).abs().amax((-2, -1))
    refuse(error > tolerance, "R", lambda i: f"must be orthonormal (max |RᵀR − I| ≤ {tolerance}), got {error[i]:.3g}")
    determinant = torch.linalg.det(R)
    refuse(determinant <= 0, "R", lambda i: f"must be a rotation (det +1), got det {determinant[i]:.3g}")
    centre = -(R.mT @ t.unsqueeze(-1)).squeeze(-1)
    distance = centre.norm(dim=-1)
    refuse(distance > MAX_CAMERA_DISTANCE_MM, "t", lambda i: f"must put the camera centre (−Rᵀt) within "
           f"{MAX_CAMERA_DISTANCE_MM:g} mm of the world origin, got {distance[i]:.3g} mm")  # fmt: skip
    sizes = (2 * K[..., :2, 2] if image_sizes is None else image_sizes.to(K.dtype)).round().clamp(min=1)
    lens_error = _lens_errors(K, dist, sizes)
    refuse(~(lens_error <= LENS_ROUND_TRIP_PX), "dist", lambda i: f"must be a lens invertible over the "
           f"{sizes[i][0]:.0f}x{sizes[i][1]:.0f} image (undistort then distort within {LENS_ROUND_TRIP_PX} px), got "
           f"{'pixels without an inverse' if lens_error[i].isinf() else f'{lens_error[i]:.3g} px'} for "
           f"{dist[i].tolist()}")  # fmt: skip
    apart = centres_apart(centre, torch.ones(centre.shape[:-1], dtype=torch.bool))
    for s, name in enumerate(sets):
        if centre.shape[1] >= 2 and not apart[s]:
            spread = (centre[s] - centre[s].mean(0)).norm(dim=-1).max()
            raise ValueError(
                f"{source}: {name} must stand at two distinct centres or more (one more than {SAME_CENTRE_MM} mm from "
                f"their mean) to triangulate, got all {centre.shape[1]} within {spread:.3f} mm of their mean"
            )


def _lens_errors(K: Tensor, dist: Tensor, sizes: Tensor) -> Tensor:
    """K (..., 3, 3), dist (..., 5), image sizes (..., 2) -> each lens's round-trip error over its image (...) px,
    computed once per distinct (K, dist, size)."""
    rows = torch.cat([K.flatten(-2), dist, sizes], -1).reshape(-1, 16)
    if not len(rows):
        return sizes.new_zeros(sizes.shape[:-1])
    unique, inverse = torch.unique(rows, dim=0, return_inverse=True)
    errors = torch.stack([lens_inversion_error_px(row[:9].reshape(3, 3), row[9:14], (int(row[14]), int(row[15])))
                          for row in unique])  # fmt: skip
    return errors[inverse].reshape(sizes.shape[:-1])


def check_detections(keypoints: Tensor, confidence: Tensor, source: str, field: Callable[[str, tuple], str]) -> None:
    """The gate of every detection: each coordinate of keypoints (..., 2) finite within ±``MAX_PIXELS`` px, each
    confidence (...) in [0, 1]; the first bad value is named ``field("keypoints" or "confidence", its index)``."""
    for key, values, expected, good in (
        ("keypoints", keypoints, f"within ±{MAX_PIXELS:g} px", keypoints.abs() <= MAX_PIXELS),
        ("confidence", confidence, "in [0, 1]", (confidence >= 0) & (confidence <= 1)),
    ):
        refuse_first(~good, source, lambda index: field(key, index), lambda index: f"must be {expected}, got "
                     f"{values[index].item():g}")  # fmt: skip


def check_unique(names: list[str], source: str, fields: list[str], among: str) -> None:
    """Refuse a name that repeats an earlier one of ``names``, naming both fields."""
    first = {}
    for name, field in zip(names, fields):
        if name in first:
            raise ValueError(
                f"{source}: {field} must be unique among {among}, got {name!r} again (first at {first[name]})"
            )
        first[name] = field


def check_not_empty(count: int, source: str, what: str) -> None:
    """Refuse an empty sequence: ``count`` items of ``what`` found under ``source``."""
    if count == 0:
        raise ValueError(f"{source}: empty sequence, no {what}")


def check_views_per_frame(view_counts: np.ndarray, frame_ids: np.ndarray, source: str, min_views: int = 2) -> None:
    """Refuse frames seen by fewer than ``min_views`` views; view_counts (F,), frame_ids (F,)."""
    sparse = np.flatnonzero(view_counts < min_views)
    if len(sparse):
        first = sparse[0]
        raise ValueError(
            f"{source}: frame {int(frame_ids[first])} has {int(view_counts[first])} view(s) in view_mask, "
            f"at least {min_views} expected ({len(sparse)} such frames)"
        )


def _kind(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:17] + "..."
        return f"string {shown!r}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 20 else shown[:17] + '...'}"


def _check_numbers(value: Any, source: str, field: str) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_numbers(item, source, f"{field}[{i}]")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{source}: {field} must be a number, got {_kind(value)}")
    elif isinstance(value, int) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"{source}: {field} must be finite in float32 (|x| ≤ 3.4e38), got an integer of "
                         f"{len(str(abs(value)))} digits")  # fmt: skip


def _nested_shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a nested list of numbers, () for a number, None when its rows have unequal shapes."""
    if not isinstance(value, list):
        return ()
    inner = {_nested_shape(item) for item in value}
    if len(inner) > 1 or None in inner:
        return None
    return (len(value),) + (inner.pop() if inner else ())


def _describe_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"a list of {shape[0]} numbers"
    return "x".join(str(n) for n in shape)
