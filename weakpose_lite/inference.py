"""Using a trained h_θ: the one prediction path, evaluation under the protocol, and lifting with a status per frame.

``predict`` runs h_θ (Eq. 1) on every (frame, view) pair of a ``Views``: training calls it on a batch (gradient
kept), evaluation and lifting on whole datasets in chunks. ``evaluate`` scores the usable views against the
groundtruth with ``metrics.evaluate``.

Lifting. Single view: h_θ's root-relative camera-frame pose is the answer. Several calibrated views of one moment:
each view's prediction is rotated to the world frame (Eq. 5), the rotated poses are averaged (Eq. 6) and placed at
the root's triangulated world position (Eq. 8), as the weak loss does during training; the spread of the views about
their average is reported as a per-joint uncertainty (a network that is consistent across views, the goal of L_M,
has a small one). A frame that cannot be lifted gets a status instead of a pose (``STATUSES``); nothing here raises
for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from weakpose_lite import metrics
from weakpose_lite.cameras import rotate_to_world
from weakpose_lite.losses import average_pose
from weakpose_lite.model import LiftingNetwork
from weakpose_lite.skeleton import Skeleton, plausible_poses, to_absolute
from weakpose_lite.views import Views

# Why a frame (or a person in a frame) has no pose; index 0 is success. Stored as these names in the output files.
# "not_finite": the network's output overflowed (inputs far outside anything it was trained on); "implausible": a
# finite pose outside a person's range (``skeleton.plausible_poses``: metres-long bones, a point), never "ok".
STATUSES = ("ok", "no_person", "root_missing", "too_few_joints", "too_few_views", "not_finite", "implausible")
OK, NO_PERSON, ROOT_MISSING, TOO_FEW_JOINTS, TOO_FEW_VIEWS, NOT_FINITE, IMPLAUSIBLE = range(len(STATUSES))
EVALUATION_BATCH = 8192  # poses per network call when predicting a whole dataset


def predict(
    model: LiftingNetwork, views: Views, batch_size: int | None = None, progress: Callable[[int], object] | None = None
) -> Tensor:
    """h_θ on every (frame, view) pair: ``views`` (F, C) -> root-relative camera-frame 3D (F, C, J, 3) mm, 0 where a
    view is not usable.

    With ``batch_size`` None all pairs go through the network at once (a training batch; the gradient is kept);
    otherwise whole frames of at most ``batch_size`` poses at a time, each chunk moved to the network's device and its
    predictions back to the views' (a dataset in host memory, a network on a GPU), and ``progress`` is called with the
    number of frames each chunk finished. The network's mode (train or eval) is the caller's.
    """
    frames, cameras, joints, _ = views.relative_2d.shape
    if batch_size is not None and frames > 0:
        chunks = torch.arange(frames, device=views.usable.device).split(max(1, batch_size // max(cameras, 1)))
        network, data = model.mean_2d.device, views.usable.device
        return torch.cat([_reported(predict(model, views[chunk].to(network)).to(data), progress) for chunk in chunks])
    inputs = views.relative_2d.to(model.mean_2d.dtype).reshape(frames * cameras, joints, 2)
    predicted = model(inputs, views.visible.reshape(frames * cameras, joints)).reshape(frames, cameras, joints, 3)
    return torch.where(views.usable[..., None, None], predicted, torch.zeros_like(predicted))


def _reported(predicted: Tensor, progress: Callable[[int], object] | None) -> Tensor:
    if progress is not None:
        progress(predicted.shape[0])
    return predicted


@torch.no_grad()
def evaluate(model: LiftingNetwork, views: Views, skeleton: Skeleton) -> dict[str, object]:
    """Every metric of ``metrics.PROTOCOL`` over the usable views of the trainable frames, against the groundtruth."""
    if views.truth is None:
        raise ValueError("this dataset has no 3D groundtruth to evaluate against")
    model.eval()
    scored = views[views.trainable_frames]
    predicted = predict(model, scored, EVALUATION_BATCH)
    pairs = scored.usable
    valid = scored.truth_valid.unsqueeze(1).expand(*pairs.shape, -1)
    return metrics.evaluate(predicted[pairs].cpu(), scored.truth[pairs].cpu(), valid[pairs].cpu(), skeleton)


MONITORED = ("mpjpe_mm", "p_mpjpe_mm", "bone_length_ratio")


def evaluation_monitor(views: Views, skeleton: Skeleton) -> Callable[[LiftingNetwork], dict[str, float]]:
    """A ``train(..., epoch_metrics=...)`` callback: the network evaluated on ``views`` (with groundtruth) after each
    epoch, as ``monitor_<metric>`` numbers for learning curves. It runs outside the training step and selects
    nothing, so a weakly-supervised run trains exactly as without it."""

    def monitor(model: LiftingNetwork) -> dict[str, float]:
        evaluation = evaluate(model, views, skeleton)
        return {f"monitor_{key}": evaluation[key] for key in MONITORED}

    return monitor


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


def single_view_status(usable: Tensor, visible: Tensor, present: Tensor, root: int) -> Tensor:
    """A view usable (N,) (``Views.usable``, whose rule is ``views.make_views``'), detected joints (N, J), person
    present (N,) -> status (N,) long, an index into ``STATUSES``.

    The first failing condition wins: nobody detected, then the root missing, then (what else leaves a view unusable)
    too few joints detected.
    """
    status = torch.where(usable, OK, TOO_FEW_JOINTS)
    status = torch.where(visible[:, root], status, ROOT_MISSING)
    return torch.where(present, status, NO_PERSON)


def multi_view_status(view_mask: Tensor, root_detected: Tensor, fused: Tensor) -> Tensor:
    """Views present (F, C), root detected (F, C), frames fused (F,) bool (two usable views and a triangulated root)
    -> status (F,) long: nobody in any view, then the root missing in every view, then too few usable views."""
    status = torch.where(fused, OK, TOO_FEW_VIEWS)
    status = torch.where((root_detected & view_mask).any(-1), status, ROOT_MISSING)
    return torch.where(view_mask.any(-1), status, NO_PERSON)


@dataclass(frozen=True)
class LiftedPoses:
    """N lifted rows: status (N,) into ``STATUSES``, views used (N,), poses (N, J, 3) mm and uncertainty (N, J) mm,
    NaN where a row has none."""

    status: Tensor
    views: Tensor
    poses: Tensor
    uncertainty: Tensor


def lift_views(
    model: LiftingNetwork, views: Views, present: Tensor, coordinate_frame: str, batch_size: int = EVALUATION_BATCH,
    progress: Callable[[int], object] | None = None,
) -> LiftedPoses:  # fmt: skip
    """Views (F, C) with present (F, C) -> one lifted row per frame: in the world frame by fusing the views
    (``coordinate_frame="world"``), else the first view's root-relative pose in its camera frame."""
    model.eval()
    with torch.no_grad():
        predicted = predict(model, views, batch_size, progress)
    average, spread = fuse_views(predicted, views.cameras.R, views.usable)
    root = model.skeleton.root
    if coordinate_frame == "world":
        fused = torch.zeros(len(present), dtype=torch.bool, device=present.device)
        fused[views.trainable_frames.to(present.device)] = True
        status = multi_view_status(present, views.visible[..., root], fused)
        poses, uncertainty = to_absolute(average, views.root_world.to(average.dtype)), spread
    else:
        status = single_view_status(views.usable[:, 0], views.visible[:, 0], present[:, 0], root)
        poses, uncertainty = average, torch.full_like(spread, math.nan)
    status = torch.where((status == OK) & ~torch.isfinite(poses).all((-1, -2)), NOT_FINITE, status)
    status = torch.where((status == OK) & ~plausible_poses(average, model.skeleton), IMPLAUSIBLE, status)
    lifted = (status == OK)[:, None]
    return LiftedPoses(status, views.usable.sum(1), torch.where(lifted[..., None], poses, math.nan),
                       torch.where(lifted, uncertainty, math.nan))  # fmt: skip
