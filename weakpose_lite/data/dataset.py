"""The one in-memory dataset type: F multi-view frames × C views × J joints, with cameras and (optional) 3D truth.

Every source (synthetic rig, CMU Panoptic, OpenPose folders) builds a ``MultiViewDataset``; training, evaluation and
the notebooks read only this type. It saves to one ``.npz`` per split (with a format version) and loads back.

Conventions:
- ``keypoints_2d`` are detections in **pixels, as detected** (through the lens: distorted). Missing joints and
  missing views hold zeros and carry ``confidence == 0``; never read a coordinate without its mask.
- ``points_3d`` is the groundtruth in **world millimetres**, NaN where unknown. It is for evaluation only: the weakly-
  supervised path never reads it (``without_groundtruth`` gives a copy that provably cannot leak it).
- Cameras are stored per sequence, ``(S, C)``; ``frame_cameras`` gathers them per frame ``(F, C)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from weakpose_lite.cameras import Camera
from weakpose_lite.files import atomic_path
from weakpose_lite.skeleton import Skeleton, get_skeleton

FORMAT_VERSION = 1
_TENSOR_FIELDS = ("keypoints_2d", "confidence", "view_mask", "sequence_index", "subject_index", "frame_ids", "points_3d")
_CAMERA_FIELDS = ("K", "R", "t", "dist")


@dataclass(frozen=True)
class MultiViewDataset:
    """Multi-view 2D detections with calibrated cameras; shapes below, F frames, C views, J joints, S sequences.

    keypoints_2d (F, C, J, 2) px; confidence (F, C, J) in [0, 1]; view_mask (F, C) bool; cameras (S, C);
    sequence_index (F,) into sequence_names; subject_index (F,) into subject_names; frame_ids (F,) frame numbers;
    points_3d (F, J, 3) world mm or NaN; metadata: JSON-serialisable facts (source, detections, split, ...).
    """

    skeleton_name: str
    keypoints_2d: Tensor
    confidence: Tensor
    view_mask: Tensor
    cameras: Camera
    sequence_index: Tensor
    subject_index: Tensor
    frame_ids: Tensor
    sequence_names: tuple[str, ...]
    subject_names: tuple[str, ...]
    points_3d: Tensor
    metadata: dict = field(default_factory=dict)

    @property
    def skeleton(self) -> Skeleton:
        """The joint order of this dataset."""
        return get_skeleton(self.skeleton_name)

    @property
    def num_frames(self) -> int:
        """F."""
        return self.keypoints_2d.shape[0]

    @property
    def num_views(self) -> int:
        """C, the largest number of views of a frame."""
        return self.keypoints_2d.shape[1]

    @property
    def visible(self) -> Tensor:
        """(F, C, J) bool: the joint was detected in a present view."""
        return (self.confidence > 0) & self.view_mask[..., None]

    @property
    def has_groundtruth(self) -> Tensor:
        """(F, J) bool: the 3D groundtruth of the joint is known."""
        return torch.isfinite(self.points_3d).all(-1)

    def frame_cameras(self, frames: Tensor | None = None) -> Camera:
        """Cameras per frame (F, C), or for the frames indexed by ``frames`` (N,) -> (N, C)."""
        sequences = self.sequence_index if frames is None else self.sequence_index[frames]
        return self.cameras[sequences]

    def subset(self, frames: Tensor) -> MultiViewDataset:
        """The frames indexed by ``frames`` (N,) (long indices or an (F,) bool mask), keeping all sequences."""
        return replace(self, **{name: getattr(self, name)[frames] for name in _TENSOR_FIELDS})

    def select_sequences(self, names: list[str] | tuple[str, ...]) -> MultiViewDataset:
        """The frames of the named sequences."""
        unknown = set(names) - set(self.sequence_names)
        if unknown:
            raise ValueError(f"unknown sequences {sorted(unknown)}; this dataset has {list(self.sequence_names)}")
        wanted = torch.tensor([self.sequence_names.index(name) for name in names])
        return self.subset(torch.isin(self.sequence_index, wanted))

    def without_groundtruth(self) -> MultiViewDataset:
        """A copy whose 3D groundtruth is all NaN: what the weakly-supervised path is given."""
        return replace(self, points_3d=torch.full_like(self.points_3d, float("nan")))

    def summary(self) -> str:
        """A few lines: frames, views, subjects, sequences, missing-joint rate, groundtruth coverage."""
        views = self.view_mask.sum(1)
        present = self.view_mask[..., None].expand_as(self.confidence)
        missing = 1 - self.visible.sum().item() / max(present.sum().item(), 1)
        sequences = self.sequence_index.unique().numel()
        subjects = self.subject_index.unique().numel()
        return (
            f"{self.metadata.get('name', 'dataset')}: {self.num_frames} frames, views per frame "
            f"{int(views.min()) if self.num_frames else 0}-{int(views.max()) if self.num_frames else 0}, "
            f"{subjects} subjects, {sequences} sequences, skeleton {self.skeleton_name} ({self.skeleton.num_joints} "
            f"joints), missing joints {100 * missing:.1f}%, 3D groundtruth on "
            f"{100 * self.has_groundtruth.float().mean().item():.1f}% of joints, detections: "
            f"{self.metadata.get('detections', 'unknown')}"
        )

    def save(self, path: str | Path) -> None:
        """Write the dataset to one ``.npz`` file, atomically."""
        arrays = {name: getattr(self, name).cpu().numpy() for name in _TENSOR_FIELDS}
        arrays |= {f"camera_{name}": getattr(self.cameras, name).cpu().numpy() for name in _CAMERA_FIELDS}
        header = {
            "format_version": FORMAT_VERSION,
            "skeleton_name": self.skeleton_name,
            "sequence_names": list(self.sequence_names),
            "subject_names": list(self.subject_names),
            "metadata": self.metadata,
        }
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                np.savez_compressed(handle, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> MultiViewDataset:
        """Read a dataset written by ``save``; a foreign or damaged file gets an error naming it."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                header = json.loads(str(archive["header"]))
                arrays = {name: torch.from_numpy(archive[name]) for name in _TENSOR_FIELDS}
                camera = Camera(*(torch.from_numpy(archive[f"camera_{name}"]) for name in _CAMERA_FIELDS))
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"{path.name}: not a weakpose-lite dataset file ({error})") from error
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path.name}: format_version must be {FORMAT_VERSION}, got {header.get('format_version')!r}"
            )
        return cls(
            skeleton_name=header["skeleton_name"],
            cameras=camera,
            sequence_names=tuple(header["sequence_names"]),
            subject_names=tuple(header["subject_names"]),
            metadata=header["metadata"],
            **arrays,
        )
