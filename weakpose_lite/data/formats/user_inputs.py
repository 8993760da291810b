"""Users' own detections, read for lifting: OpenPose JSON files or folders, per-view folders, or a dataset file.

Inputs (``read_user_detections``):
- one OpenPose JSON file, or a folder of them (one per image, every ``*.json``), filmed by one camera whose K comes
  from a calibration (``view``) or from a focal length and image size (principal point at the image centre): every
  person of every image is one row, lifted in that camera's frame;
- per-view folders named as OpenPose names a view's video (``openpose.view_folder``), with the calibration of every
  view: one row per frame, the most confident person of each view;
- a dataset ``.npz`` (``MultiViewDataset.save``), with its own cameras: one row per frame.

COCO-18 or BODY_25, mapped by joint name (``openpose``); the hands too when the skeleton lifts body + hands. In a
folder, a file that cannot be read is reported in ``skipped_files`` and skipped; a single file that cannot be read,
or a folder where none can, is an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite.cameras import Camera, pinhole_intrinsics
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.formats.openpose import (
    People,
    read_openpose,
    read_openpose_files,
    read_openpose_views,
    view_folder,
)
from weakpose_lite.data.formats.panoptic import Calibration, read_calibration
from weakpose_lite.skeleton import BODY, BODY_HANDS, Skeleton

INPUT_SUFFIXES = (".json", ".npz")
_FRAME_NUMBER = re.compile(r"(\d+)(?:_keypoints)?\.json$")


@dataclass(frozen=True)
class Detections:
    """What is lifted: detections as a dataset (N rows × C views) in the ``coordinate_frame`` ("camera" or "world")
    they are lifted to; per row, the person (N,) and source name; the files skipped as unreadable."""

    dataset: MultiViewDataset
    coordinate_frame: str
    people: Tensor
    sources: tuple[str, ...]
    skipped_files: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class SingleViewCamera:
    """How a single view's K (and lens) is known: a calibration file and its camera name, or focal + image size."""

    calibration: str | None = None
    view: str | None = None
    focal: float | None = None
    image_size: tuple[float, float] | None = None


def read_user_detections(
    source: str | Path, skeleton: Skeleton, camera: SingleViewCamera = SingleViewCamera(), camera_type: str = "hd"
) -> Detections:
    """The detections at ``source`` (see the module docstring) for a network lifting ``skeleton``."""
    detections = _read(check_input(source), skeleton, camera, camera_type)
    _check_hands(detections.dataset, skeleton, source)
    return detections


def _read(source: Path, skeleton: Skeleton, camera: SingleViewCamera, camera_type: str) -> Detections:
    if source.suffix.lower() == ".npz":
        return _dataset_file(source, skeleton)
    calibration = _read_calibration(camera, camera_type)
    if source.is_dir() and calibration is not None and _has_view_folders(source, calibration, camera_type):
        return _view_folders(source, calibration, skeleton, camera_type)
    if source.is_dir() and calibration is None:
        _refuse_view_folders_without_calibration(source, camera_type)
    single_camera = _single_view_camera(camera, calibration, source, camera_type)
    hands = skeleton.name == BODY_HANDS.name
    if source.is_dir():
        files = sorted(path for path in source.iterdir() if path.suffix.lower() == ".json" and path.is_file())
        if not files:
            raise ValueError(f"{source}: no *.json files (expected OpenPose output, one file per image)")
        read, skipped = read_openpose_files(files, hands, torch.float32, True, source)
    else:
        read, skipped = {source: read_openpose(source, hands=hands)}, []
    return _single_view(list(read.items()), skipped, single_camera, skeleton, source)


def _check_hands(dataset: MultiViewDataset, skeleton: Skeleton, source: str | Path) -> None:
    """A body + hands network on detections without a single hand keypoint would invent all 42 hand joints: refused."""
    if skeleton.name == BODY_HANDS.name and not (dataset.confidence[..., len(BODY.joints) :] > 0).any():
        raise ValueError(
            f"{Path(source).name}: hand keypoints must be detected in some image for a body + hands checkpoint, got "
            f"none (run OpenPose with --hand, or lift with a body checkpoint)"
        )


def check_input(path: str | Path) -> Path:
    """``path`` checked to be an existing folder, ``.json`` or ``.npz``."""
    source = Path(path)
    if not source.exists():
        raise ValueError(f"{source}: no such file or folder (expected OpenPose JSON files or a dataset .npz)")
    if source.is_file() and source.suffix.lower() not in INPUT_SUFFIXES:
        raise ValueError(f"{source}: expected a folder of OpenPose JSON files, one OpenPose .json or a dataset .npz")
    return source


def frame_numbers(names: list[str]) -> list[int]:
    """File names (N) -> frame numbers (N): the digits ending each name, or the place in the list if any lacks them
    or two share a number."""
    matches = [_FRAME_NUMBER.search(name) for name in names]
    numbers = [int(match[1]) for match in matches if match]
    if len(numbers) == len(names) and len(set(numbers)) == len(numbers):
        return numbers
    return list(range(len(names)))


def _dataset_file(path: Path, skeleton: Skeleton) -> Detections:
    dataset = MultiViewDataset.load(path)
    if dataset.skeleton_name != skeleton.name:
        raise ValueError(
            f"{path.name}: skeleton_name must be {skeleton.name!r} (the network's), got {dataset.skeleton_name!r}"
        )
    sources = tuple(dataset.sequence_names[i] for i in dataset.sequence_index.tolist())
    return Detections(dataset, "world", torch.zeros(dataset.num_frames, dtype=torch.long), sources)


