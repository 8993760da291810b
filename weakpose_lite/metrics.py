"""Evaluation metrics, and the protocol every figure the kit reports follows.

Protocol (printed with every table; ``PROTOCOL``):
- Poses are **root-relative** (root = neck, ``skeleton``), in **millimetres**, in the **camera frame** of the view
  the 2D input came from; every (frame, view) pair of the **test split** is one sample.
- Errors are averaged over **valid joints only**: a joint counts where its groundtruth is known; the root itself is
  excluded (its relative error is zero by construction), so the body mean is over 17 joints, as in the paper's
  Table 3, whose per-joint means give its Table 2. Empty frames and missing joints are never counted as zero error.
- MPJPE (Eq. 16) has no alignment ("without any post-processing", §3.4.2). N-MPJPE rescales the prediction by the
  least-squares scale (Rhodin et al. 2018). P-MPJPE aligns each prediction to its groundtruth by the optimal
  similarity (rotation with reflections excluded, scale, translation; Procrustes) over its valid joints.
- PCK3D@150 mm is the fraction of valid joints within 150 mm.
- The checkpoint is chosen on the validation split (or on the weak loss, which needs no 3D), never on the test split.
"""

from __future__ import annotations

import torch
from torch import Tensor

from weakpose_lite.shapes import check_tensor
from weakpose_lite.skeleton import Skeleton, plausible_poses

PROTOCOL = (
    "protocol: root-relative (root = neck, excluded), mm, camera frame, test split, errors averaged over valid joints "
    "(missing groundtruth not counted), MPJPE unaligned (Eq. 16), N-MPJPE scale-aligned, P-MPJPE Procrustes-aligned "
    "(no reflections), checkpoint chosen on validation"
)


def check_poses(function: str, predicted: Tensor, target: Tensor, valid: Tensor, batched: bool = False) -> None:
    """Refuse arguments that would merely broadcast: predicted and target must both be (..., J, 3) of one shape
    ((N, J, 3) when ``batched``) and valid bool (..., J); the error names the function, the argument and the shapes.

    Broadcasting would score something else without a word: a (J, 3) target against (N, J, 3) predictions compares
    every sample with one pose, and a float mask indexes joints instead of selecting them.
    """
    check_tensor(function, "predicted", predicted, ("N", "J", 3) if batched else ("...", "J", 3))
    check_tensor(function, "target", target, tuple(predicted.shape))
    check_tensor(function, "valid", valid, tuple(predicted.shape[:-1]), "bool")


def joint_errors(predicted: Tensor, target: Tensor) -> Tensor:
    """Predicted and groundtruth poses (..., J, 3) -> Euclidean error of each joint (..., J)."""
    return (predicted - target).norm(dim=-1)


def _masked(poses: Tensor, valid: Tensor) -> Tensor:
    """Zero the coordinates of invalid joints (..., J, 3) so NaN or garbage never reaches a sum (0 × NaN is NaN)."""
    return torch.where(valid.unsqueeze(-1), poses, torch.zeros_like(poses))


