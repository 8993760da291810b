"""The kit's embedded default dataset: synthetic people in a Panoptic-like dome of 31 HD cameras, no download.

- The rig (``panoptic_like_rig``) copies the geometry measured on the real HD calibrations: cameras on a sphere of
  radius ≈ 2.77 m about a point 1.31 m above the floor, in seven rings from y = −3.4 m to −0.74 m (world y points
  down, floor at y = 0), so their distance to the volume in x–z runs from 1.8 m (top ring) to 2.7 m; focal lengths
  1393–1862 px (most near 1396), principal point near the image centre, OpenCV lenses with k1 ≈ −0.29 to −0.17,
  k2 ≈ 0.16–0.22 and tiny p1, p2, k3; each camera aimed at the volume centre within a few degrees. A real rig (C,)
  can be given instead.
- People and motion come from ``motion``; detections from ``detections`` (OpenPose-like).
- Views: most frames see all cameras; as in Panoptic (18–31 views in Table 1), some sequences lose a few cameras
  for their whole length (corrupted videos) and some frames lose more, never below ``min_views``.
- Splits are by whole subject, hence by whole sequence (no individual in two splits, as the paper's Table 1).

Every random draw comes from a ``torch.Generator`` seeded from the config's seed and the name of what it draws
(rig, subject 7, motion of subject 7 sequence 1, ...), so a dataset is reproducible and one subject's data does not
depend on how many other subjects there are.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from weakpose_lite.cameras import Camera, look_at_rotation
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.data.detections import DetectionConfig, simulate_detections
from weakpose_lite.data.motion import Motion, pose_sequence, sample_motion, sample_subject
from weakpose_lite.skeleton import get_skeleton

SPLITS = ("train", "validation", "test")
PANOPTIC_UP = (0.0, -1.0, 0.0)  # Panoptic's world y points down
DOME_CENTRE_MM = (0.0, -1310.0, 0.0)  # where the real HD cameras' optical axes meet, 1.31 m above the floor
DOME_RADIUS_MM = 2770.0
# Seven rings of the real HD dome, top to bottom: height (world y, mm) and number of cameras.
_RINGS = ((-3400.0, 5), (-3120.0, 5), (-2400.0, 5), (-1980.0, 5), (-1520.0, 5), (-1190.0, 5), (-740.0, 1))
_GOLDEN_ANGLE = math.radians(137.5)  # staggers the rings so that no two cameras stand one above the other


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic dataset; the defaults are the quick-reproduction preset (~25k train frames).

    skeleton: "body" or "body_hands"; fps: frames per second of the motion; split_fractions: (train, validation,
    test) shares of the subjects; view rates: probability that a sequence (frame) loses cameras.
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
        """The config as plain JSON-serialisable values."""
        return json.loads(json.dumps(asdict(self)))


def child_generator(seed: int, *keys: object) -> torch.Generator:
    """A generator seeded from ``seed`` and the keys naming what it will draw (stable across runs and machines)."""
    digest = hashlib.sha256(repr((seed,) + keys).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def _uniform(generator: torch.Generator, low: float, high: float, count: int) -> Tensor:
    return low + (high - low) * torch.rand(count, generator=generator, dtype=torch.float64)


def _ring_of_each_camera(num_cameras: int) -> Tensor:
    """(C,) ring index of each camera, in the proportions of Panoptic's rings (exactly its rings for C = 31)."""
    counts = torch.tensor([count for _, count in _RINGS], dtype=torch.float64)
    bounds = counts.cumsum(0) / counts.sum()
    return torch.searchsorted(bounds, (torch.arange(num_cameras, dtype=torch.float64) + 0.5) / num_cameras)


