"""OpenPose JSON output: one file per image, read into COCO-18 (+ hands), and the per-view folders of a sequence.

One file: ``{"people": [{"pose_keypoints_2d": [x, y, c] * 18 or * 25, "hand_left_keypoints_2d": [x, y, c] * 21,
"hand_right_keypoints_2d": ...}]}``; old OpenPose names the body field ``pose_keypoints``. The body layout (COCO-18
or BODY_25) is told by its length and mapped to COCO-18 **by joint name** (BODY_25 moves the hips and legs). A joint
not found is ``0, 0, 0``: read as confidence 0 and coordinates 0, the dataset's convention for "missing". Every
keypoint passes the detection gate (``validation.check_detections``): a coordinate beyond ±``MAX_PIXELS`` (1e5 px) or a
confidence outside [0, 1] is refused as a corrupt file rather than read as a joint.

Folder layout of one sequence (``VIEW_FOLDER`` / ``KEYPOINTS_FILE``): one folder per view named after the view's
video, holding OpenPose's files for that video::

    <root>/hd_00_03/hd_00_03_000000000150_keypoints.json

which is what ``openpose --video hdVideos/hd_00_03.mp4 --write_json <root>/hd_00_03`` writes (OpenPose names a file
``<image or video name>_<12-digit frame>_keypoints.json``). The frame number is read as the digits just before
``_keypoints.json``, so running OpenPose on extracted images (``00_03_00000150.jpg`` from panoptic-toolbox's
extractor) works too. Frame numbers are HD frame numbers, the same as those of ``body3DScene_<frame>.json``.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from weakpose_lite.data.formats.panoptic import Calibration
from weakpose_lite.data.formats.validation import (
    check_detections,
    check_layout,
    check_not_empty,
    check_views_per_frame,
    field_of,
    list_of,
    number_array,
    read_json,
)
from weakpose_lite.files import write_text_atomic
from weakpose_lite.progress import progress_bar
from weakpose_lite.skeleton import BODY25, BODY_HANDS, COCO18, HAND21, joint_mapping

OPENPOSE_FOLDER = "openpose"  # a sequence's OpenPose output: <sequence>/openpose/<view folder>/
BODY_FIELDS = ("pose_keypoints_2d", "pose_keypoints")
HAND_FIELDS = ("hand_left_keypoints_2d", "hand_right_keypoints_2d")
BODY_LAYOUTS = {"COCO": COCO18, "BODY_25": BODY25}
OPENPOSE_VERSION = 1.3
_KEYPOINTS_FILE = re.compile(r"(\d+)_keypoints\.json$")


class People(NamedTuple):
    """Detections in one image: keypoints (P, J, 2) px, zeros where missing; confidence (P, J), 0 where missing."""

    keypoints: Tensor
    confidence: Tensor


class MultiViewDetections(NamedTuple):
    """One sequence's detections: keypoints (F, C, J, 2) px, confidence (F, C, J), view_mask (F, C), frame_ids (F,),
    dropped_frame_ids (D,), the frames left out for being seen by too few views, and the files skipped as unreadable
    ([{file, error}], only with ``skip_unreadable``)."""

    keypoints: Tensor
    confidence: Tensor
    view_mask: Tensor
    frame_ids: Tensor
    dropped_frame_ids: Tensor
    skipped_files: list[dict]


def read_openpose(path: str | Path, hands: bool = False, dtype: torch.dtype = torch.float32) -> People:
    """One OpenPose JSON -> keypoints (P, J, 2), confidence (P, J); J = 18 (COCO-18), or 60 with ``hands``."""
    path = Path(path)
    source = path.name
    people = list_of(field_of(read_json(path), "people", source), source, "people")
    joints = len(BODY_HANDS.joints) if hands else len(COCO18)
    values = np.zeros((len(people), joints, 3))
    for i, person in enumerate(people):
        parts = [_read_body(person, source, f"people[{i}]")]
        if hands:
            parts += [_read_hand(person, side, source, f"people[{i}]") for side in HAND_FIELDS]
        values[i] = np.concatenate(parts)
    found = values[..., 2] > 0
    keypoints = np.where(found[..., None], values[..., :2], 0.0)
    return People(torch.tensor(keypoints, dtype=dtype), torch.tensor(np.where(found, values[..., 2], 0.0), dtype=dtype))


def _read_body(person: Any, source: str, field: str) -> np.ndarray:
    """A person's body keypoints (18, 3) (x, y, c) in COCO-18 order, from COCO-18 or BODY_25 mapped by name."""
    name = next((key for key in BODY_FIELDS if isinstance(person, dict) and key in person), BODY_FIELDS[0])
    values = list_of(field_of(person, name, source, field), source, f"{field}.{name}")
    layouts = {3 * len(joints): f"{model} × (x, y, c)" for model, joints in BODY_LAYOUTS.items()}
    check_layout(values, source, f"{field}.{name}", layouts)
    order = next(joints for joints in BODY_LAYOUTS.values() if 3 * len(joints) == len(values))
    array = _keypoint_values(values, source, f"{field}.{name}")
    return array[joint_mapping(order, COCO18)]


