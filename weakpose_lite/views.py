"""The views layer: a dataset -> what the network and the losses read, one row per (frame, view) pair.

``make_views`` is the one place where inputs are normalised (§3.4.1): detections are undistorted (Newton on the lens
model), taken through K⁻¹ to normalised image coordinates, made relative to the root joint and zeroed where a joint
is missing. The root's world position is triangulated from the views (the W_α of Eq. 8), and for the strongly-
supervised path every joint is triangulated as its 3D target. Groundtruth, when the dataset has any, is carried for
evaluation only.

A ``Views`` indexes like a tensor over its leading (frames, views) dimensions, as ``Camera`` does:
``views[frames]`` keeps every view of the frames indexed by ``frames`` (N,), and ``views[frames, view_ids]`` with
frames (B,) and view_ids (B, V) is a batch of B frames × V views (per-frame fields follow ``frames``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from weakpose_lite.cameras import (
    Camera,
    normalised_to_pixels,
    pixels_to_normalised,
    rotate_to_camera,
    undistort,
    world_to_camera,
)
from weakpose_lite.data.dataset import MultiViewDataset
from weakpose_lite.skeleton import to_relative
from weakpose_lite.triangulation import triangulate

_PER_FRAME = ("root_world", "root_valid", "target_valid", "truth_valid")


@dataclass(frozen=True)
class Views:
    """F frames × C views × J joints on one device: per-(frame, view) fields (F, C, ...), per-frame fields (F, ...).

    relative_2d (F, C, J, 2): root-relative normalised image coordinates, 0 where not visible; visible (F, C, J);
    confidence (F, C, J): the detector's confidence in [0, 1], 0 where not visible; usable (F, C): the view may be a
    network input (present, root detected, ``min_visible_joints`` detected);
    pixels (F, C, J, 2): the detections undistorted (an ideal pinhole camera with the same K); cameras (F, C);
    root_depth (F, C): the triangulated root's depth in each view, mm; root_world (F, 3): the triangulated root in
    world mm; root_valid (F,): it could be triangulated; targets (F, C, J, 3) and target_valid (F, J): triangulated
    root-relative 3D in each camera frame (strongly-supervised path only, else None); truth (F, C, J, 3) and
    truth_valid (F, J): root-relative groundtruth in each camera frame, for evaluation only (None without any).
    """

    relative_2d: Tensor
    visible: Tensor
    confidence: Tensor
    usable: Tensor
    pixels: Tensor
    cameras: Camera
    root_depth: Tensor
    root_world: Tensor
    root_valid: Tensor
    targets: Tensor | None = None
    target_valid: Tensor | None = None
    truth: Tensor | None = None
    truth_valid: Tensor | None = None

    @property
    def trainable_frames(self) -> Tensor:
        """(N,) indices of the frames with at least two usable views and a triangulated root."""
        return torch.nonzero(self.root_valid & (self.usable.sum(-1) >= 2)).squeeze(-1)

    def __getitem__(self, index) -> Views:
        """``views[frames]`` or ``views[frames, view_ids]``: the indexed frames (and views), as a ``Views``."""
        frames, view_ids = index if isinstance(index, tuple) else (index, None)
        pair = frames if view_ids is None else (frames[:, None], view_ids)
        picked = {}
        for item in fields(self):
            value = getattr(self, item.name)
            picked[item.name] = None if value is None else value[frames if item.name in _PER_FRAME else pair]
        return Views(**picked)

    def to(self, device: torch.device | str) -> Views:
        """Every tensor moved to ``device``."""
        return Views(**{item.name: _moved(getattr(self, item.name), device) for item in fields(self)})


def _moved(value, device):
    return None if value is None else value.to(device)


def make_views(dataset: MultiViewDataset, with_targets: bool, min_visible_joints: int = 6) -> Views:
    """A dataset -> its ``Views``; triangulates the root (and with ``with_targets`` every joint) from its 2D."""
    root = dataset.skeleton.root
    cameras = dataset.frame_cameras()
    undistorted = undistort(pixels_to_normalised(dataset.keypoints_2d, cameras.K), cameras.dist)
    visible = _invertible(dataset.visible, undistorted, dataset.metadata.get("name", "dataset"))
    normalised = _masked(undistorted, visible)
    usable = dataset.view_mask & visible[..., root] & (visible.sum(-1) >= min_visible_joints)
    joints = slice(None) if with_targets else slice(root, root + 1)
    triangulated = triangulate(dataset.keypoints_2d[:, :, joints], dataset.confidence[:, :, joints], dataset.view_mask, cameras)
    root_index = root if with_targets else 0
    root_world, root_valid = triangulated.points[:, root_index], triangulated.valid[:, root_index]
    views = Views(
        relative_2d=_masked(to_relative(normalised, root), visible), visible=visible,
        confidence=torch.where(visible, dataset.confidence, 0), usable=usable,
        pixels=normalised_to_pixels(normalised, cameras.K), cameras=cameras,
        root_depth=world_to_camera(root_world[:, None, None], cameras.R, cameras.t)[..., 0, 2],
        root_world=root_world, root_valid=root_valid,
    )  # fmt: skip
    if with_targets:
        targets = rotate_to_camera(to_relative(triangulated.points, root).unsqueeze(1), cameras.R)
        views = replace(views, targets=targets, target_valid=triangulated.valid & root_valid.unsqueeze(1))
    return _with_groundtruth(views, dataset)


def _invertible(visible: Tensor, undistorted: Tensor, name: str) -> Tensor:
    """Detected joints (F, C, J) less those where the lens model could not be inverted (NaN from ``undistort``),
    with a warning that counts them: they are treated as missing, never fed to the network."""
    lost = visible & ~torch.isfinite(undistorted).all(-1)
    if lost.any():
        warnings.warn(f"{name}: {int(lost.sum())} detections lie where the lens model cannot be inverted; "
                      f"they are treated as missing", stacklevel=3)  # fmt: skip
    return visible & ~lost


def _masked(points: Tensor, visible: Tensor) -> Tensor:
    """Points (..., J, 2) with the coordinates of joints not ``visible`` (..., J) set to 0."""
    return torch.where(visible.unsqueeze(-1), points, torch.zeros_like(points))


def _with_groundtruth(views: Views, dataset: MultiViewDataset) -> Views:
    """``views`` with the dataset's root-relative groundtruth in each camera frame, when it has any."""
    valid = dataset.has_groundtruth
    if not valid.any():
        return views
    root = dataset.skeleton.root
    valid = valid & valid[:, root : root + 1]
    points = torch.where(valid.unsqueeze(-1), dataset.points_3d, torch.zeros_like(dataset.points_3d))
    truth = rotate_to_camera(to_relative(points, root).unsqueeze(1), views.cameras.R)
    return replace(views, truth=truth, truth_valid=valid)