def panoptic_like_rig(generator: torch.Generator, num_cameras: int = 31) -> Camera:
    """A random dome of HD cameras (C,) like Panoptic's, float32, world mm (y down); see the module docstring."""
    ring = _ring_of_each_camera(num_cameras)
    ring_heights = torch.tensor([height for height, _ in _RINGS], dtype=torch.float64)
    heights = ring_heights[ring] + _uniform(generator, -20, 20, num_cameras)
    per_ring = torch.bincount(ring, minlength=len(_RINGS)).to(torch.float64)
    slot = torch.stack([(ring[:k] == ring[k]).sum() for k in range(num_cameras)]).to(torch.float64)
    jitter = math.radians(8) * (2 * _uniform(generator, 0, 1, num_cameras) - 1)
    azimuth = 2 * math.pi * slot / per_ring[ring] + _GOLDEN_ANGLE * ring + jitter
    centre = torch.tensor(DOME_CENTRE_MM, dtype=torch.float64)
    radius = DOME_RADIUS_MM + _uniform(generator, -40, 40, num_cameras)
    horizontal = torch.sqrt(radius**2 - (heights - centre[1]) ** 2)
    position = torch.stack([horizontal * torch.cos(azimuth), heights, horizontal * torch.sin(azimuth)], -1)
    aim = centre + 120 * torch.randn(num_cameras, 3, generator=generator, dtype=torch.float64)
    roll = math.radians(2.5) * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    R = _roll(roll) @ look_at_rotation(position, aim, torch.tensor(PANOPTIC_UP, dtype=torch.float64))
    t = -(R @ position.unsqueeze(-1)).squeeze(-1)
    K, dist = _panoptic_like_lenses(num_cameras, generator)
    return Camera(K, R, t, dist).to(torch.float32)


def _roll(angle: Tensor) -> Tensor:
    """Rotations (C, 3, 3) about the optical axis by ``angle`` (C,) rad."""
    cos, sin, zero, one = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], -1).reshape(-1, 3, 3)


