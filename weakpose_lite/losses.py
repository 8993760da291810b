"""Losses: Huber (Eq. 15), multi-view consistency L_M (Eq. 4-7), re-projection L_R (Eq. 8-11), their mix (Eq. 3),
and the strongly-supervised 3D loss.

Shapes: F frames × C views × J joints. Masks are explicit: ``view_mask (F, C)`` marks present views and
``visible (F, C, J)`` marks detected joints; masked terms neither count nor carry gradient.

Reductions: the paper sums the Huber terms over views and joints (Eq. 7, 11); we take their mean over the terms that
count, so a batch's loss does not grow with the number of views present and λ keeps its meaning across datasets.

Units: L_M compares world-frame poses in the units of its inputs (divide them to change units); L_R compares 2D
points in pixels, and ``reprojection_loss``'s ``scale`` multiplies each view's residuals (e.g. Z_root / f turns
pixels into millimetres at the subject). The paper does not state the units of its two terms, and λ means nothing
without them: Huber's δ = 1 splits each term into a quadratic zone (pull ∝ residual) and a linear one (constant
pull), and the units decide which zone the residuals sit in. ``train.TrainConfig.loss_units`` chooses (L_M's unit
/ L_R's unit, δ = 1 in each; ``train.loss_scales`` applies them):
- ``"cm_pixels"`` (default): the dataset's own units, centimetres for L_M (CMU Panoptic's 3D unit) and raw pixels
  for L_R (OpenPose's 2D unit), as the paper's data came. Nearly every residual is then in Huber's linear zone, where
  each term pulls with a constant force whatever its size, and a centimetre at the subject is about five pixels in
  Panoptic's dome, so λ = 0.8 weighs L_M's pull towards agreement and L_R's pull towards the detections alike.
- ``"normalised"``: both in the network's normalised units (§3.4.1): L_M divides world-frame residuals by the output
  scale σ_X, L_R divides normalised-image residuals (pixels / f) by the input scale σ_x; σ_X = σ_x × the median root
  depth (both from 2D, ``NormalisationStats.from_2d``). Most residuals then sit in the quadratic zone, where L_M's
  pull grows with the views' disagreement r and shrinks the poses by about λr / ((1 − λ) + λr).
- ``"mm"``: L_M in mm, L_R in mm at the subject (pixel residual × Z_root / f).
- ``"mm_pixels"``: L_M in mm, L_R in raw pixels.
- ``"mixed"``: L_M normalised, L_R in raw pixels (L_R then sits in Huber's linear zone and dominates).
How λ and the units behave together is measured by ``studies/units_lambda.py``; its table is in the README.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.functional import huber_loss

from weakpose_lite.cameras import project_camera_points, world_to_camera
from weakpose_lite.skeleton import to_absolute


def huber(distance: Tensor, delta: float = 1.0) -> Tensor:
    """Distances (...) -> Huber penalty (...) (Eq. 15); δ = 1 is the smooth-L1 loss the paper uses."""
    return huber_loss(distance, torch.zeros_like(distance), reduction="none", delta=delta)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` (...) over ``mask`` (...) bool of the same shape; 0 when nothing is masked in (never NaN).

    Masked-out values may hold anything, NaN included: they are selected away, not multiplied by 0 (0 × NaN is NaN).
    """
    if mask.dtype != torch.bool or mask.shape != values.shape:
        raise ValueError(
            f"masked_mean: mask must be bool of the shape of values {tuple(values.shape)}, "
            f"got {str(mask.dtype).removeprefix('torch.')} {tuple(mask.shape)}"
        )
    return torch.where(mask, values, 0).sum() / mask.sum().clamp(min=1)


def _masked_norm(vectors: Tensor, mask: Tensor) -> Tensor:
    """``_safe_norm`` of vectors (..., D) where mask (...) holds, 0 elsewhere: a NaN there reaches neither the value
    nor, through the backward of the norm and the Huber penalty, the gradient of anything else."""
    return _safe_norm(torch.where(mask.unsqueeze(-1), vectors, 0))


