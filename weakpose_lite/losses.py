"""Losses: Huber (Eq. 15), multi-view consistency L_M (Eq. 4-7), re-projection L_R (Eq. 8-11), and the two
objectives built from them: the weak one, λ·L_M + (1 − λ)·L_R in chosen units (Eq. 3), and the strong one.

Shapes: F frames × C views × J joints. Masks are explicit: ``view_mask (F, C)`` marks present views and
``visible (F, C, J)`` marks detected joints; masked terms neither count nor carry gradient.

Reductions: the paper sums the Huber terms over views and joints (Eq. 7, 11); we take their mean over the terms that
count, so a batch's loss does not grow with the number of views present and λ keeps its meaning across datasets.

Units: the paper does not state the units of L_M and L_R, and λ means nothing without them (Huber's δ = 1 splits
each term into a quadratic and a linear zone, and the units decide which one the residuals sit in). ``LossConfig``
names L_M's unit and L_R's unit; the README's "Units of the two terms" says what each choice does, and
``studies/units_lambda.py`` measured them.

Beyond the paper, off by default: L_R's terms weighted by the detections' confidence (as CanonPose weights its
re-projection) and a cap on each L_R residual (a robust re-projection: a detection far from W̄'s re-projection stops
pulling); ``studies/gap_attribution.py`` measures them, with Huber's δ, against the strong model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import huber_loss

from weakpose_lite.cameras import project_camera_points, rotate_to_world, world_to_camera
from weakpose_lite.configs import check_field_types, checked, option
from weakpose_lite.model import NormalisationStats
from weakpose_lite.shapes import check_tensor
from weakpose_lite.skeleton import to_absolute
from weakpose_lite.views import Views

MULTIVIEW_UNITS = ("cm", "mm", "normalised")  # L_M's world residuals (mm) in cm, mm, or divided by σ_X
REPROJECTION_UNITS = ("pixels", "mm", "normalised")  # L_R's pixel residuals as they are, × Z_root / f, or / (f σ_x)
REPROJECTION_VIEWS = ("sampled", "all")
REPROJECTION_WEIGHTS = ("uniform", "confidence")
MM_PER_CM = 10.0


@dataclass(frozen=True)
class LossConfig:
    """The objective's choices (Eq. 3, 15), with the paper's λ and δ; the units are the data's own (cm, pixels)."""

    lam: float = option(0.8, "λ of Eq. 3, in [0, 1] (weak only)")
    multiview_unit: str = option("cm", "unit of L_M's residuals: cm, mm, or normalised (÷ σ_X, the output scale)")
    reprojection_unit: str = option("pixels", "unit of L_R's residuals: pixels, mm (at the subject: × Z_root / f), or "
                                              "normalised (÷ f σ_x, the input scale)")
    huber_delta: float = option(1.0, "δ of Huber's loss (Eq. 15), in the loss units")
    detach_average: bool = option(False, "stop the gradient through W̄ (the paper leaves it open)")
    reprojection_views: str = option("sampled", "views L_R re-projects W̄ into: sampled (those predicted) or all")
    reprojection_weights: str = option("uniform", "weight of each L_R term: uniform (the paper) or the detection's "
                                                  "confidence (beyond the paper)")
    reprojection_cap: float | None = option(None, "cap on each L_R residual (one view, one joint), in L_R's unit: "
                                                  "beyond it a detection adds a constant and no gradient (beyond the "
                                                  "paper; none: no cap)")

    def __post_init__(self):
        check_field_types(self)
        if not 0 <= self.lam <= 1:  # False for NaN too
            raise ValueError(f"LossConfig.lam must be in [0, 1], got {self.lam}")
        if not (math.isfinite(self.huber_delta) and self.huber_delta > 0):
            raise ValueError(f"LossConfig.huber_delta must be a positive number, got {self.huber_delta}")
        if self.reprojection_cap is not None and not self.reprojection_cap > 0:
            raise ValueError(f"LossConfig.reprojection_cap must be a positive number or None, got {self.reprojection_cap}")
        for name, choices in (("multiview_unit", MULTIVIEW_UNITS), ("reprojection_unit", REPROJECTION_UNITS),
                              ("reprojection_views", REPROJECTION_VIEWS), ("reprojection_weights", REPROJECTION_WEIGHTS)):  # fmt: skip
            if getattr(self, name) not in choices:
                raise ValueError(f"LossConfig.{name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")

    @classmethod
    def in_units(cls, units: str, **fields) -> LossConfig:
        """The config whose units one name gives, as study records, older checkpoints and ``loss_units`` name them:
        L_M's unit, then ``_`` and L_R's unit unless it is the same ("cm_pixels", "mm_pixels", "mm", "normalised")."""
        multiview, _, reprojection = units.partition("_")
        reprojection = reprojection or multiview
        if multiview not in MULTIVIEW_UNITS or reprojection not in REPROJECTION_UNITS:
            raise ValueError(
                f"loss_units must be L_M's unit ({', '.join(MULTIVIEW_UNITS)}), then _ and L_R's unit "
                f"({', '.join(REPROJECTION_UNITS)}) unless the same, got {units!r}"
            )
        return checked(cls, multiview_unit=multiview, reprojection_unit=reprojection, **fields)

    @property
    def units(self) -> str:
        """The units as one name (the inverse of ``in_units``), for labels and tables."""
        same = self.multiview_unit == self.reprojection_unit
        return self.multiview_unit if same else f"{self.multiview_unit}_{self.reprojection_unit}"