def _read_calibration(camera: SingleViewCamera, camera_type: str) -> Calibration | None:
    if camera.calibration is None:
        return None
    if camera.focal is not None or camera.image_size is not None:
        raise ValueError("give either --calibration or --focal with --image-size, not both")
    return read_calibration(camera.calibration, camera_type)


def _has_view_folders(root: Path, calibration: Calibration, camera_type: str) -> bool:
    return any(view_folder(root, name, camera_type).is_dir() for name in calibration.names)


def _refuse_view_folders_without_calibration(root: Path, camera_type: str) -> None:
    """A folder of per-view folders (``<type>_XX_YY/``) is several views: without their cameras it cannot lift."""
    folders = sorted(path.name for path in root.glob(f"{camera_type}_*") if path.is_dir())
    if folders:
        raise ValueError(
            f"{root}: holds {len(folders)} per-view folders ({', '.join(folders[:3])}{', ...' if len(folders) > 3 else ''}): "
            f"lifting several views needs their cameras: pass --calibration FILE (the sequence's calibration JSON)"
        )


def _single_view_camera(camera: SingleViewCamera, calibration: Calibration | None, source: Path, camera_type: str) -> Camera:
    """The camera (1,) of a single view: identity pose (the output is in its frame), K and lens as given."""
    if calibration is not None:
        index = _chosen_view(calibration, camera, source, camera_type)
        K, dist = calibration.cameras.K[index], calibration.cameras.dist[index]
    elif camera.focal is not None and camera.image_size is not None:
        K, dist = pinhole_intrinsics(camera.focal, *camera.image_size), torch.zeros(5)
    else:
        given = "--focal without --image-size" if camera.focal is not None else (
            "--image-size without --focal" if camera.image_size is not None else "neither")  # fmt: skip
        raise ValueError(
            f"{source}: lifting a single view needs the camera's intrinsics K, and {given} was given: pass --focal F "
            f"and --image-size W H (pixels; principal point at the image centre), or --calibration FILE [--view NAME]"
        )
    return Camera(K[None], torch.eye(3, dtype=K.dtype)[None], torch.zeros(1, 3, dtype=K.dtype), dist[None])


def _chosen_view(calibration: Calibration, camera: SingleViewCamera, source: Path, camera_type: str) -> int:
    if camera.view is None:
        if len(calibration.names) == 1:
            return 0
        raise ValueError(
            f"{camera.calibration}: has {len(calibration.names)} {camera_type} cameras; choose the one that "
            f"filmed {source} with --view (one of {', '.join(calibration.names)}), or give per-view folders"
        )
    if camera.view not in calibration.names:
        raise ValueError(
            f"{camera.calibration}: has no {camera_type} camera {camera.view!r}; it has {', '.join(calibration.names)}"
        )
    return calibration.names.index(camera.view)


def _single_view(
    read: list[tuple[Path, People]], skipped: list[dict], camera: Camera, skeleton: Skeleton, source: Path
) -> Detections:
    """One row per person per file (a file with nobody: one row, absent), as a one-view dataset."""
    numbers = frame_numbers([path.name for path, _ in read])
    rows = [(number, path.name, person, people) for number, (path, people) in zip(numbers, read)
            for person in range(max(len(people.confidence), 1))]  # fmt: skip
    keypoints = torch.zeros(len(rows), 1, skeleton.num_joints, 2)
    confidence = torch.zeros(len(rows), 1, skeleton.num_joints)
    for row, (_, _, person, people) in enumerate(rows):
        if len(people.confidence):
            keypoints[row, 0], confidence[row, 0] = people.keypoints[person], people.confidence[person]
    present = torch.tensor([len(people.confidence) > 0 for *_, people in rows]).unsqueeze(1)
    frames = torch.tensor([row[0] for row in rows], dtype=torch.long)
    dataset = _detections_dataset(keypoints, confidence, present, camera, frames, skeleton, source.name)
    people = torch.tensor([row[2] for row in rows], dtype=torch.long)
    return Detections(dataset, "camera", people, tuple(row[1] for row in rows), skipped)


def _view_folders(root: Path, calibration: Calibration, skeleton: Skeleton, camera_type: str) -> Detections:
    """Per-view folders -> one row per frame number, the most confident person of each view; every frame is kept
    (a frame seen by too few views gets its status when lifted) and unreadable files are skipped."""
    hands = skeleton.name == BODY_HANDS.name
    found = read_openpose_views(root, calibration, hands=hands, camera_type=camera_type, min_views=0, skip_unreadable=True)
    dataset = _detections_dataset(
        found.keypoints, found.confidence, found.view_mask, calibration.cameras, found.frame_ids, skeleton, root.name
    )
    frames = len(found.frame_ids)
    return Detections(dataset, "world", torch.zeros(frames, dtype=torch.long), (root.name,) * frames, found.skipped_files)


def _detections_dataset(
    keypoints: Tensor, confidence: Tensor, view_mask: Tensor, cameras: Camera, frame_ids: Tensor, skeleton: Skeleton,
    name: str,
) -> MultiViewDataset:  # fmt: skip
    """Detections (F, C, J, 2), (F, C, J), (F, C) filmed by cameras (C,) -> a one-sequence dataset without 3D."""
    frames = keypoints.shape[0]
    index = torch.zeros(frames, dtype=torch.long)
    return MultiViewDataset(
        skeleton_name=skeleton.name, keypoints_2d=keypoints, confidence=confidence, view_mask=view_mask,
        cameras=cameras.to(keypoints.dtype)[None], sequence_index=index, subject_index=index, frame_ids=frame_ids,
        sequence_names=(name,), subject_names=("unknown",), points_3d=torch.full((frames, skeleton.num_joints, 3), math.nan),
        metadata={"name": name, "source": "openpose", "detections": "openpose"},
    )  # fmt: skip