def _panoptic_like_lenses(num_cameras: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Intrinsics K (C, 3, 3) and distortion (C, 5) drawn like the 31 real HD cameras.

    Most real HD lenses have f ≈ 1396 px, the rest up to 1862 px; k1 rises from −0.29 to −0.17 with f.
    """
    short = _uniform(generator, 1393, 1400, num_cameras)
    long = _uniform(generator, 1400, 1862, num_cameras)
    fx = torch.where(_uniform(generator, 0, 1, num_cameras) < 0.6, short, long)
    K = torch.zeros(num_cameras, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1] = fx, fx - _uniform(generator, 3, 5, num_cameras)
    K[:, 0, 2] = 945 + 8 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    K[:, 1, 2] = 558 + 7 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    K[:, 2, 2] = 1
    k1 = -0.285 + 0.00024 * (fx - 1396) + 0.008 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    k1 = k1.clamp(-0.35, -0.15)
    k2 = _uniform(generator, 0.16, 0.22, num_cameras)
    p1 = -2e-4 + 3e-4 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    p2 = 5e-4 + 3e-4 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    k3 = _uniform(generator, -0.06, 0.02, num_cameras)
    return K, torch.stack([k1, k2, p1, p2, k3], -1)


def rig_centre(cameras: Camera) -> Tensor:
    """Cameras (C,) -> the point (3,) nearest to all their optical axes (least squares): the capture volume's centre."""
    axis = cameras.R[:, 2, :].to(torch.float64)
    centre = cameras.center.to(torch.float64)
    projector = torch.eye(3, dtype=torch.float64) - axis[:, :, None] * axis[:, None, :]  # removes the axis direction
    return torch.linalg.solve(projector.sum(0), (projector @ centre[..., None]).sum(0)).squeeze(-1).to(cameras.t.dtype)


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


def repeat_rig(rig: Camera, count: int) -> Camera:
    """A rig (C,) -> the same cameras ``count`` times (count, C), e.g. once per frame or per sequence."""
    parameters = (rig.K, rig.R, rig.t, rig.dist)
    return Camera(*(parameter.expand(count, *parameter.shape).contiguous() for parameter in parameters))


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
    sequences = []
    for sequence, points_3d in enumerate(points):
        view_generator = child_generator(seed, "views", subject_number, sequence)
        views = sample_view_masks(frames, rig.t.shape[0], view_generator, config)
        detections = child_generator(seed, "detections", subject_number, sequence)
        keypoints, confidence = simulate_detections(
            points_3d, repeat_rig(rig, frames), views, detections, config.detections
        )
        sequences.append({
            "name": f"{subject.name}_sequence_{sequence}", "subject": subject.name, "points_3d": points_3d,
            "view_mask": views, "keypoints_2d": keypoints, "confidence": confidence,
        })  # fmt: skip
    return sequences


def _dataset(
    sequences: list[dict], rig: Camera, config: SyntheticConfig, split: str, rig_kind: str
) -> MultiViewDataset:
    """Stack a split's sequences into one ``MultiViewDataset``."""
    frames = config.frames_per_sequence
    subject_names = tuple(dict.fromkeys(s["subject"] for s in sequences))
    count = len(sequences)

    def stacked(key: str) -> Tensor:
        return torch.cat([s[key] for s in sequences])

    return MultiViewDataset(
        skeleton_name=config.skeleton,
        keypoints_2d=stacked("keypoints_2d"),
        confidence=stacked("confidence"),
        view_mask=stacked("view_mask"),
        cameras=repeat_rig(rig, count),
        sequence_index=torch.arange(count).repeat_interleave(frames),
        subject_index=torch.tensor([subject_names.index(s["subject"]) for s in sequences]).repeat_interleave(frames),
        frame_ids=torch.arange(frames).repeat(count),
        sequence_names=tuple(s["name"] for s in sequences),
        subject_names=subject_names,
        points_3d=stacked("points_3d"),
        metadata={
            "name": config.name, "source": "synthetic", "detections": "simulated", "split": split, "rig": rig_kind,
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
    subjects = assign_subjects(config)
    splits = {}
    for split in SPLITS:
        sequences = [s for number in subjects[split] for s in _subject_sequences(number, rig, floor_centre, config)]
        splits[split] = _dataset(sequences, rig, config, split, rig_kind)
    return splits


def config_hash(config: SyntheticConfig, rig: Camera | None = None) -> str:
    """A short hex digest of the config (and of the rig's parameters, when one is given)."""
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    if rig is not None:
        for name in ("K", "R", "t", "dist"):
            digest.update(getattr(rig, name).to(torch.float64).contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def save_splits(splits: dict[str, MultiViewDataset], folder: str | Path) -> Path:
    """Write ``splits`` as ``folder/{train,validation,test}.npz``; returns the folder."""
    folder = Path(folder)
    for split in SPLITS:
        splits[split].save(folder / f"{split}.npz")
    return folder


def load_splits(folder: str | Path) -> dict[str, MultiViewDataset]:
    """Read the three splits written by ``save_splits``."""
    folder = Path(folder)
    missing = [split for split in SPLITS if not (folder / f"{split}.npz").exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing split files {[f'{split}.npz' for split in missing]}")
    return {split: MultiViewDataset.load(folder / f"{split}.npz") for split in SPLITS}


def synthetic_folder(config: SyntheticConfig, folder: str | Path, rig: Camera | None = None) -> Path:
    """Where ``load_or_make_synthetic`` keeps ``config``'s splits: ``folder/<name>-<config hash>``."""
    return Path(folder) / f"{config.name}-{config_hash(config, rig)}"


def load_or_make_synthetic(
    config: SyntheticConfig, folder: str | Path, rig: Camera | None = None
) -> dict[str, MultiViewDataset]:
    """The splits of ``config``, read from the cache under ``folder`` when present, else generated and cached there."""
    cache = synthetic_folder(config, folder, rig)
    if all((cache / f"{split}.npz").exists() for split in SPLITS):
        return load_splits(cache)
    splits = make_synthetic_splits(config, rig)
    save_splits(splits, cache)
    return splits
