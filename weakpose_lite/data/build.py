"""Build ``MultiViewDataset`` splits from downloaded CMU Panoptic sequences, whole sequences per split.

Per sequence folder ``<root>/<seq>/`` (the layout of ``panoptic.py``):
- cameras from ``calibration_<seq>.json`` (HD by default);
- 3D groundtruth of one body from ``hdPose3d_stage1_coco19/`` in COCO-18, joints below ``min_confidence`` set to
  NaN; with ``skeleton="body_hands"`` the 42 hand landmarks of ``hdHand3d/`` follow (``skeleton.BODY_HANDS``);
- 2D detections from OpenPose output in ``<seq>/openpose/`` (layout of ``openpose.py``) when that folder exists,
  else simulated by projecting the 3D groundtruth through the detection-noise model of ``detections.py``.
  ``metadata["detections"]`` says which: ``"openpose"``, ``"simulated"``, or ``"mixed"`` across sequences.

Panoptic does not name its subjects, so each sequence counts as its own subject. Splits hold whole sequences,
so no frame of a test person is seen in training.
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from weakpose_lite.cameras import stack_cameras
from weakpose_lite.configs import check_field_types
from weakpose_lite.data.dataset import SPLITS, MultiViewDataset, split_path
from weakpose_lite.data.formats.openpose import OPENPOSE_FOLDER, read_openpose_views
from weakpose_lite.data.formats.panoptic import (
    BODY_FOLDER,
    Calibration,
    calibration_file,
    hand_frames,
    read_body_sequence,
    read_calibration,
    read_hand_sequence,
)
from weakpose_lite.data.formats.validation import check_not_empty, check_views_per_frame
from weakpose_lite.data.synthetic.detections import DetectionConfig, simulate_detections
from weakpose_lite.data.synthetic.seeding import child_generator
from weakpose_lite.skeleton import BODY, BODY_HANDS, get_skeleton

LICENCE = "CMU Panoptic Studio data: non-commercial research use only (panoptic-toolbox README)"
SKELETON_CHOICES = ("auto", BODY.name, BODY_HANDS.name)


@dataclass(frozen=True)
class BuildConfig:
    """How to turn Panoptic sequences into datasets.

    skeleton: "body", "body_hands", or "auto" (body_hands when every sequence has hand files).
    min_confidence: 3D joints at or below it become NaN (0.1 is panoptic-toolbox's threshold for a valid joint).
    split_fractions: train / validation / test shares of the sequences when no split file is given.
    detection_config: the detection-noise model of simulated detections; its image size is taken from the cameras.
    """

    camera_type: str = "hd"
    skeleton: str = "auto"
    body_id: int | None = None
    min_confidence: float = 0.1
    min_views: int = 2
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    detection_config: DetectionConfig = DetectionConfig()

    def __post_init__(self):
        check_field_types(self)
        if not self.camera_type:
            raise ValueError(f"BuildConfig.camera_type must be a camera type like 'hd', got {self.camera_type!r}")
        if self.skeleton not in SKELETON_CHOICES:
            raise ValueError(f"BuildConfig.skeleton must be one of {SKELETON_CHOICES}, got {self.skeleton!r}")
        if self.body_id is not None and self.body_id < 0:
            raise ValueError(f"BuildConfig.body_id must be None or an integer >= 0, got {self.body_id!r}")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"BuildConfig.min_confidence must be a number in [0, 1], got {self.min_confidence!r}")
        if self.min_views < 2:
            raise ValueError(f"BuildConfig.min_views must be an integer >= 2 (Eq. 6 needs two), got {self.min_views!r}")
        if min(self.split_fractions) < 0 or not math.isclose(sum(self.split_fractions), 1.0):
            raise ValueError(
                f"BuildConfig.split_fractions must be three numbers >= 0 summing to 1, got {self.split_fractions!r}"
            )


class SequenceData(NamedTuple):
    """One built sequence: keypoints_2d (F, C, J, 2), confidence (F, C, J), view_mask (F, C), frame_ids (F,),
    points_3d (F, J, 3) world mm, NaN where unknown; its calibration; "openpose" or "simulated"; frames dropped."""

    keypoints_2d: Tensor
    confidence: Tensor
    view_mask: Tensor
    frame_ids: Tensor
    points_3d: Tensor
    calibration: Calibration
    detections: str
    dropped_frames: int
    body_id: int


def read_split_file(path: str | Path) -> dict[str, str]:
    """Sequence name -> split from a text file of ``<sequence> <split>`` lines (``#`` starts a comment).

    A sequence named twice is an error naming both lines, even with the same split: one of the two lines is a typo.
    """
    path = Path(path)
    splits, first_line = {}, {}
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2 or words[1] not in SPLITS:
            raise ValueError(
                f"{path.name}: line {number} must read '<sequence> <split>' with split in {SPLITS}, got {line!r}"
            )
        if words[0] in first_line:
            raise ValueError(
                f"{path.name}: line {number} names sequence {words[0]!r} again (first on line {first_line[words[0]]}); "
                f"each sequence must be in one split, once"
            )
        splits[words[0]], first_line[words[0]] = words[1], number
    check_not_empty(len(splits), path.name, "'<sequence> <split>' lines")
    return splits


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError as error:
        raise ValueError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from error


def check_unique_sequences(sequences: list[str], source: str) -> None:
    """Refuse a sequence listed twice in ``sequences`` (from ``source``: a flag or a file): it would be built twice."""
    seen = set()
    for name in sequences:
        if name in seen:
            raise ValueError(f"{source}: sequence {name!r} is listed twice; list each sequence once")
        seen.add(name)


def check_sequence_folders(root: str | Path, sequences: list[str]) -> None:
    """Refuse a sequence whose folder, calibration file or 3D body folder is missing, without reading any frame."""
    root, hint = Path(root), "see data_scripts/download_panoptic.py"
    for name in sequences:
        folder = root / name
        if not folder.is_dir():
            raise ValueError(f"{name}: sequence folder {folder} is missing ({hint})")
        if not calibration_file(folder).is_file():
            raise ValueError(f"{name}: {calibration_file(folder).name} is missing ({hint})")
        if not (folder / BODY_FOLDER).is_dir():
            raise ValueError(f"{name}: {BODY_FOLDER}/ is missing, the 3D bodies ({hint})")


def all_train_note(sequences: list[str], split_file: str | Path | None) -> str | None:
    """The line that says every sequence goes to train (fewer than three and no split file), else None."""
    if split_file or len(sequences) >= 3:
        return None
    return (f"{len(sequences)} sequence(s) and no split file: all go to train "
            f"(validation and test need three sequences or more, or a split file)")  # fmt: skip


def assign_splits(
    sequences: list[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, str]:
    """Sequence name -> split, whole sequences shuffled by ``seed`` and cut by ``fractions``.

    With three sequences or more, validation and test get at least one each; with fewer, all go to train.
    """
    order = sorted(sequences)
    random.Random(seed).shuffle(order)
    count = len(order)
    held_out = [max(1, round(fraction * count)) if count >= 3 else 0 for fraction in fractions[1:]]
    train = count - sum(held_out)
    bounds = [0, train, train + held_out[0], count]
    return {name: SPLITS[s] for s in range(3) for name in order[bounds[s] : bounds[s + 1]]}


def split_plan(
    sequences: list[str], split_file: str | Path | None = None, config: BuildConfig = BuildConfig()
) -> dict[str, list[str]]:
    """Split -> its sequences, from ``split_file`` when given (restricted to ``sequences``) else ``assign_splits``."""
    check_unique_sequences(sequences, "sequences")
    if split_file:
        assignment = read_split_file(split_file)
    else:
        assignment = assign_splits(sequences, config.split_fractions, config.seed)
    unknown = sorted(set(sequences) - set(assignment))
    if unknown:
        raise ValueError(f"{Path(split_file).name}: sequences {unknown} have no split")
    return {split: [name for name in sequences if assignment[name] == split] for split in SPLITS}


def detections_source(sequence_folder: str | Path) -> str:
    """"openpose" when the sequence folder holds OpenPose output, else "simulated"."""
    return "openpose" if (Path(sequence_folder) / OPENPOSE_FOLDER).is_dir() else "simulated"


def choose_skeleton(folders: list[Path], config: BuildConfig) -> str:
    """The skeleton name to build: the configured one, or for "auto" body_hands when every sequence has hands."""
    if config.skeleton != "auto":
        return config.skeleton
    return BODY_HANDS.name if folders and all(hand_frames(folder) for folder in folders) else BODY.name


def build_sequence(folder: str | Path, skeleton: str, config: BuildConfig = BuildConfig()) -> SequenceData:
    """Read one downloaded sequence into detections (F, C, J, 2) and 3D groundtruth (F, J, 3) in mm."""
    folder = Path(folder)
    check_sequence_folders(folder.parent, [folder.name])
    calibration = read_calibration(calibration_file(folder), config.camera_type)
    bodies = read_body_sequence(folder, config.body_id)
    points = bodies.points.masked_fill((bodies.confidence <= config.min_confidence)[..., None], float("nan"))
    hands = skeleton == BODY_HANDS.name
    if hands:
        hand_points, _ = read_hand_sequence(folder, bodies.frame_ids, bodies.body_id)
        points = torch.cat([points, hand_points], dim=1)
    source = detections_source(folder)
    if source == "openpose":
        found = read_openpose_views(
            folder / OPENPOSE_FOLDER, calibration, bodies.frame_ids, hands, config.camera_type, config.min_views
        )
        points = points[torch.isin(bodies.frame_ids, found.frame_ids)]
        keypoints, confidence, view_mask, frame_ids = found.keypoints, found.confidence, found.view_mask, found.frame_ids
        dropped = len(found.dropped_frame_ids)
    else:
        keypoints, confidence, view_mask = simulate(points, calibration, folder.name, skeleton, config)
        frame_ids, dropped = bodies.frame_ids, 0
    return SequenceData(
        keypoints, confidence, view_mask, frame_ids, points, calibration, source, dropped, body_id=bodies.body_id
    )


def simulate(
    points: Tensor, calibration: Calibration, name: str, skeleton: str, config: BuildConfig
) -> tuple[Tensor, Tensor, Tensor]:
    """Groundtruth (F, J, 3) mm, NaN where unknown -> simulated keypoints (F, C, J, 2), confidence (F, C, J) and
    view_mask (F, C) (every view present), from ``detections.simulate_detections`` at the cameras' image size."""
    sizes = {tuple(size) for size in calibration.image_sizes.tolist()}
    if len(sizes) != 1:
        raise ValueError(f"{name}: simulated detections need one image size for all cameras, got {sorted(sizes)}")
    detection_config = replace(config.detection_config, image_size=sizes.pop())
    cameras = calibration.cameras.to(points.dtype)
    frames, views = points.shape[0], cameras.batch_shape[0]
    view_mask = torch.ones(frames, views, dtype=torch.bool)
    # A generator per sequence, so adding a sequence does not change the noise of the others.
    generator = child_generator(config.seed, "panoptic detections", name)
    keypoints, confidence = simulate_detections(
        points, cameras.repeat(frames), view_mask, generator, get_skeleton(skeleton), detection_config
    )
    return keypoints, confidence, view_mask


def build_split(
    folders: list[Path], skeleton: str, split: str, config: BuildConfig = BuildConfig()
) -> MultiViewDataset:
    """The dataset of one split from its sequence folders (S of them); every sequence needs the same camera count C."""
    check_not_empty(len(folders), split, "sequence in this split")
    built = [build_sequence(folder, skeleton, config) for folder in folders]
    names = [folder.name for folder in folders]
    counts = {name: len(data.calibration.names) for name, data in zip(names, built)}
    if len(set(counts.values())) > 1:
        raise ValueError(f"{split}: every sequence needs the same number of {config.camera_type} cameras, got {counts}")
    frames = torch.tensor([len(data.frame_ids) for data in built])
    sequence_index = torch.repeat_interleave(torch.arange(len(built)), frames)
    view_mask = torch.cat([data.view_mask for data in built])
    frame_ids = torch.cat([data.frame_ids for data in built])
    check_views_per_frame(view_mask.sum(1).numpy(), frame_ids.numpy(), split, config.min_views)
    sources = {data.detections for data in built}
    metadata = {
        "name": f"panoptic_{split}",
        "source": "cmu_panoptic",
        "split": split,
        "detections": sources.pop() if len(sources) == 1 else "mixed",
        "detections_per_sequence": {name: data.detections for name, data in zip(names, built)},
        "dropped_frames": {name: data.dropped_frames for name, data in zip(names, built)},
        "body_ids": {name: data.body_id for name, data in zip(names, built)},
        "camera_type": config.camera_type,
        "camera_names": list(built[0].calibration.names),
        "units": "mm",
        "licence": LICENCE,
    }
    return MultiViewDataset(
        skeleton_name=skeleton,
        keypoints_2d=torch.cat([data.keypoints_2d for data in built]),
        confidence=torch.cat([data.confidence for data in built]),
        view_mask=view_mask,
        cameras=stack_cameras([data.calibration.cameras for data in built]),
        sequence_index=sequence_index,
        subject_index=sequence_index.clone(),
        frame_ids=frame_ids,
        sequence_names=tuple(names),
        subject_names=tuple(names),
        points_3d=torch.cat([data.points_3d for data in built]),
        metadata=metadata,
    )


def build_datasets(
    root: str | Path,
    out: str | Path,
    sequences: list[str],
    split_file: str | Path | None = None,
    config: BuildConfig = BuildConfig(),
    on_written: Callable[[str, MultiViewDataset, Path], None] | None = None,
) -> dict[str, Path]:
    """Build and save ``<out>/<split>.npz`` for every non-empty split; returns split -> written path.

    All or nothing: every sequence folder is checked before anything is built, the splits are written into a
    temporary folder beside ``out``, and only when every one is built do they take the place of ``out``'s split files
    (``_publish``): a failed build leaves the previous one as it was, never a mix of two. ``on_written(split, dataset,
    path)`` is called as each split is built (the build script prints the dataset's summary).
    """
    root, out = Path(root), Path(out)
    check_not_empty(len(sequences), root.name, "sequence asked for")
    plan = split_plan(sequences, split_file, config)
    check_sequence_folders(root, sequences)
    skeleton = choose_skeleton([root / name for name in sequences], config)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".building", dir=out.parent))
    try:
        for split, names in plan.items():
            if names:
                dataset = build_split([root / name for name in names], skeleton, split, config)
                dataset.save(split_path(staging, split))
                if on_written is not None:
                    on_written(split, dataset, split_path(out, split))
        _publish(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {split: split_path(out, split) for split, names in plan.items() if names}


def _publish(staging: Path, out: Path) -> None:
    """``staging``'s split files in place of ``out``'s, by two renames of whole folders (between them ``out`` is
    missing, never mixed); whatever else ``out`` held is moved back into it."""
    if not out.exists():
        staging.rename(out)
        return
    previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".previous", dir=out.parent))
    out.rename(previous / out.name)
    staging.rename(out)
    splits = {split_path(out, split).name for split in SPLITS}
    for entry in (previous / out.name).iterdir():
        if entry.name not in splits:
            entry.rename(out / entry.name)
    shutil.rmtree(previous)