def _read_hand(person: Any, name: str, source: str, field: str) -> np.ndarray:
    """A person's hand keypoints (21, 3) (x, y, c); an empty list (hand detection off) reads as all missing."""
    values = list_of(field_of(person, name, source, field), source, f"{field}.{name}")
    check_layout(values, source, f"{field}.{name}", {3 * len(HAND21): "21 × (x, y, c)", 0: "no hand"})
    if not values:
        return np.zeros((len(HAND21), 3))
    return _keypoint_values(values, source, f"{field}.{name}")


def _keypoint_values(values: list, source: str, field: str) -> np.ndarray:
    """A flat list ``[x, y, c] * K`` of numbers -> (K, 3), through the detection gate, each value named by its place
    in the list."""
    array = number_array(values, source, field, (len(values),)).reshape(-1, 3)
    keypoints = torch.from_numpy(array)
    check_detections(keypoints[:, :2], keypoints[:, 2], source,
                     lambda key, index: f"{field}[{3 * index[0] + (index[1] if key == 'keypoints' else 2)}]")  # fmt: skip
    return array


def write_openpose(path: str | Path, keypoints: Tensor, confidence: Tensor, model_pose: str = "COCO") -> None:
    """Write people, keypoints (P, J, 2) px and confidence (P, J) with J = 18 or 60, as one OpenPose JSON, atomically.

    ``model_pose`` is the body layout written, "COCO" or "BODY_25" (OpenPose's ``--model_pose``). BODY_25's extra
    joints are written as not found, except ``mid_hip``, written as the hip midpoint when both hips are found.
    Confidence 0 is written as ``0, 0, 0``.
    """
    values = torch.cat([keypoints, confidence[..., None]], dim=-1).double()
    values = torch.where(confidence[..., None] > 0, values, torch.zeros_like(values)).cpu().numpy()
    people = []
    for person in values:
        hands = [person[len(COCO18) + s * len(HAND21) : len(COCO18) + (s + 1) * len(HAND21)] for s in range(2)]
        people.append({
            "person_id": [-1],
            "pose_keypoints_2d": _body_layout(person[: len(COCO18)], model_pose).reshape(-1).tolist(),
            "face_keypoints_2d": [],
            "hand_left_keypoints_2d": hands[0].reshape(-1).tolist(),
            "hand_right_keypoints_2d": hands[1].reshape(-1).tolist(),
        })  # fmt: skip
    write_text_atomic(path, json.dumps({"version": OPENPOSE_VERSION, "people": people}))


def _body_layout(body: np.ndarray, model_pose: str) -> np.ndarray:
    """COCO-18 values (18, 3) -> the values (K, 3) of layout ``model_pose``, placed by joint name."""
    if model_pose not in BODY_LAYOUTS:
        raise ValueError(f"model_pose must be one of {sorted(BODY_LAYOUTS)}, got {model_pose!r}")
    joints = BODY_LAYOUTS[model_pose]
    out = np.zeros((len(joints), 3))
    out[joint_mapping(joints, COCO18)] = body
    if "mid_hip" in joints:
        hips = body[[COCO18.index("left_hip"), COCO18.index("right_hip")]]
        if (hips[:, 2] > 0).all():
            out[joints.index("mid_hip")] = [*hips[:, :2].mean(0), hips[:, 2].min()]
    return out


def view_folder(root: str | Path, camera_name: str, camera_type: str = "hd") -> Path:
    """Folder of one view's OpenPose files: ``<root>/<type>_<camera name>`` (the view's video name)."""
    return Path(root) / f"{camera_type}_{camera_name}"


def keypoints_file(root: str | Path, camera_name: str, frame: int, camera_type: str = "hd") -> Path:
    """Path OpenPose gives frame ``frame`` of the view's video: ``<type>_<name>_<12 digits>_keypoints.json``."""
    return view_folder(root, camera_name, camera_type) / f"{camera_type}_{camera_name}_{frame:012d}_keypoints.json"


