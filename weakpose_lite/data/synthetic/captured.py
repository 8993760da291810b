"""Real human motion from the CMU motion-capture database, placed in the synthetic dome instead of ``motion``'s.

``SyntheticConfig(motion="cmu:<folder>")`` reads every trial ``<subject>_<trial>.amc`` under ``<folder>`` (with its
subject's skeleton ``<subject>.asf`` beside it, the database's own names; ``data_scripts/download_cmu_mocap.py``
fetches them), and the rest of the synthetic pipeline (the dome, the views, the detection model) films it.

- **Skeleton.** The kit's COCO-18 body from the ASF bones' ends (``acclaim``): shoulders are the clavicles' ends,
  the neck their midpoint (as Panoptic's neck is the shoulder midpoint), elbows the humeri's ends, wrists the radii's
  ends (the ASF's ``wrist`` bone that follows is the palm), hips the ``hipjoint`` bones' ends (the femoral heads),
  knees the femurs' ends, ankles the tibiae's ends. CMU's markers define no face: the **nose, eyes and ears are an
  approximation**, placed rigidly in the frame of the ``head`` bone with the synthetic body's face layout
  (``body.FACE_POINTS``, fractions of standing height) about the head bone's start, so they turn with the head.
  The hands (``body_hands``) are not available: the ASF has one bone per hand and no finger joints.
- **Time.** 120 Hz capture to ``config.fps`` by taking the nearest captured frame (at most 1/240 s off; poses stay
  exact, so bone lengths stay constant, which interpolating positions would break).
- **Place.** A trial is cut into pieces of at most ``frames_per_sequence`` frames, shorter where the person travels
  further than ``CAPTURE_RADIUS_MM`` from the middle of the piece's path. Each piece keeps the capture's
  own floor (y = 0 in the ASF world) and its jumps, is centred on the dome by the middle of its root's range on the
  floor (plus up to ±150 mm), and is turned about the vertical by a random yaw (named random streams, ``seeding``).
- **Splits.** ``motion_split="subject"``: whole subjects of the database, shuffled with the seed in the synthetic
  set's shares (at least 3 subjects). ``"time"``: every trial is cut in time, its first ``split_fractions[0]`` to
  train, the next share to validation, the rest to test: the same people in every split, for a folder with too few
  subjects (a demonstration, not the paper's protocol).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite.data.dataset import SPLITS
from weakpose_lite.data.formats.acclaim import CMU_FPS, AcclaimSkeleton, forward_kinematics, read_amc, read_asf
from weakpose_lite.data.synthetic.body import FACE_POINTS, body_to_world
from weakpose_lite.data.synthetic.seeding import child_generator, uniform
from weakpose_lite.skeleton import COCO18

CMU_PREFIX = "cmu:"
MOTION_SPLITS = ("subject", "time")
_TRIAL_FILE = re.compile(r"^(\d+)_(\d+)\.amc$")
# COCO-18 joints taken as the end of one ASF bone; the neck and the face are built (``body_joints``).
BONE_ENDS = {
    "right_shoulder": "rclavicle", "right_elbow": "rhumerus", "right_wrist": "rradius",
    "left_shoulder": "lclavicle", "left_elbow": "lhumerus", "left_wrist": "lradius",
    "right_hip": "rhipjoint", "right_knee": "rfemur", "right_ankle": "rtibia",
    "left_hip": "lhipjoint", "left_knee": "lfemur", "left_ankle": "ltibia",
}  # fmt: skip
# How far from the dome's centre a piece's root may go: the synthetic people stay within 0.75 m, Panoptic's range of
# motion subjects near the middle; the nearest HD cameras stand 1.8 m away on the floor plan.
CAPTURE_RADIUS_MM = 1000.0
_HEIGHT_CHAIN = ("lfemur", "ltibia", "lowerback", "upperback", "thorax", "lowerneck", "upperneck", "head")
_ANKLE_HEIGHT_FRACTION = 0.039  # of standing height (``body.SEGMENT_FRACTIONS``)


@dataclass(frozen=True)
class Trial:
    """One captured trial on disk: subject ("01"), trial ("01_01"), its skeleton and motion files."""

    subject: str
    name: str
    skeleton: Path
    motion: Path


@dataclass(frozen=True)
class Piece:
    """A stretch of one trial, placed in the dome: name, subject name, split, joints (T, 18, 3) Panoptic world mm
    (y down, floor y = 0), and the frame numbers (T,) at ``fps`` from the trial's start."""

    name: str
    subject: str
    split: str
    points_3d: Tensor
    frame_ids: Tensor