def _safe_norm(vectors: Tensor) -> Tensor:
    """Euclidean norm over the last axis (...) with a finite (zero) gradient at the origin."""
    squared = vectors.square().sum(-1)
    positive = squared > 0
    return torch.where(positive, squared.where(positive, torch.ones_like(squared)).sqrt(), torch.zeros_like(squared))


def average_pose(world: Tensor, view_mask: Tensor) -> Tensor:
    """World-frame poses Ŵ (F, C, J, 3), view_mask (F, C) -> their mean over present views W̄ (F, J, 3) (Eq. 6).

    An absent view may hold anything (NaN included) without reaching the mean; a frame with no view gives 0.
    """
    present = view_mask[..., None, None]
    return torch.where(present, world, 0).sum(1) / present.sum(1).clamp(min=1)


def multiview_consistency_loss(world: Tensor, average: Tensor, view_mask: Tensor, delta: float = 1.0) -> Tensor:
    """Ŵ (F, C, J, 3) (Eq. 5, ``cameras.rotate_to_world``), W̄ (F, J, 3) (Eq. 6), view_mask (F, C) -> L_M (Eq. 7), mm.

    Whether W̄ carries gradient is the caller's choice (the paper leaves it open): pass ``average.detach()`` to make
    it a fixed target for the step. While every residual is in Huber's quadratic zone the two give the same gradient
    (the residuals sum to zero over views); they differ in the linear zone.
    """
    present = view_mask.unsqueeze(-1).expand(world.shape[:-1])  # (F, C, J)
    distance = _masked_norm(average.unsqueeze(1) - world, present)
    return masked_mean(huber(distance, delta), present)


def reproject_average_pose(
    average_relative: Tensor, root_world: Tensor, K: Tensor, R: Tensor, t: Tensor, projection: str = "perspective"
) -> Tensor:
    """W̄_r (F, J, 3), root W_α (F, 3), K R (F, C, 3, 3), t (F, C, 3) -> undistorted pixels x̄ (F, C, J, 2) (Eq. 8-10).

    With ``projection="scaled_orthographic"`` every joint is divided by the root's depth in that view.
    """
    absolute = to_absolute(average_relative, root_world)  # (F, J, 3), Eq. 8
    camera_points = world_to_camera(absolute.unsqueeze(1), R, t)  # (F, C, J, 3), Eq. 9
    root_depth = world_to_camera(root_world[:, None, None, :], R, t)[..., 0, 2]  # (F, C)
    return project_camera_points(camera_points, K, projection, depth=root_depth)  # Eq. 10


def reprojection_loss(
    reprojected: Tensor, keypoints_2d: Tensor, visible: Tensor, scale: Tensor | None = None, delta: float = 1.0
) -> Tensor:
    """Re-projections x̄ (F, C, J, 2), targets x (F, C, J, 2), visible (F, C, J), scale (F, C) or None -> L_R (Eq. 11).

    Both point sets must be in the same units (undistorted pixels by default); ``scale`` multiplies each view's
    residual norms before the Huber penalty.
    """
    distance = _masked_norm(keypoints_2d - reprojected, visible)
    if scale is not None:
        distance = distance * scale.unsqueeze(-1)
    return masked_mean(huber(distance, delta), visible)


def weak_loss(multiview: Tensor, reprojection: Tensor, lam: float = 0.8) -> Tensor:
    """λ · L_M + (1 − λ) · L_R (Eq. 3), scalars -> scalar; λ must be in [0, 1] (outside, a term's weight turns
    negative and training maximises it)."""
    if not 0 <= lam <= 1:  # False for NaN too
        raise ValueError(f"weak_loss: lam (λ of Eq. 3) must be in [0, 1], got {lam}")
    return lam * multiview + (1 - lam) * reprojection


def supervised_loss(predicted: Tensor, target: Tensor, valid: Tensor, delta: float = 1.0) -> Tensor:
    """Predicted and target 3D poses (..., J, 3), valid (..., J) -> mean Huber of per-joint distances, mm."""
    return masked_mean(huber(_masked_norm(predicted - target, valid), delta), valid)
