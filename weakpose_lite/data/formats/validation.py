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

A calibration's cameras must also be usable together: a lens is refused when ``cameras.undistort`` cannot invert it
over its image (``LENS_ROUND_TRIP_PX``), and cameras that all stand within ``SAME_CENTRE_MM`` of one another are
refused, since nothing can be triangulated from one centre.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weakpose_lite.cameras import lens_inversion_error_px

ROTATION_TOLERANCE = 1e-6
FLOAT32_MAX = float(np.finfo(np.float32).max)
# A lens whose undistortion, distorted again, misses a pixel of its image by more than this is refused (a usable
# lens round-trips to 1e-12 px; cameras.UNDISTORT_TOLERANCE already turns a miss of 2e-3 px into NaN).
LENS_ROUND_TRIP_PX = 0.01
# Cameras closer than this are at one centre (Panoptic's nearest HD cameras are 1.2 m apart, VGA 20 cm).
SAME_CENTRE_MM = 1.0


def read_json(path: str | Path) -> Any:
    """The parsed content of a JSON file; malformed JSON is reported with its line and column."""
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
    _check_numbers(value, source, field)
    shape = _nested_shape(value)
    if shape not in shapes:
        got = "rows of unequal length" if shape is None else _describe_shape(shape)
        raise ValueError(f"{source}: {field} must be {expected}, got {got}")
    array = np.asarray(value, dtype=np.float64)
    _refuse_first_json(~np.isfinite(array), array, source, field, "finite")
    _refuse_first_json(np.abs(array) > FLOAT32_MAX, array, source, field, "finite in float32 (|x| ≤ 3.4e38)")
    return array


def check_coordinates(array: np.ndarray, limit: float, source: str, field: str, unit: str) -> None:
    """Refuse the first value of ``array`` (...) beyond ±``limit``, named as in the file: ``field[3]``."""
    _refuse_first_json(np.abs(array) > limit, array, source, field, f"within ±{limit:g} {unit}")


def _refuse_first_json(bad: np.ndarray, array: np.ndarray, source: str, field: str, expected: str) -> None:
    """Raise for the first True of ``bad``, its index written as in JSON (``field[1][0]``) and its value in %g."""
    found = np.argwhere(bad)
    if len(found):
        index = "".join(f"[{i}]" for i in found[0])
        raise ValueError(f"{source}: {field}{index} must be {expected}, got {array[tuple(found[0])]:g}")


def check_layout(values: list, source: str, field: str, layouts: dict[int, str]) -> None:
    """Refuse a flat keypoint list whose length is none of ``layouts`` (number of values -> what that length means)."""
    if len(values) not in layouts:
        expected = " or ".join(f"{count} numbers ({meaning})" for count, meaning in layouts.items())
        raise ValueError(f"{source}: {field} has an unknown layout: expected {expected}, got {len(values)} numbers")


def check_intrinsics(K: np.ndarray, source: str, field: str) -> None:
    """Refuse intrinsic matrices K (..., 3, 3) that are not invertible: last row (0, 0, 1), focal lengths > 0; in a
    batch the first bad one is named by its index (``camera_K[0, 3]``)."""
    last_row = K[..., 2, :]
    _refuse_first(~(last_row == np.array([0.0, 0.0, 1.0])).all(-1), source, field,
                  lambda i: f"must have last row [0, 0, 1], got {last_row[i].tolist()}")  # fmt: skip
    fx, fy = K[..., 0, 0], K[..., 1, 1]
    _refuse_first((fx <= 0) | (fy <= 0), source, field,
                  lambda i: f"must be invertible with positive focal lengths, got fx={fx[i]}, fy={fy[i]}")  # fmt: skip


