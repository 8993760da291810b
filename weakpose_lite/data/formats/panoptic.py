"""CMU Panoptic Studio files: calibrations, 3D bodies and 3D hands, read and written in the dataset's own format.

This module owns Panoptic's conventions (as panoptic-toolbox's ``panutils`` does), so no other module needs to
know them (facts: ``PANOPTIC_FORMATS.md``):
- Units on disk are **centimetres**; everything returned here is in millimetres (``CM_TO_MM``).
- World -> camera is ``x = R X + t`` (the kit's ``Camera`` convention); world y points down.
- Bodies are stored in the 19-joint ``joints19`` order (``skeleton.PANOPTIC_COCO19``) as ``x, y, z, c``; readers
  return any order asked for, mapped by joint name (COCO-18 by default, which drops BodyCenter, the hip midpoint).
  A missing joint is stored as ``0, 0, 0, -1`` and read as NaN.
- Hands hold 21 landmarks per side in OpenPose's hand order; readers return them as 42 joints, left then right,
  the order of the hand joints of ``skeleton.BODY_HANDS``.

Layout of one downloaded sequence ``<seq>/``: ``calibration_<seq>.json``, ``hdPose3d_stage1_coco19/
body3DScene_<8-digit hd frame>.json``, ``hdHand3d/handRecon3D_hd<8-digit hd frame>.json``.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from weakpose_lite.cameras import Camera
from weakpose_lite.data.formats.validation import (
    check_cameras,
    check_not_empty,
    check_resolution,
    check_unique,
    field_of,
    integer_of,
    list_of,
    number_array,
    read_json,
    text_of,
)
from weakpose_lite.files import write_text_atomic
from weakpose_lite.skeleton import COCO18, HAND21, PANOPTIC_COCO19, joint_mapping

CM_TO_MM = 10.0
BODY_FOLDER = "hdPose3d_stage1_coco19"
HAND_FOLDER = "hdHand3d"
HAND_SIDES = ("left_hand", "right_hand")
NUM_HAND_JOINTS = 2 * len(HAND21)
# What the writers put in the files' "version" fields (the readers do not check them).
BODY_FILE_VERSION = 0.7
HAND_FILE_VERSION = 0.5
_FILE_KEYS = {"K": "K", "R": "R", "t": "t", "dist": "distCoef"}  # a Camera's fields -> a calibration's keys
_BODY_FILE = re.compile(r"^body3DScene_(\d{8})\.json$")
_HAND_FILE = re.compile(r"^handRecon3D_hd(\d{8})\.json$")


@dataclass(frozen=True)
class Calibration:
    """Cameras (C,) of one type sorted by (panel, node), their names ("00_03"), image sizes (C, 2) (width, height)."""

    cameras: Camera
    names: tuple[str, ...]
    image_sizes: Tensor


class Bodies(NamedTuple):
    """The bodies of one frame: points (P, J, 3) world mm, NaN where missing; confidence (P, J); ids (P,)."""

    points: Tensor
    confidence: Tensor
    ids: tuple[int, ...]


class BodySequence(NamedTuple):
    """One body through a sequence: points (F, J, 3) world mm, NaN where missing; confidence (F, J); frame_ids (F,)."""

    points: Tensor
    confidence: Tensor
    frame_ids: Tensor
    body_id: int


class Hands(NamedTuple):
    """The hands of one frame: points (P, 42, 3) world mm, left then right, NaN where unseen; visible (P, 42);
    confidence (P, 42) (the landmark's average detection score); ids (P,)."""

    points: Tensor
    visible: Tensor
    confidence: Tensor
    ids: tuple[int, ...]


def calibration_file(sequence_folder: str | Path) -> Path:
    """Path of ``calibration_<seq>.json`` inside a sequence folder named ``<seq>``."""
    folder = Path(sequence_folder)
    return folder / f"calibration_{folder.name}.json"


def body_file(sequence_folder: str | Path, frame: int) -> Path:
    """Path of the body3DScene file of HD frame ``frame``."""
    return Path(sequence_folder) / BODY_FOLDER / f"body3DScene_{frame:08d}.json"


def hand_file(sequence_folder: str | Path, frame: int) -> Path:
    """Path of the handRecon3D file of HD frame ``frame``."""
    return Path(sequence_folder) / HAND_FOLDER / f"handRecon3D_hd{frame:08d}.json"


def read_calibration(path: str | Path, camera_type: str = "hd", dtype: torch.dtype = torch.float32) -> Calibration:
    """Cameras (C,) of type ``camera_type`` from ``calibration_<seq>.json``, t converted from cm to mm.

    Only the cameras of the requested type are checked, so a damaged VGA camera does not stop HD work. Each must have
    a resolution of two positive integers and a name of its own (the views' files are found by name); together they
    pass the camera gate (``validation.check_cameras``: a rotation, invertible intrinsics, a centre within reach, a
    lens that ``cameras.undistort`` inverts over its whole image, and not all at one centre). A single camera is
    accepted: it serves single-view lifting.
    """
    path = Path(path)
    source = path.name
    cameras = list_of(field_of(read_json(path), "cameras", source), source, "cameras")
    types = [text_of(field_of(camera, "type", source, f"cameras[{i}]"), source, f"cameras[{i}].type")
             for i, camera in enumerate(cameras)]  # fmt: skip
    chosen = [_read_camera(camera, source, f"cameras[{i}]") for i, camera in enumerate(cameras)
              if types[i] == camera_type]  # fmt: skip
    if not chosen:
        raise ValueError(f"{source}: cameras has no camera of type {camera_type!r}, found types {sorted(set(types))}")
    fields = [camera["field"] for camera in chosen]
    check_unique([camera["name"] for camera in chosen], source, [f"{field}.name" for field in fields],
                 f"the {camera_type!r} cameras")  # fmt: skip
    check_cameras(_stacked(chosen, torch.float64)[None], source, [f"cameras of type {camera_type!r}"],
                  lambda key, index: f"{fields[index[1]]}.{_FILE_KEYS[key]}",
                  torch.tensor([camera["resolution"] for camera in chosen])[None])  # fmt: skip
    chosen.sort(key=lambda camera: (camera["panel"], camera["node"]))
    return Calibration(
        cameras=_stacked(chosen, dtype),
        names=tuple(camera["name"] for camera in chosen),
        image_sizes=torch.tensor([camera["resolution"] for camera in chosen]),
    )


def _stacked(cameras: list[dict], dtype: torch.dtype) -> Camera:
    """Cameras read by ``_read_camera`` -> one ``Camera`` (C,)."""
    return Camera(*(torch.tensor(np.stack([camera[key] for camera in cameras]), dtype=dtype) for key in _FILE_KEYS))


def _read_camera(camera: Any, source: str, field: str) -> dict:
    def number_field(key: str, *shapes: tuple[int, ...]) -> np.ndarray:
        return number_array(field_of(camera, key, source, field), source, f"{field}.{key}", *shapes)

    resolution = number_field("resolution", (2,))
    check_resolution(resolution, source, f"{field}.resolution")
    return {
        "field": field,
        "name": text_of(field_of(camera, "name", source, field), source, f"{field}.name"),
        "panel": integer_of(field_of(camera, "panel", source, field), source, f"{field}.panel"),
        "node": integer_of(field_of(camera, "node", source, field), source, f"{field}.node"),
        "resolution": [int(n) for n in resolution],
        "K": number_field("K", (3, 3)),
        "R": number_field("R", (3, 3)),
        "t": number_field("t", (3, 1), (3,)).reshape(3) * CM_TO_MM,
        "dist": number_field("distCoef", (5,)),
    }


def write_calibration(
    path: str | Path, calibration: Calibration, camera_type: str = "hd", data_source: str = "weakpose-lite"
) -> None:
    """Write cameras (C,) as a Panoptic calibration file (t in cm, 3x1), atomically; names must read "PP_NN"."""
    cameras = calibration.cameras.to(torch.float64)
    entries = []
    for c, name in enumerate(calibration.names):
        panel, node = _panel_and_node(name)
        entries.append({
            "name": name,
            "type": camera_type,
            "resolution": [int(n) for n in calibration.image_sizes[c]],
            "panel": panel,
            "node": node,
            "K": cameras.K[c].tolist(),
            "distCoef": cameras.dist[c].tolist(),
            "R": cameras.R[c].tolist(),
            "t": (cameras.t[c] / CM_TO_MM).reshape(3, 1).tolist(),
        })  # fmt: skip
    write_text_atomic(path, json.dumps({"calibDataSource": data_source, "cameras": entries}, indent=1))


def _panel_and_node(name: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{2})_(\d{2})", name)
    if match is None:
        raise ValueError(f"camera name {name!r} must read 'PP_NN' (panel, node), like '00_03'")
    return int(match[1]), int(match[2])


def read_bodies(path: str | Path, joints: tuple[str, ...] = COCO18, dtype: torch.dtype = torch.float32) -> Bodies:
    """The bodies of one ``body3DScene_*.json``: points (P, J, 3) mm in the order ``joints``, confidence (P, J)."""
    path = Path(path)
    source = path.name
    bodies = list_of(field_of(read_json(path), "bodies", source), source, "bodies")
    ids, raw = [], np.zeros((len(bodies), len(PANOPTIC_COCO19), 4))
    for i, body in enumerate(bodies):
        ids.append(integer_of(field_of(body, "id", source, f"bodies[{i}]"), source, f"bodies[{i}].id"))
        values = field_of(body, "joints19", source, f"bodies[{i}]")
        raw[i] = number_array(values, source, f"bodies[{i}].joints19", (4 * len(PANOPTIC_COCO19),)).reshape(-1, 4)
    missing = (raw[..., :3] == 0).all(-1) & (raw[..., 3] < 0)
    points = np.where(missing[..., None], np.nan, raw[..., :3] * CM_TO_MM)
    order = joint_mapping(PANOPTIC_COCO19, joints)
    return Bodies(
        points=torch.tensor(points[:, order], dtype=dtype),
        confidence=torch.tensor(raw[:, order, 3], dtype=dtype),
        ids=tuple(ids),
    )


def body_frames(sequence_folder: str | Path) -> dict[int, Path]:
    """HD frame number -> path of its body3DScene file, in frame order."""
    return _frame_files(Path(sequence_folder) / BODY_FOLDER, _BODY_FILE)


def hand_frames(sequence_folder: str | Path) -> dict[int, Path]:
    """HD frame number -> path of its handRecon3D file, in frame order."""
    return _frame_files(Path(sequence_folder) / HAND_FOLDER, _HAND_FILE)


def _frame_files(folder: Path, pattern: re.Pattern) -> dict[int, Path]:
    found = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = pattern.match(path.name)
            if match:
                found[int(match[1])] = path
    return dict(sorted(found.items()))


def read_body_sequence(
    sequence_folder: str | Path,
    body_id: int | None = None,
    joints: tuple[str, ...] = COCO18,
    dtype: torch.dtype = torch.float32,
) -> BodySequence:
    """One body through a sequence: points (F, J, 3) mm, confidence (F, J), frame_ids (F,).

    ``body_id`` None takes the first body of the first frame that has one (the only body of a single-person
    sequence). Frames without that body are skipped; skipped frames and frames holding several bodies are counted
    in a warning, never silently.
    """
    folder = Path(sequence_folder)
    source = f"{folder.name}/{BODY_FOLDER}"
    files = body_frames(folder)
    check_not_empty(len(files), source, "body3DScene_<8 digits>.json files")
    frames = {frame: read_bodies(path, joints, dtype) for frame, path in files.items()}
    if body_id is None:
        body_id = next((bodies.ids[0] for bodies in frames.values() if bodies.ids), None)
        if body_id is None:
            raise ValueError(f"{source}: empty sequence, no frame holds a body in 'bodies'")
    kept = {frame: bodies.ids.index(body_id) for frame, bodies in frames.items() if body_id in bodies.ids}
    if len(kept) < len(frames):
        skipped = len(frames) - len(kept)
        warnings.warn(f"{source}: skipped {skipped} of {len(frames)} frames without body {body_id}", stacklevel=2)
    crowded = sum(len(bodies.ids) > 1 for bodies in frames.values())
    if crowded:
        warnings.warn(f"{source}: {crowded} of {len(frames)} frames hold several bodies; kept body {body_id}", stacklevel=2)
    check_not_empty(len(kept), source, f"frame holding body {body_id}")
    return BodySequence(
        points=torch.stack([frames[frame].points[index] for frame, index in kept.items()]),
        confidence=torch.stack([frames[frame].confidence[index] for frame, index in kept.items()]),
        frame_ids=torch.tensor(list(kept)),
        body_id=body_id,
    )


def write_bodies(
    path: str | Path,
    points: Tensor,
    confidence: Tensor,
    ids: list[int] | tuple[int, ...],
    joints: tuple[str, ...] = COCO18,
    univ_time: float = 0.0,
) -> None:
    """Write bodies, points (P, J, 3) mm in order ``joints`` and confidence (P, J), as a body3DScene file, atomically.

    Joints are written in cm in the joints19 order; a NaN joint is written as ``0, 0, 0, -1``. When ``joints`` has
    no ``body_center`` it is written as the hip midpoint, which it is in the real files.
    """
    joints19 = _to_joints19(points.double().cpu().numpy(), confidence.double().cpu().numpy(), joints)
    bodies = [{"id": int(body_id), "joints19": body.reshape(-1).tolist()} for body_id, body in zip(ids, joints19)]
    content = {"version": BODY_FILE_VERSION, "univTime": univ_time, "fpsType": "hd_29_97", "bodies": bodies}
    write_text_atomic(path, json.dumps(content))


def _to_joints19(points: np.ndarray, confidence: np.ndarray, joints: tuple[str, ...]) -> np.ndarray:
    """Points (P, J, 3) mm, confidence (P, J) -> raw joints19 (P, 19, 4) in cm with the missing marker."""
    if "body_center" not in joints:
        hips = [joints.index("left_hip"), joints.index("right_hip")]
        points = np.concatenate([points, points[:, hips].mean(1, keepdims=True)], axis=1)
        confidence = np.concatenate([confidence, confidence[:, hips].min(1, keepdims=True)], axis=1)
        joints = joints + ("body_center",)
    order = joint_mapping(joints, PANOPTIC_COCO19)
    points, confidence = points[:, order], confidence[:, order]
    missing = np.isnan(points).any(-1)
    coordinates = np.where(missing[..., None], 0.0, points / CM_TO_MM)
    return np.concatenate([coordinates, np.where(missing, -1.0, confidence)[..., None]], axis=-1)


def read_hands(path: str | Path, dtype: torch.dtype = torch.float32) -> Hands:
    """The hands of one ``handRecon3D_hd*.json``: points (P, 42, 3) mm (left, right), visible (P, 42), confidence."""
    path = Path(path)
    source = path.name
    people = list_of(field_of(read_json(path), "people", source), source, "people")
    ids, points = [], np.full((len(people), NUM_HAND_JOINTS, 3), np.nan)
    visible, confidence = np.zeros((len(people), NUM_HAND_JOINTS), bool), np.zeros((len(people), NUM_HAND_JOINTS))
    for i, person in enumerate(people):
        ids.append(integer_of(field_of(person, "id", source, f"people[{i}]"), source, f"people[{i}].id"))
        for s, side in enumerate(HAND_SIDES):
            if side in person:
                hand = slice(s * len(HAND21), (s + 1) * len(HAND21))
                points[i, hand], visible[i, hand], confidence[i, hand] = _read_hand(
                    person[side], source, f"people[{i}].{side}"
                )
    points[~visible] = np.nan
    return Hands(
        points=torch.tensor(points, dtype=dtype),
        visible=torch.from_numpy(visible),
        confidence=torch.tensor(confidence, dtype=dtype),
        ids=tuple(ids),
    )


def _read_hand(hand: Any, source: str, field: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hand's landmarks (21, 3) mm, visible (21,) (seen by at least one camera), average score (21,)."""
    count = len(HAND21)
    landmarks = number_array(field_of(hand, "landmarks", source, field), source, f"{field}.landmarks", (3 * count,))
    visible = np.ones(count, bool)
    if "visibility" in hand:
        cameras = list_of(hand["visibility"], source, f"{field}.visibility")
        if len(cameras) != count:
            raise ValueError(
                f"{source}: {field}.visibility must list the cameras of each of {count} landmarks, "
                f"got {len(cameras)} entries"
            )
        seen_by = [list_of(seen, source, f"{field}.visibility[{k}]") for k, seen in enumerate(cameras)]
        visible = np.array([len(seen) > 0 for seen in seen_by])
    score = np.ones(count)
    if "averageScore" in hand:
        score = number_array(hand["averageScore"], source, f"{field}.averageScore", (count,))
    return landmarks.reshape(count, 3) * CM_TO_MM, visible, score


def read_hand_sequence(
    sequence_folder: str | Path, frame_ids: Tensor, person_id: int, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """Hands of one person at frames frame_ids (F,) -> points (F, 42, 3) mm NaN where unseen, visible (F, 42)."""
    files = hand_frames(sequence_folder)
    points = torch.full((len(frame_ids), NUM_HAND_JOINTS, 3), float("nan"), dtype=dtype)
    visible = torch.zeros(len(frame_ids), NUM_HAND_JOINTS, dtype=torch.bool)
    for f, frame in enumerate(frame_ids.tolist()):
        if frame in files:
            hands = read_hands(files[frame], dtype)
            if person_id in hands.ids:
                index = hands.ids.index(person_id)
                points[f], visible[f] = hands.points[index], hands.visible[index]
    return points, visible


def write_hands(
    path: str | Path, points: Tensor, visible: Tensor, confidence: Tensor, ids: list[int] | tuple[int, ...]
) -> None:
    """Write hands, points (P, 42, 3) mm (left, right), visible (P, 42), confidence (P, 42), as handRecon3D, atomically.

    The real files list, per landmark, the cameras that saw it; the kit does not know them, so a visible landmark
    is written as seen by camera 0 and an unseen one by none (its coordinates written as zeros).
    """
    coordinates = torch.nan_to_num(points.double(), nan=0.0) / CM_TO_MM
    people = []
    for p, person_id in enumerate(ids):
        person: dict = {"id": int(person_id)}
        for s, side in enumerate(HAND_SIDES):
            hand = slice(s * len(HAND21), (s + 1) * len(HAND21))
            person[side] = {
                "landmarks": coordinates[p, hand].reshape(-1).tolist(),
                "averageScore": confidence[p, hand].double().tolist(),
                "averageReproError": [0.0] * len(HAND21),
                "visibility": [[0] if seen else [] for seen in visible[p, hand].tolist()],
            }
        people.append(person)
    write_text_atomic(path, json.dumps({"version": HAND_FILE_VERSION, "people": people}))