def view_frames(folder: str | Path) -> dict[int, Path]:
    """Frame number -> path of its ``*_keypoints.json`` in one view folder (empty when the folder is absent)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    found = {int(match[1]): path for path in folder.iterdir() if (match := _KEYPOINTS_FILE.search(path.name))}
    return dict(sorted(found.items()))


def write_openpose_views(
    root: str | Path,
    camera_names: tuple[str, ...],
    frame_ids: Tensor,
    keypoints: Tensor,
    confidence: Tensor,
    view_mask: Tensor,
    camera_type: str = "hd",
    model_pose: str = "COCO",
) -> None:
    """Write one person's detections, keypoints (F, C, J, 2), confidence (F, C, J), as per-view folders.

    A view absent from view_mask (F, C) gets no file, as when OpenPose was not run on that image.
    """
    for f, frame in enumerate(frame_ids.tolist()):
        for c, name in enumerate(camera_names):
            if view_mask[f, c]:
                path = keypoints_file(root, name, frame, camera_type)
                write_openpose(path, keypoints[f, c][None], confidence[f, c][None], model_pose)


def read_openpose_views(
    root: str | Path,
    calibration: Calibration,
    frame_ids: Tensor | None = None,
    hands: bool = False,
    camera_type: str = "hd",
    min_views: int = 2,
    strict: bool = False,
    dtype: torch.dtype = torch.float32,
    skip_unreadable: bool = False,
) -> MultiViewDetections:
    """Per-view OpenPose folders of one sequence -> detections (F, C, J, 2) in the calibration's camera order.

    Frames are ``frame_ids`` (default: every frame any view has). A view that has no file for a frame, or whose
    file holds nobody, is absent from view_mask. When an image holds several people the most confident one (largest
    summed confidence) is taken: single-person sequences still catch a passer-by now and then. Frames seen by fewer
    than ``min_views`` views are dropped with a counted warning, or refused when ``strict``. A file that cannot be
    read is an error, or with ``skip_unreadable`` reported in ``skipped_files`` and its view absent (an error still
    when no file at all can be read).
    """
    root = Path(root)
    views = [view_frames(view_folder(root, name, camera_type)) for name in calibration.names]
    frames = frame_ids.tolist() if frame_ids is not None else sorted(set().union(*views))
    check_not_empty(len(frames), root.name, "OpenPose *_keypoints.json files")
    joints = len(BODY_HANDS.joints) if hands else len(COCO18)
    wanted = set(frames)
    paths = [path for files in views for frame, path in files.items() if frame in wanted]
    read, skipped = read_openpose_files(paths, hands, dtype, skip_unreadable, root)
    people = [{frame: read[path] for frame, path in files.items() if path in read} for files in views]
    keypoints, confidence, view_mask = most_confident_views(people, frames, joints, dtype)
    frame_tensor = torch.tensor(frames, dtype=torch.long)
    if strict:
        check_views_per_frame(view_mask.sum(1).numpy(), frame_tensor.numpy(), root.name, min_views)
    keep = view_mask.sum(1) >= min_views
    if not keep.all():
        warnings.warn(
            f"{root.name}: dropped {int((~keep).sum())} of {len(frames)} frames seen by fewer than {min_views} views",
            stacklevel=2,
        )
    check_not_empty(int(keep.sum()), root.name, f"frame seen by at least {min_views} views")
    return MultiViewDetections(
        keypoints[keep], confidence[keep], view_mask[keep], frame_tensor[keep], frame_tensor[~keep], skipped
    )


def read_openpose_files(
    paths: list[Path], hands: bool, dtype: torch.dtype, skip_unreadable: bool, folder: Path
) -> tuple[dict[Path, People], list[dict]]:
    """Path -> ``People`` of each file; with ``skip_unreadable`` a file that fails is reported ([{file, error}]) and
    left out, and it is an error only when none of ``paths`` (from ``folder``) can be read."""
    read, skipped = {}, []
    for path in progress_bar(paths, desc="reading", unit="file", leave=False):
        try:
            read[path] = read_openpose(path, hands, dtype)
        except (ValueError, OSError) as error:
            if not skip_unreadable:
                raise
            skipped.append({"file": str(path), "error": str(error)})
    if paths and not read:
        raise ValueError(
            f"{folder}: none of its {len(paths)} JSON files could be read as OpenPose output; first error: "
            f"{skipped[0]['error']}"
        )
    return read, skipped


def most_confident_views(
    people: list[dict[int, People]], frames: list[int], joints: int, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor, Tensor]:
    """People read per view {frame: People} (C), frames (F) -> keypoints (F, C, J, 2), confidence (F, C, J),
    view_mask (F, C): in each image the most confident person (largest summed confidence); none is an absent view."""
    keypoints = torch.zeros(len(frames), len(people), joints, 2, dtype=dtype)
    confidence = torch.zeros(len(frames), len(people), joints, dtype=dtype)
    view_mask = torch.zeros(len(frames), len(people), dtype=torch.bool)
    for f, frame in enumerate(frames):
        for c, view in enumerate(people):
            found = view.get(frame)
            if found is not None and len(found.confidence):
                best = found.confidence.sum(-1).argmax()
                keypoints[f, c], confidence[f, c], view_mask[f, c] = found.keypoints[best], found.confidence[best], True
    return keypoints, confidence, view_mask