def check_rotation(R: np.ndarray, source: str, field: str, tolerance: float = ROTATION_TOLERANCE) -> None:
    """Refuse matrices R (..., 3, 3) that are not rotations: max |RᵀR − I| > tolerance or det R ≤ 0; in a batch the
    first bad one is named by its index (``camera_R[0, 3]``)."""
    R = R.astype(np.float64)
    error = np.abs(np.swapaxes(R, -1, -2) @ R - np.eye(3)).max(axis=(-2, -1))
    _refuse_first(error > tolerance, source, field,
                  lambda i: f"must be orthonormal (max |RᵀR − I| ≤ {tolerance}), got {error[i]:.3g}")  # fmt: skip
    determinant = np.linalg.det(R)
    _refuse_first(determinant <= 0, source, field, lambda i: f"must be a rotation (det +1), got det {determinant[i]:.3g}")


def check_resolution(resolution: np.ndarray, source: str, field: str) -> None:
    """Refuse an image size (2,) that is not two positive integers (width, height)."""
    if not ((resolution > 0) & (resolution == np.round(resolution))).all():
        shown = ", ".join(f"{n:g}" for n in resolution)
        raise ValueError(f"{source}: {field} must be two positive integers (width, height), got [{shown}]")


def check_lenses(K: np.ndarray, dist: np.ndarray, sizes: np.ndarray, source: str, fields: list[str]) -> None:
    """Refuse the first of C lenses, K (C, 3, 3), dist (C, 5), image sizes (C, 2), that ``cameras.undistort``
    cannot invert over its whole image: its detections would all come back NaN. One batch per image size."""
    for size in sorted({tuple(int(n) for n in pair) for pair in sizes}):
        group = np.flatnonzero((sizes == size).all(-1))
        errors = lens_inversion_error_px(torch.from_numpy(K[group]), torch.from_numpy(dist[group]), size)
        for c, error in zip(group, errors.tolist()):
            if not error <= LENS_ROUND_TRIP_PX:
                got = "pixels without an inverse" if np.isinf(error) else f"{error:.3g} px"
                raise ValueError(
                    f"{source}: {fields[c]} must be a lens invertible over the {size[0]}x{size[1]} image (undistort "
                    f"then distort within {LENS_ROUND_TRIP_PX} px), got {got} for {dist[c].tolist()}"
                )


def check_unique(names: list[str], source: str, fields: list[str], among: str) -> None:
    """Refuse a name that repeats an earlier one of ``names``, naming both fields."""
    first = {}
    for name, field in zip(names, fields):
        if name in first:
            raise ValueError(
                f"{source}: {field} must be unique among {among}, got {name!r} again (first at {first[name]})"
            )
        first[name] = field


def check_distinct_centres(centres: np.ndarray, source: str, what: str) -> None:
    """Refuse two camera centres or more, (C, 3) mm, that all lie within ``SAME_CENTRE_MM`` of one another."""
    if len(centres) < 2:
        return
    spread = np.linalg.norm(centres[:, None] - centres[None], axis=-1).max()
    if spread < SAME_CENTRE_MM:
        raise ValueError(
            f"{source}: {what} must stand at two distinct centres or more ({SAME_CENTRE_MM} mm apart) to "
            f"triangulate, got all {len(centres)} within {spread:.3f} mm of one another"
        )


def check_where(good: np.ndarray, values: np.ndarray, source: str, field: str, expected: str) -> None:
    """Refuse the first element of ``values`` where ``good`` is False, naming its index: ``camera_t[0, 3, 1]``."""
    _refuse_first(~good, source, field, lambda i: f"must be {expected}, got {values[i]}")


def _refuse_first(bad: np.ndarray, source: str, field: str, describe) -> None:
    """Raise for the first True of ``bad`` (...): ``source: field[i, j] <describe(index)>`` (no index for a scalar)."""
    bad = np.asarray(bad)
    if not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    named = f"{field}[{', '.join(map(str, index))}]" if index else field
    raise ValueError(f"{source}: {named} {describe(index)}")


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
    return f"{type(value).__name__} {value!r}"


def _check_numbers(value: Any, source: str, field: str) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_numbers(item, source, f"{field}[{i}]")
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{source}: {field} must be a number, got {_kind(value)}")


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
