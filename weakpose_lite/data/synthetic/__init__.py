"""The kit's embedded default dataset: synthetic people in a Panoptic-like dome of 31 HD cameras, no download.

- The cameras come from ``rig`` (or a real rig (C,) can be given instead); people from ``body`` and their movement
  from ``motion``; detections from ``detections`` (OpenPose-like), every draw seeded by name (``seeding``).
- Views: most frames see all cameras; as in Panoptic (18–31 views in Table 1), some sequences lose a few cameras
  for their whole length (corrupted videos) and some frames lose more, never below ``min_views``.
- Splits are by whole subject, hence by whole sequence (no individual in two splits, as the paper's Table 1).
- ``motion="cmu:<folder>"`` films real people instead: CMU motion-capture trials (``captured``), with the same
  dome, views and detection model, split by the database's subjects (or by time, ``motion_split="time"``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite.cameras import Camera
from weakpose_lite.configs import check_field_types
from weakpose_lite.data.dataset import SPLITS, MultiViewDataset, load_splits, save_splits, split_path
from weakpose_lite.data.synthetic.body import Motion, pose_sequence, sample_subject
from weakpose_lite.data.synthetic.captured import MOTION_SPLITS, captured_pieces, find_trials, motion_folder
from weakpose_lite.data.synthetic.detections import DetectionConfig, simulate_detections
from weakpose_lite.data.synthetic.motion import sample_motion
from weakpose_lite.data.synthetic.rig import panoptic_like_rig, rig_centre
from weakpose_lite.data.synthetic.seeding import child_generator
from weakpose_lite.skeleton import get_skeleton


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic dataset; the defaults are the quick-reproduction preset (~25k train frames).

    skeleton: "body" or "body_hands"; fps: frames per second of the motion; split_fractions: (train, validation,
    test) shares of the subjects; view rates: probability that a sequence (frame) loses cameras. motion: "synthetic"
    (``motion``'s generator), or "cmu:<folder>" for captured trials (``captured``: body only; num_subjects and
    sequences_per_subject then unused, frames_per_sequence the longest piece); motion_split: "subject" or "time"
    (captured motion only: see ``captured``).
    """

    name: str = "synthetic"
    num_subjects: int = 52
    sequences_per_subject: int = 2
    frames_per_sequence: int = 300
    fps: float = 29.97
    skeleton: str = "body"
    seed: int = 0
    num_cameras: int = 31
    min_views: int = 18
    sequence_view_drop_rate: float = 0.3
    frame_view_drop_rate: float = 0.05
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    detections: DetectionConfig = field(default_factory=DetectionConfig)
    motion: str = "synthetic"
    motion_split: str = "subject"

    def __post_init__(self):
        check_field_types(self)
        if self.motion_split not in MOTION_SPLITS:
            raise ValueError(f"SyntheticConfig.motion_split must be one of {', '.join(MOTION_SPLITS)}, "
                             f"got {self.motion_split!r}")  # fmt: skip
        if motion_folder(self.motion) is not None and self.skeleton != "body":
            raise ValueError(f"SyntheticConfig.skeleton must be body with captured motion ({self.motion}: the CMU "
                             f"skeleton has no finger joints), got {self.skeleton!r}")  # fmt: skip

    @classmethod
    def tiny(cls, **changes) -> SyntheticConfig:
        """The CI preset: 10 subjects × 2 sequences × 90 frames (1,800 frames), a few seconds to generate."""
        return replace(cls(name="synthetic_tiny", num_subjects=10, frames_per_sequence=90), **changes)

    @classmethod
    def panoptic_sized(cls, **changes) -> SyntheticConfig:
        """Table 1's size: 52 subjects split 40/6/6, 4 × 1,320 frames each (211k/32k/32k frames); minutes to build."""
        sized = cls(
            name="synthetic_panoptic_sized", sequences_per_subject=4, frames_per_sequence=1320,
            split_fractions=(40 / 52, 6 / 52, 6 / 52),
        )  # fmt: skip
        return replace(sized, **changes)

    def to_dict(self) -> dict:
        """The config as plain JSON-serialisable values. The motion fields are left out at their defaults, so a set of
        synthetic motion keeps the cache folder and fingerprint it had before captured motion existed (the lesson
        checkpoints name the data they were trained on by that fingerprint)."""
        values = json.loads(json.dumps(asdict(self)))
        for name, default in (("motion", "synthetic"), ("motion_split", "subject")):
            if values[name] == default:
                del values[name]
        return values