def huber(distance: Tensor, delta: float = 1.0) -> Tensor:
    """Distances (...) -> Huber penalty (...) (Eq. 15); δ = 1 is the smooth-L1 loss the paper uses."""
    check_tensor("huber", "distance", distance, ("...",))
    return huber_loss(distance, torch.zeros_like(distance), reduction="none", delta=delta)


def masked_mean(values: Tensor, mask: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean of ``values`` (...) over ``mask`` (...) bool of the same shape, weighted by ``weights`` (...) ≥ 0 when
    given; 0 when nothing (or no weight) is masked in (never NaN).

    Masked-out values may hold anything, NaN included: they are selected away, not multiplied by 0 (0 × NaN is NaN).
    """
    check_tensor("masked_mean", "mask", mask, tuple(values.shape), "bool")
    if weights is None:
        return torch.where(mask, values, 0).sum() / mask.sum().clamp(min=1)
    check_tensor("masked_mean", "weights", weights, tuple(values.shape))
    weights = torch.where(mask, weights, 0)
    return (torch.where(mask, values, 0) * weights).sum() / weights.sum().clamp(min=torch.finfo(weights.dtype).tiny)


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
    sizes = check_tensor("average_pose", "world", world, ("F", "C", "J", 3))
    check_tensor("average_pose", "view_mask", view_mask, ("F", "C"), "bool", sizes)
    present = view_mask[..., None, None]
    return torch.where(present, world, 0).sum(1) / present.sum(1).clamp(min=1)


def multiview_residuals(world: Tensor, average: Tensor, view_mask: Tensor) -> Tensor:
    """Ŵ (F, C, J, 3), W̄ (F, J, 3), view_mask (F, C) -> the distances ‖W̄ − Ŵ_c‖ of Eq. 7 (F, C, J), 0 where absent."""
    return _masked_norm(average.unsqueeze(1) - world, view_mask.unsqueeze(-1).expand(world.shape[:-1]))


def multiview_consistency_loss(world: Tensor, average: Tensor, view_mask: Tensor, delta: float = 1.0) -> Tensor:
    """Ŵ (F, C, J, 3) (Eq. 5, ``cameras.rotate_to_world``), W̄ (F, J, 3) (Eq. 6), view_mask (F, C) -> L_M (Eq. 7), in
    the units of the poses.

    Whether W̄ carries gradient is the caller's choice (the paper leaves it open): pass ``average.detach()`` to make
    it a fixed target for the step. While every residual is in Huber's quadratic zone the two give the same gradient
    (the residuals sum to zero over views); they differ in the linear zone.
    """
    sizes = check_tensor("multiview_consistency_loss", "world", world, ("F", "C", "J", 3))
    check_tensor("multiview_consistency_loss", "average", average, ("F", "J", 3), sizes=sizes)
    check_tensor("multiview_consistency_loss", "view_mask", view_mask, ("F", "C"), "bool", sizes)
    present = view_mask.unsqueeze(-1).expand(world.shape[:-1])  # (F, C, J)
    return masked_mean(huber(multiview_residuals(world, average, view_mask), delta), present)


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


def reprojection_residuals(reprojected: Tensor, keypoints_2d: Tensor, visible: Tensor, scale: Tensor | None = None) -> Tensor:
    """x̄ (F, C, J, 2), x (F, C, J, 2), visible (F, C, J), scale (F, C) or None -> the distances ‖x − x̄‖ of Eq. 11
    (F, C, J), each view's multiplied by its ``scale``, 0 where not visible."""
    distance = _masked_norm(keypoints_2d - reprojected, visible)
    return distance if scale is None else distance * scale.unsqueeze(-1)


def reprojection_loss(
    reprojected: Tensor, keypoints_2d: Tensor, visible: Tensor, scale: Tensor | None = None, delta: float = 1.0
) -> Tensor:
    """Re-projections x̄ (F, C, J, 2), targets x (F, C, J, 2), visible (F, C, J), scale (F, C) or None -> L_R (Eq. 11).

    Both point sets must be in the same units (undistorted pixels by default); ``scale`` multiplies each view's
    residual norms before the Huber penalty.
    """
    check_tensor("reprojection_loss", "reprojected", reprojected, ("...", 2))
    check_tensor("reprojection_loss", "keypoints_2d", keypoints_2d, tuple(reprojected.shape))
    check_tensor("reprojection_loss", "visible", visible, tuple(reprojected.shape[:-1]), "bool")
    return masked_mean(huber(reprojection_residuals(reprojected, keypoints_2d, visible, scale), delta), visible)


def weak_loss(multiview: Tensor, reprojection: Tensor, lam: float = 0.8) -> Tensor:
    """λ · L_M + (1 − λ) · L_R (Eq. 3), scalars -> scalar; λ must be in [0, 1] (outside, a term's weight turns
    negative and training maximises it)."""
    if not 0 <= lam <= 1:  # False for NaN too
        raise ValueError(f"weak_loss: lam (λ of Eq. 3) must be in [0, 1], got {lam}")
    return lam * multiview + (1 - lam) * reprojection


def supervised_loss(predicted: Tensor, target: Tensor, valid: Tensor, delta: float = 1.0) -> Tensor:
    """Predicted and target 3D poses (..., J, 3), valid (..., J) -> mean Huber of per-joint distances, mm."""
    check_tensor("supervised_loss", "predicted", predicted, ("...", 3))
    check_tensor("supervised_loss", "target", target, tuple(predicted.shape))
    check_tensor("supervised_loss", "valid", valid, tuple(predicted.shape[:-1]), "bool")
    return masked_mean(huber(_masked_norm(predicted - target, valid), delta), valid)


def multiview_scale(unit: str, stats: NormalisationStats) -> Tensor | float:
    """What L_M's world residuals (mm) are divided by to be in ``unit`` (``MULTIVIEW_UNITS``)."""
    if unit == "normalised":
        return stats.std_3d.mean()  # σ_X, the network's output scale (§3.4.1)
    return MM_PER_CM if unit == "cm" else 1.0


def reprojection_scale(views: Views, unit: str, stats: NormalisationStats) -> Tensor | None:
    """Views (B, V) -> what L_R's pixel residuals are multiplied by (B, V) to be in ``unit`` (``REPROJECTION_UNITS``):
    None for pixels, Z_root / f for mm at the subject, 1 / (f σ_x) for the network's normalised input units."""
    if unit == "pixels":
        return None
    focal = (views.cameras.K[..., 0, 0] + views.cameras.K[..., 1, 1]) / 2  # (B, V)
    if unit == "mm":
        return views.root_depth / focal
    return 1 / (focal * stats.std_2d.square().mean().sqrt())


def warmup_projection(step: int, warmup_steps: int) -> str:
    """The projection of Eq. 10 at a training step: scaled-orthographic during the warm-up, then perspective
    (§3.2.1)."""
    return "scaled_orthographic" if step < warmup_steps else "perspective"


@dataclass(frozen=True)
class WeakResiduals:
    """The distances the weak objective penalises, in its units: L_M's (B, V, J) where ``multiview_counted``, L_R's
    (B, V', J) where ``reprojection_counted``, each L_R term weighted by ``reprojection_weights`` (B, V', J) (None:
    uniformly)."""

    multiview: Tensor
    multiview_counted: Tensor
    reprojection: Tensor
    reprojection_counted: Tensor
    reprojection_weights: Tensor | None = None


def weak_residuals(
    predicted: Tensor, batch: Views, seen: Views, config: LossConfig, projection: str, stats: NormalisationStats
) -> WeakResiduals:
    """Predictions (B, V, J, 3) of ``batch`` (B, V) -> the residuals of L_M (Eq. 4-7) and L_R (Eq. 8-11) in the units
    of ``config``; L_R re-projects W̄ into the views ``seen`` of the same frames (B, V'): ``batch`` itself or every
    view of its frames (``config.reprojection_views``). With ``config.reprojection_cap``, L_R's residuals are capped
    (``clamp``: no gradient beyond the cap); with ``reprojection_weights="confidence"``, weighted by the detections'
    confidence."""
    world = rotate_to_world(predicted, batch.cameras.R)  # Eq. 5
    average = average_pose(world, batch.usable)  # Eq. 6
    target = average.detach() if config.detach_average else average
    scale = multiview_scale(config.multiview_unit, stats)
    multiview = multiview_residuals(world / scale, target / scale, batch.usable)
    visible = seen.visible & seen.usable.unsqueeze(-1) if seen is batch else seen.visible
    cameras = seen.cameras
    reprojected = reproject_average_pose(average, seen.root_world, cameras.K, cameras.R, cameras.t, projection)
    pixel_scale = reprojection_scale(seen, config.reprojection_unit, stats)
    reprojection = reprojection_residuals(reprojected, seen.pixels, visible, pixel_scale)
    if config.reprojection_cap is not None:
        reprojection = reprojection.clamp(max=config.reprojection_cap)
    weights = seen.confidence if config.reprojection_weights == "confidence" else None
    return WeakResiduals(multiview, batch.usable.unsqueeze(-1).expand(multiview.shape), reprojection, visible, weights)


def weak_objective(
    predicted: Tensor, batch: Views, seen: Views, config: LossConfig, projection: str, stats: NormalisationStats
) -> dict[str, Tensor]:
    """Predictions (B, V, J, 3) of ``batch`` -> {"multiview": L_M, "reprojection": L_R, "loss": Eq. 3}: the mean
    Huber penalty of each of ``weak_residuals`` (Eq. 7, 11; L_R's weighted when they carry weights), mixed by λ."""
    residuals = weak_residuals(predicted, batch, seen, config, projection, stats)
    multiview = masked_mean(huber(residuals.multiview, config.huber_delta), residuals.multiview_counted)
    reprojection = masked_mean(huber(residuals.reprojection, config.huber_delta), residuals.reprojection_counted,
                               residuals.reprojection_weights)
    return {"multiview": multiview, "reprojection": reprojection, "loss": weak_loss(multiview, reprojection, config.lam)}


def strong_objective(predicted: Tensor, batch: Views, config: LossConfig) -> dict[str, Tensor]:
    """Predictions (B, V, J, 3) -> {"loss": Huber of the 3D error against the triangulated targets of ``batch``}."""
    valid = batch.target_valid.unsqueeze(1) & batch.usable.unsqueeze(-1)
    return {"loss": supervised_loss(predicted, batch.targets, valid, config.huber_delta)}
