"""Lifting detections with a trained h_θ: batched prediction, fusion of calibrated views, and a status per frame.

Single view: h_θ's root-relative camera-frame pose (Eq. 1) is the answer. Several calibrated views of one moment:
each view's prediction is rotated to the world frame (Eq. 5), the rotated poses are averaged (Eq. 6) and placed at
the root's triangulated world position (Eq. 8), as the weak loss does during training; the spread of the views about
their average is reported as a per-joint uncertainty (a network that is consistent across views, the goal of L_M,
has a small one).

A frame that cannot be lifted is given a status instead of a pose (``STATUSES``); nothing here raises for it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from weakpose_lite.cameras import rotate_to_world
from weakpose_lite.losses import average_pose
from weakpose_lite.model import LiftingNetwork

# Why a frame (or a person in a frame) has no pose; index 0 is success. Stored as these names in the output files.
STATUSES = ("ok", "no_person", "root_missing", "too_few_joints", "too_few_views")
OK, NO_PERSON, ROOT_MISSING, TOO_FEW_JOINTS, TOO_FEW_VIEWS = range(len(STATUSES))


def pinhole_intrinsics(focal: float, width: float, height: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """A focal length and image size in pixels -> K (3, 3) with square pixels and the principal point at the centre."""
    if not focal > 0 or not width > 0 or not height > 0:
        raise ValueError(f"focal and image size must be positive, got focal {focal}, size {width}x{height}")
    return torch.tensor([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]], dtype=dtype)


@torch.no_grad()
def predict_usable(
    model: LiftingNetwork,
    relative_2d: Tensor,
    visible: Tensor,
    usable: Tensor,
    batch_size: int = 8192,
    progress: Callable[[int], object] | None = None,
) -> Tensor:
    """Inputs (F, C, J, 2), visible (F, C, J), usable (F, C) -> root-relative camera-frame 3D (F, C, J, 3) mm, 0 where
    not usable.

    Runs h_θ on the usable (frame, view) pairs only, in chunks of whole frames of at most ``batch_size`` poses;
    ``progress`` is called with the number of frames each chunk finished.
    """
    model.eval()
    dtype = model.mean_2d.dtype
    frames, views, joints, _ = relative_2d.shape
    predicted = relative_2d.new_zeros(frames, views, joints, 3, dtype=dtype)
    frames_per_chunk = max(1, batch_size // max(views, 1))
    for start in range(0, frames, frames_per_chunk):
        chunk = slice(start, start + frames_per_chunk)
        pick = usable[chunk]
        if pick.any():
            inputs = relative_2d[chunk][pick].to(dtype)
            predicted[chunk][pick] = model(inputs, visible[chunk][pick])
        if progress is not None:
            progress(pick.shape[0])
    return predicted


def fuse_views(predicted: Tensor, R: Tensor, usable: Tensor) -> tuple[Tensor, Tensor]:
    """Camera-frame predictions (F, C, J, 3), R (F, C, 3, 3), usable (F, C) -> world-frame average (F, J, 3) (Eq. 5-6)
    and the mean distance of the views to it (F, J), mm.

    The spread is 0 for a frame with one usable view and NaN with none: one view says nothing about its own error.
    """
    world = rotate_to_world(predicted, R.to(predicted.dtype))  # Eq. 5
    average = average_pose(world, usable)  # Eq. 6
    distance = (world - average.unsqueeze(1)).norm(dim=-1)
    weights = usable.to(distance.dtype).unsqueeze(-1)
    spread = (distance * weights).sum(1) / weights.sum(1)
    return average, spread


def single_view_status(visible: Tensor, present: Tensor, root: int, min_visible_joints: int) -> Tensor:
    """Detected joints (N, J), person present (N,) -> status (N,) long, an index into ``STATUSES``.

    The first failing condition wins: nobody detected, then the root missing, then too few joints detected.
    """
    status = torch.where(visible.sum(-1) < min_visible_joints, TOO_FEW_JOINTS, OK)
    status = torch.where(visible[:, root], status, ROOT_MISSING)
    return torch.where(present, status, NO_PERSON)


def multi_view_status(view_mask: Tensor, fused: Tensor) -> Tensor:
    """Views present (F, C), frames fused (F,) bool (two usable views and a triangulated root) -> status (F,) long."""
    status = torch.where(fused, OK, TOO_FEW_VIEWS)
    return torch.where(view_mask.any(-1), status, NO_PERSON)