def sample_view_masks(num_frames: int, num_cameras: int, generator: torch.Generator, config: SyntheticConfig) -> Tensor:
    """(T, C) bool for one sequence: a few cameras lost for the whole sequence, a few more in some frames."""
    min_views = min(config.min_views, num_cameras)
    spare = num_cameras - min_views
    lost = 0
    if spare and float(torch.rand((), generator=generator)) < config.sequence_view_drop_rate:
        lost = int(torch.randint(1, min(4, spare) + 1, (), generator=generator))
    scores = torch.rand(num_frames, num_cameras, generator=generator)
    scores[:, torch.randperm(num_cameras, generator=generator)[:lost]] = -1.0  # always among the lowest: dropped
    extra = torch.randint(1, max(spare - lost, 0) + 2, (num_frames,), generator=generator).clamp(max=spare - lost)
    extra = torch.where(torch.rand(num_frames, generator=generator) < config.frame_view_drop_rate, extra, 0)
    rank = scores.argsort(-1).argsort(-1)
    return rank >= (lost + extra)[:, None]


def assign_subjects(config: SyntheticConfig) -> dict[str, list[int]]:
    """Subject numbers of each split (train, validation, test), disjoint, drawn with the config's seed."""
    count = config.num_subjects
    _, validation_share, test_share = config.split_fractions
    validation, test = max(1, round(validation_share * count)), max(1, round(test_share * count))
    if count - validation - test < 1:
        raise ValueError(f"SyntheticConfig.num_subjects must leave at least one training subject, got {count}")
    order = torch.randperm(count, generator=child_generator(config.seed, "split")).tolist()
    chosen = {
        "validation": order[:validation],
        "test": order[validation : validation + test],
        "train": order[validation + test :],
    }
    return {split: sorted(chosen[split]) for split in SPLITS}



def _subject_sequences(subject_number: int, rig: Camera, floor_centre: Tensor, config: SyntheticConfig) -> list[dict]:
    """All sequences of one subject: 3D joints (T, J, 3), view mask (T, C), detections (T, C, J, 2) and (T, C, J)."""
    seed, frames = config.seed, config.frames_per_sequence
    subject = sample_subject(f"subject_{subject_number:03d}", child_generator(seed, "subject", subject_number))
    motions = [
        sample_motion(subject, frames, config.fps, child_generator(seed, "motion", subject_number, sequence))
        for sequence in range(config.sequences_per_subject)
    ]
    joint_count = get_skeleton(config.skeleton).num_joints
    # one forward-kinematics pass over all of the subject's frames: the model is per frame
    fields = ("angles", "finger_curl", "floor_position", "yaw")
    joined = Motion(*(torch.cat([getattr(motion, f) for motion in motions]) for f in fields))
    joined = replace(joined, floor_position=joined.floor_position + floor_centre)
    points = pose_sequence(subject, joined)[:, :joint_count].split(frames)
    return [
        _film(f"{subject.name}_sequence_{sequence}", subject.name, points_3d, rig, config, subject_number, sequence)
        for sequence, points_3d in enumerate(points)
    ]


def _film(name: str, subject: str, points_3d: Tensor, rig: Camera, config: SyntheticConfig, *keys) -> dict:
    """One sequence's joints (T, J, 3) seen by the rig: its view mask (T, C) and detections (T, C, J, 2) and (T, C, J),
    drawn from the random streams named ``keys``."""
    frames = points_3d.shape[0]
    views = sample_view_masks(frames, rig.t.shape[0], child_generator(config.seed, "views", *keys), config)
    keypoints, confidence = simulate_detections(
        points_3d, rig.repeat(frames), views, child_generator(config.seed, "detections", *keys),
        get_skeleton(config.skeleton), config.detections,
    )  # fmt: skip
    return {
        "name": name, "subject": subject, "points_3d": points_3d, "view_mask": views, "keypoints_2d": keypoints,
        "confidence": confidence, "frame_ids": torch.arange(frames),
    }  # fmt: skip


def _captured_splits(folder: Path, rig: Camera, floor_centre: Tensor, config: SyntheticConfig) -> dict[str, list]:
    """Each split's sequences of captured motion (``captured``), filmed like the synthetic ones."""
    pieces = captured_pieces(
        folder, config.fps, config.frames_per_sequence, config.motion_split, config.split_fractions, config.seed,
        floor_centre,
    )  # fmt: skip
    sequences = {split: [] for split in SPLITS}
    for piece in pieces:
        filmed = _film(piece.name, piece.subject, piece.points_3d, rig, config, "cmu", piece.name)
        sequences[piece.split].append(filmed | {"frame_ids": piece.frame_ids})
    empty = [split for split in SPLITS if not sequences[split]]
    if empty:
        raise ValueError(f"{config.motion}: its trials leave no frame for the {', '.join(empty)} split (too short for "
                         f"split_fractions {config.split_fractions})")  # fmt: skip
    return sequences