def motion_folder(motion: str) -> Path | None:
    """``"cmu:<folder>"`` -> the folder; ``"synthetic"`` -> None; anything else is a one-line ValueError."""
    if motion == "synthetic":
        return None
    if not motion.startswith(CMU_PREFIX) or not motion[len(CMU_PREFIX) :]:
        raise ValueError(f"SyntheticConfig.motion must be 'synthetic' or 'cmu:<folder of CMU .asf/.amc files>', "
                         f"got {motion!r}")  # fmt: skip
    return Path(motion[len(CMU_PREFIX) :])


def find_trials(folder: Path) -> list[Trial]:
    """Every ``<subject>_<trial>.amc`` under ``folder`` (any depth) with its ``<subject>.asf`` beside it, sorted."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: must be a folder of CMU motion-capture files (<subject>.asf, <subject>_<trial>.amc)")
    trials = []
    for path in sorted(folder.rglob("*.amc")):
        match = _TRIAL_FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path}: a trial must be named <subject>_<trial>.amc, as the CMU database names them")
        skeleton = path.with_name(f"{match[1]}.asf")
        if not skeleton.is_file():
            raise ValueError(f"{path}: its subject's skeleton {skeleton.name} must lie beside it, found none")
        trials.append(Trial(match[1], path.stem, skeleton, path))
    if not trials:
        raise ValueError(f"{folder}: holds no CMU trial (<subject>_<trial>.amc); data_scripts/download_cmu_mocap.py "
                         f"fetches some")  # fmt: skip
    return trials


def standing_height(skeleton: AcclaimSkeleton) -> float:
    """Standing height in mm: the lengths of leg, spine, neck and head stacked upright, the hip joint's drop from the
    root, and the ankle's height above the floor (the ASF stops at the ankle)."""
    hip = skeleton.bones["lhipjoint"]
    upright = hip.length * abs(float(hip.direction[1])) + sum(skeleton.bones[name].length for name in _HEIGHT_CHAIN)
    return upright * skeleton.mm_per_unit / (1 - _ANKLE_HEIGHT_FRACTION)


def body_joints(skeleton: AcclaimSkeleton, motion: dict[str, Tensor]) -> Tensor:
    """An ASF skeleton and its AMC motion -> COCO-18 joints (T, 18, 3) in mm, capture frame (y up), float64."""
    missing = sorted((set(BONE_ENDS.values()) | {"head", "upperneck"}) - set(skeleton.bones))
    if missing:
        raise ValueError(f"{skeleton.source}: must have the CMU bones {', '.join(missing)} to give a COCO-18 body")
    position, rotation = forward_kinematics(skeleton, motion)
    joints = {name: position[bone] for name, bone in BONE_ENDS.items()}
    joints["neck"] = (joints["left_shoulder"] + joints["right_shoulder"]) / 2
    height = standing_height(skeleton)
    for name, offset in FACE_POINTS.items():  # about the head bone's start, as the synthetic face about its pivot
        joints[name] = position["upperneck"] + rotation["head"] @ (height * torch.tensor(offset, dtype=torch.float64))
    return torch.stack([joints[name] for name in COCO18], -2)


def resample(points: Tensor, fps: float, source_fps: float = CMU_FPS) -> tuple[Tensor, Tensor]:
    """Frames (T, ...) at ``source_fps`` -> (frames at ``fps``, their indices (T',) into the input): the nearest."""
    count = math.floor((points.shape[0] - 1) * fps / source_fps) + 1
    indices = torch.round(torch.arange(count, dtype=torch.float64) * source_fps / fps).long()
    return points[indices], indices


def place_in_dome(points: Tensor, floor_centre: Tensor, generator: torch.Generator) -> Tensor:
    """Capture-frame joints (T, J, 3) mm (y up, floor y = 0) -> Panoptic world (T, J, 3): centred on ``floor_centre``
    (2,) world (x, z) by the middle of the root's floor range, plus up to ±150 mm, turned by a random yaw."""
    root = points[:, [COCO18.index("left_hip"), COCO18.index("right_hip")]].mean(1)[:, [0, 2]]
    middle = (root.min(0).values + root.max(0).values) / 2
    centred = points.clone()
    centred[..., [0, 2]] -= middle
    yaw = uniform(generator, 0, 2 * math.pi, dtype=torch.float64).expand(points.shape[0])
    offset = floor_centre.to(torch.float64) + uniform(generator, -150, 150, 2, dtype=torch.float64)
    return body_to_world(centred, yaw, offset.expand(points.shape[0], 2))


