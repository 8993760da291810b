"""The output of ``python -m weakpose_lite.lift``: what a lifting run found, as a JSON or NPZ poses file.

Both formats hold the same fields:

- ``format`` ("weakpose-lite poses"), ``version`` (1), ``units`` ("mm"), ``coordinate_frame``: "camera" (x right,
  y down, z forward, root at the origin) or "world" (the calibration's world frame, absolute);
- ``skeleton``, ``joint_names`` (J), ``root_joint``, ``checkpoint``, ``input``, ``statuses`` (the possible values),
  ``skipped_files`` ([{file, error}]), ``summary`` (counts per status, frames per second);
- one row per frame (multi-view) or per person per image (single view), N rows:
  ``frame`` (the image's frame number: the digits ending its file name, else its place in name order),
  ``person`` (index in the image's ``people``; 0 for multi-view), ``source`` (file name for single view, sequence
  or folder name otherwise), ``status`` (see ``inference.STATUSES``; only "ok" rows have a pose), ``views`` (views
  used), ``pose`` (J × 3, mm), ``uncertainty_mm`` (J, the views' mean distance to their average; null for single
  view).

JSON: the fields above plus ``frames``, a list of row objects (missing values are null). NPZ: ``header`` (the
fields above as one JSON string) and arrays ``frame`` (N,), ``person`` (N,), ``source`` (N,), ``status`` (N,),
``views`` (N,), ``poses`` (N, J, 3) and ``uncertainty_mm`` (N, J), NaN where missing; read with
``allow_pickle=False``. Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import Tensor

from weakpose_lite.files import atomic_path, write_text_atomic
from weakpose_lite.inference import OK, STATUSES, LiftedPoses
from weakpose_lite.skeleton import Skeleton

OUTPUT_FORMAT = "weakpose-lite poses"
OUTPUT_VERSION = 1
OUTPUT_SUFFIXES = (".json", ".npz")


@dataclass(frozen=True)
class LiftResult:
    """N lifted rows with where they came from: frame, person (N,) and source names; the poses; the files skipped;
    and the timings (whole run, network alone)."""

    coordinate_frame: str
    skeleton: Skeleton
    frame: Tensor
    person: Tensor
    sources: tuple[str, ...]
    lifted: LiftedPoses
    skipped_files: list[dict]
    seconds: float
    network_poses: int
    network_seconds: float

    def summary(self) -> dict:
        """Counts per status, skipped files, rows per second overall and poses per second through the network."""
        status = self.lifted.status
        counts = {name: int((status == code).sum()) for code, name in enumerate(STATUSES)}
        return {
            "rows": len(status), "by_status": counts, "skipped_files": len(self.skipped_files),
            "seconds": round(self.seconds, 3), "frames_per_second": round(len(status) / max(self.seconds, 1e-9), 1),
            "network_poses_per_second": round(self.network_poses / max(self.network_seconds, 1e-9), 1),
        }  # fmt: skip

    def lifted_rows(self) -> list[int]:
        """Indices of the rows that have a pose."""
        return (self.lifted.status == OK).nonzero().squeeze(1).tolist()


def check_output(path: str | Path, inputs: tuple[str | Path, ...]) -> Path:
    """``path`` checked to end in .json or .npz and to be none of ``inputs`` (never overwrite what is read)."""
    output = Path(path)
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"{output}: the output must end in {' or '.join(OUTPUT_SUFFIXES)}, got {output.suffix!r}")
    for given in inputs:
        if given is not None and Path(given).exists() and Path(given).resolve() == output.resolve():
            raise ValueError(f"{output}: is also an input of this run; write the poses to another file")
    return output


def result_header(result: LiftResult, provenance: dict) -> dict:
    """The output's fields other than the rows (see the module docstring)."""
    skeleton = result.skeleton
    return {
        "format": OUTPUT_FORMAT, "version": OUTPUT_VERSION, "units": "mm", "coordinate_frame": result.coordinate_frame,
        "skeleton": skeleton.name, "joint_names": list(skeleton.joints), "root_joint": skeleton.joints[skeleton.root],
        **provenance, "statuses": list(STATUSES), "skipped_files": result.skipped_files, "summary": result.summary(),
    }  # fmt: skip


def write_poses(path: Path, result: LiftResult, provenance: dict) -> None:
    """Write the result as JSON or NPZ (by the extension), atomically."""
    header = result_header(result, provenance)
    lifted = result.lifted
    status = [STATUSES[code] for code in lifted.status.tolist()]
    if path.suffix.lower() == ".json":
        rows = [
            {"frame": frame, "person": person, "source": source, "status": state, "views": views,
             "pose": _json_numbers(pose, 2), "uncertainty_mm": _json_numbers(spread, 2)}
            for frame, person, source, state, views, pose, spread in zip(
                result.frame.tolist(), result.person.tolist(), result.sources, status, lifted.views.tolist(),
                lifted.poses.tolist(), lifted.uncertainty.tolist())
        ]  # fmt: skip
        write_text_atomic(path, json.dumps(header | {"frames": rows}, allow_nan=False))
        return
    arrays = {
        "frame": result.frame.numpy(), "person": result.person.numpy(), "source": np.array(result.sources, dtype=str),
        "status": np.array(status, dtype=str), "views": lifted.views.numpy(), "poses": lifted.poses.numpy(),
        "uncertainty_mm": lifted.uncertainty.numpy(),
    }  # fmt: skip
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, header=np.array(json.dumps(header, allow_nan=False)), **arrays)


def _json_numbers(values: list, digits: int) -> list | None:
    """Nested lists of floats rounded to ``digits``, or None when any is NaN (a row without that value)."""
    flat = np.asarray(values, dtype=float)
    if not np.isfinite(flat).all():
        return None
    return np.round(flat, digits).tolist()