def _dataset(
    sequences: list[dict], rig: Camera, config: SyntheticConfig, split: str, rig_kind: str
) -> MultiViewDataset:
    """Stack a split's sequences (of any lengths) into one ``MultiViewDataset``."""
    lengths = torch.tensor([s["points_3d"].shape[0] for s in sequences], dtype=torch.long)
    subject_names = tuple(dict.fromkeys(s["subject"] for s in sequences))
    count = len(sequences)
    source = "synthetic" if motion_folder(config.motion) is None else "cmu_mocap"

    def stacked(key: str) -> Tensor:
        return torch.cat([s[key] for s in sequences])

    return MultiViewDataset(
        skeleton_name=config.skeleton,
        keypoints_2d=stacked("keypoints_2d"),
        confidence=stacked("confidence"),
        view_mask=stacked("view_mask"),
        cameras=rig.repeat(count),
        sequence_index=torch.arange(count).repeat_interleave(lengths),
        subject_index=torch.tensor([subject_names.index(s["subject"]) for s in sequences]).repeat_interleave(lengths),
        frame_ids=stacked("frame_ids"),
        sequence_names=tuple(s["name"] for s in sequences),
        subject_names=subject_names,
        points_3d=stacked("points_3d"),
        metadata={
            "name": config.name, "source": source, "detections": "simulated", "split": split, "rig": rig_kind,
            "fps": config.fps, "config": config.to_dict(),
        },
    )  # fmt: skip


def make_synthetic_splits(
    config: SyntheticConfig = SyntheticConfig(), rig: Camera | None = None
) -> dict[str, MultiViewDataset]:
    """Generate the train / validation / test datasets of ``config``, split by subject (and so by sequence).

    ``rig``: cameras (C,) to film in (e.g. a real Panoptic calibration, world mm, y down, floor at y = 0); by default a
    ``panoptic_like_rig`` drawn from the seed. People move around the point under the rig's centre.
    """
    get_skeleton(config.skeleton)  # an unknown name fails here, before any work
    if rig is not None and len(rig.batch_shape) != 1:
        raise ValueError(f"rig must hold one row of cameras (C,), got batch shape {tuple(rig.batch_shape)}")
    rig_kind = "synthetic" if rig is None else "given"
    if rig is None:
        rig = panoptic_like_rig(child_generator(config.seed, "rig"), config.num_cameras)
    rig = rig.to(torch.float32)
    floor_centre = rig_centre(rig)[[0, 2]]
    captured = motion_folder(config.motion)
    if captured is not None:
        sequences = _captured_splits(captured, rig, floor_centre, config)
    else:
        subjects = assign_subjects(config)
        sequences = {
            split: [s for number in subjects[split] for s in _subject_sequences(number, rig, floor_centre, config)]
            for split in SPLITS
        }
    return {split: _dataset(sequences[split], rig, config, split, rig_kind) for split in SPLITS}


def config_hash(config: SyntheticConfig, rig: Camera | None = None) -> str:
    """A short hex digest of the config (and of the rig's parameters, when one is given, and of the captured motion's
    files, so that a changed or added trial makes a new dataset)."""
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    captured = motion_folder(config.motion)
    for trial in find_trials(captured) if captured is not None else []:
        for path in (trial.skeleton, trial.motion):
            digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    if rig is not None:
        for name in ("K", "R", "t", "dist"):
            digest.update(getattr(rig, name).to(torch.float64).contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def synthetic_folder(config: SyntheticConfig, folder: str | Path, rig: Camera | None = None) -> Path:
    """Where ``load_or_make_synthetic`` keeps ``config``'s splits: ``folder/<name>-<config hash>``."""
    return Path(folder) / f"{config.name}-{config_hash(config, rig)}"


def load_or_make_synthetic(
    config: SyntheticConfig, folder: str | Path, rig: Camera | None = None
) -> dict[str, MultiViewDataset]:
    """The splits of ``config``, read from the cache under ``folder`` when present, else generated and cached there."""
    cache = synthetic_folder(config, folder, rig)
    if all(split_path(cache, split).exists() for split in SPLITS):
        return load_splits(cache)
    splits = make_synthetic_splits(config, rig)
    save_splits(splits, cache)
    return splits