def mpjpe_per_joint(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Poses (N, J, 3), valid (N, J) -> mean error of each joint over the samples where it is valid (J,); NaN if never."""
    check_poses("mpjpe_per_joint", predicted, target, valid, batched=True)
    errors = torch.where(valid, joint_errors(predicted, _masked(target, valid)), 0)
    return errors.sum(0) / valid.sum(0)


def mpjpe(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Poses (..., J, 3), valid (..., J) -> mean per-joint position error over all valid joints, a scalar (Eq. 16)."""
    check_poses("mpjpe", predicted, target, valid)
    errors = joint_errors(predicted, _masked(target, valid))
    return errors[valid].mean()


def scale_align(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Poses (..., J, 3), valid (..., J) -> predictions times the least-squares scale s = <p, g> / <p, p> (..., J, 3)."""
    target, scored = _masked(target, valid), _masked(predicted, valid)
    numerator = (scored * target).sum((-1, -2))
    denominator = (scored * scored).sum((-1, -2)).clamp(min=torch.finfo(predicted.dtype).tiny)
    return predicted * (numerator / denominator)[..., None, None]


def n_mpjpe(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Poses (..., J, 3), valid (..., J) -> MPJPE after scale alignment, a scalar."""
    check_poses("n_mpjpe", predicted, target, valid)
    return mpjpe(scale_align(predicted, target, valid), target, valid)


def procrustes_align(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Poses (..., J, 3), valid (..., J) -> predictions under the similarity that best fits the target (..., J, 3).

    Umeyama's closed form over the valid joints; the sign correction keeps the rotation proper (det +1), so a
    mirrored prediction is not scored as if it were right.
    """
    weights = valid.to(predicted.dtype).unsqueeze(-1)
    count = weights.sum(-2, keepdim=True).clamp(min=1)
    target, scored = _masked(target, valid), _masked(predicted, valid)
    mean_predicted = scored.sum(-2, keepdim=True) / count
    mean_target = target.sum(-2, keepdim=True) / count
    centred_predicted = (scored - mean_predicted) * weights
    centred_target = (target - mean_target) * weights
    covariance = centred_target.transpose(-1, -2) @ centred_predicted  # (..., 3, 3)
    U, singular, Vh = torch.linalg.svd(covariance)
    sign = torch.linalg.det(U @ Vh).sign()
    correction = torch.ones_like(singular)
    correction[..., -1] = sign
    rotation = U @ torch.diag_embed(correction) @ Vh
    variance = centred_predicted.square().sum((-1, -2)).clamp(min=torch.finfo(predicted.dtype).tiny)
    scale = (singular * correction).sum(-1) / variance
    aligned = scale[..., None, None] * (predicted - mean_predicted) @ rotation.transpose(-1, -2)
    return aligned + mean_target


def p_mpjpe(predicted: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Poses (..., J, 3), valid (..., J) -> MPJPE after Procrustes alignment, a scalar."""
    check_poses("p_mpjpe", predicted, target, valid)
    return mpjpe(procrustes_align(predicted, target, valid), target, valid)


def pck3d(predicted: Tensor, target: Tensor, valid: Tensor, threshold_mm: float = 150.0) -> Tensor:
    """Poses (..., J, 3), valid (..., J) -> fraction of valid joints within ``threshold_mm``, a scalar in [0, 1]."""
    check_poses("pck3d", predicted, target, valid)
    errors = joint_errors(predicted, _masked(target, valid))
    return (errors[valid] <= threshold_mm).to(predicted.dtype).mean()


def evaluate(predicted: Tensor, target: Tensor, valid: Tensor, skeleton: Skeleton) -> dict[str, object]:
    """Root-relative poses (N, J, 3), valid (N, J) -> every metric of the protocol, as plain floats and lists.

    The root joint is excluded from the errors here, so callers pass the validity of the groundtruth as it is.
    ``implausible_poses`` counts the predictions outside a person's range (``skeleton.plausible_poses``), whatever
    their error.
    """
    check_poses("evaluate", predicted, target, valid, batched=True)
    bone_ratio = bone_length_ratio(predicted, target, valid, skeleton.bones).item()
    valid = valid.clone()
    valid[..., skeleton.root] = False
    return {
        "mpjpe_mm": mpjpe(predicted, target, valid).item(),
        "n_mpjpe_mm": n_mpjpe(predicted, target, valid).item(),
        "p_mpjpe_mm": p_mpjpe(predicted, target, valid).item(),
        "pck3d_150mm": pck3d(predicted, target, valid).item(),
        "per_joint_mpjpe_mm": mpjpe_per_joint(predicted, target, valid).tolist(),
        "bone_length_ratio": bone_ratio,
        "valid_joints": int(valid.sum()),
        "implausible_poses": int((~plausible_poses(predicted, skeleton)).sum()),
    }


def bone_length_ratio(predicted: Tensor, target: Tensor, valid: Tensor, bones: tuple[tuple[int, int], ...]) -> Tensor:
    """Poses (..., J, 3), valid (..., J) -> mean predicted bone length / mean true bone length, over bones whose two
    joints are valid; 1 for the right scale, near 0 for the collapsed poses L_M alone drifts to (§3.1)."""
    check_poses("bone_length_ratio", predicted, target, valid)
    parents = torch.tensor([parent for parent, _ in bones])
    children = torch.tensor([child for _, child in bones])
    both = valid[..., parents] & valid[..., children]
    target = _masked(target, valid)
    predicted_lengths = (predicted[..., children, :] - predicted[..., parents, :]).norm(dim=-1)
    target_lengths = (target[..., children, :] - target[..., parents, :]).norm(dim=-1)
    return predicted_lengths[both].mean() / target_lengths[both].mean()