def captured_pieces(
    folder: Path, fps: float, frames_per_piece: int, split: str, fractions: tuple[float, float, float], seed: int,
    floor_centre: Tensor,
) -> list[Piece]:  # fmt: skip
    """Every trial under ``folder`` as pieces placed in the dome, each with its split (see the module docstring)."""
    if split not in MOTION_SPLITS:
        raise ValueError(f"SyntheticConfig.motion_split must be one of {', '.join(MOTION_SPLITS)}, got {split!r}")
    trials = find_trials(folder)
    subjects = sorted({trial.subject for trial in trials})
    of_subject = _subject_splits(subjects, fractions, seed, folder) if split == "subject" else {}
    skeletons = {subject: read_asf(next(t.skeleton for t in trials if t.subject == subject)) for subject in subjects}
    pieces = []
    for trial in trials:
        skeleton = skeletons[trial.subject]
        points, _ = resample(body_joints(skeleton, read_amc(trial.motion, skeleton)), fps)
        for part, (start, stop) in _parts(points.shape[0], split, of_subject.get(trial.subject), fractions).items():
            for first, last in _pieces(points[start:stop], frames_per_piece, start):
                name = f"cmu_{trial.name}_{part}_{first:05d}"
                placed = place_in_dome(points[first:last], floor_centre, child_generator(seed, "placement", name))
                frame_ids = torch.arange(first, last)
                pieces.append(Piece(name, f"cmu_{trial.subject}", part, placed.to(torch.float32), frame_ids))
    return pieces


def _pieces(points: Tensor, most_frames: int, start: int) -> list[tuple[int, int]]:
    """Cut joints (T, J, 3) (capture frame) into frame ranges [first, last) + ``start``, each at most ``most_frames``
    long, over which the root's floor range fits in a circle of ``CAPTURE_RADIUS_MM`` (its bounding box's
    half-diagonal): a trial that travels far becomes several pieces, each placed in the dome anew."""
    root = points[:, [COCO18.index("left_hip"), COCO18.index("right_hip")]].mean(1)[:, [0, 2]].tolist()
    ranges, first = [], 0
    low = high = root[0]
    for frame in range(1, len(root) + 1):
        if frame < len(root):
            low = [min(a, b) for a, b in zip(low, root[frame])]
            high = [max(a, b) for a, b in zip(high, root[frame])]
        too_far = frame < len(root) and math.dist(low, high) / 2 > CAPTURE_RADIUS_MM
        if frame == len(root) or too_far or frame - first == most_frames:
            ranges.append((start + first, start + frame))
            first = frame
            low = high = root[min(frame, len(root) - 1)]
    return ranges


def _parts(count: int, split: str, subject_split: str | None, fractions: tuple) -> dict[str, tuple[int, int]]:
    """The frame ranges [start, stop) of one trial in each split it feeds."""
    if split == "subject":
        return {subject_split: (0, count)}
    train_end = round(fractions[0] * count)
    validation_end = round((fractions[0] + fractions[1]) * count)
    ranges = {"train": (0, train_end), "validation": (train_end, validation_end), "test": (validation_end, count)}
    return {part: bounds for part, bounds in ranges.items() if bounds[1] > bounds[0]}


def _subject_splits(subjects: list[str], fractions: tuple, seed: int, folder: Path) -> dict[str, str]:
    """Each subject's split: whole subjects shuffled with ``seed``, the validation and test shares at least one."""
    count = len(subjects)
    validation = max(1, round(fractions[1] * count))
    test = max(1, round(fractions[2] * count))
    if count - validation - test < 1:
        raise ValueError(f"{folder}: a split by subject needs at least {validation + test + 1} subjects, found "
                         f"{count} ({', '.join(subjects)}); download more with data_scripts/download_cmu_mocap.py, "
                         f"or split by time (motion_split='time')")  # fmt: skip
    order = torch.randperm(count, generator=child_generator(seed, "split", "cmu")).tolist()
    chosen = {"validation": order[:validation], "test": order[validation : validation + test]}
    return {subjects[k]: next((s for s in SPLITS if k in chosen.get(s, ())), "train") for k in range(count)}
