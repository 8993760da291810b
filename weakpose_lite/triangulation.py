"""Triangulation: world 3D joints (mm) from multi-view 2D detections, the strongly-supervised targets of §3.4.

The paper reconstructs its training targets from the detected 2D poses frame by frame, without temporal
information, with the two-step approach of Faugeras: a closed-form solution, then an iterative method on the
perspective projection. Here both steps run on every frame and joint at once:

1. ``triangulate_linear``: the confidence-weighted linear (DLT) solution. The paper's closed form uses the
   orthographic projection; the DLT is the perspective closed form, exact on noise-free detections, so the
   refinement starts closer and needs fewer steps.
2. ``triangulate``: that solution refined by Levenberg-Marquardt on the confidence-weighted perspective re-projection
   error in pixels (Eq. 10, 12), with a Huber weight so that one grossly wrong view (a left/right swap, a snapped
   limb) pulls the point by a bounded amount instead of its full error.

Detections are undistorted once (``cameras.undistort``); both steps then work in normalised image coordinates, and
errors are reported in undistorted pixels (``fx``, ``fy`` times the normalised error; K has zero skew).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from weakpose_lite.cameras import Camera, centres_apart, perspective_projection, pixels_to_normalised, undistort
from weakpose_lite.progress import progress_bar
from weakpose_lite.shapes import check_tensor

# A view that sees the point behind itself costs as much as a re-projection error this large (more than any image
# is wide), so a refinement step that crosses behind a camera is rejected and one that comes back out is taken.
BEHIND_CAMERA_PX = 1e4
# Depth (mm) below which a view is treated as seeing the point behind itself: its projection is meaningless there.
MIN_DEPTH_MM = 1.0
# Frames are solved in blocks of about this many detections (frames × views × joints): every temporary of a huge
# batch is fresh memory the CPU must fault in, and a block stops refining as soon as its own points have converged
# (the figures: benchmarks/README.md).
DETECTIONS_PER_BLOCK = 1 << 17
# A joint whose rays all lie within this angle of each other (views at one centre, or nearly so) has no usable
# depth: the least squares would return a point anywhere along the rays (often near the origin), so it is invalid.
# Panoptic's nearest HD views are about 10 degrees apart at the subject; 2 px of noise turns a ray by 0.08 degrees.
MIN_RAY_ANGLE_DEG = 1.0


@dataclass(frozen=True)
class Triangulation:
    """Triangulated joints: points (F, J, 3) world mm, valid (F, J) bool, reprojection_error_px (F, J).

    ``valid``: the joint was seen with positive weight in at least two views, from distinct centres
    (``cameras.centres_apart``), whose rays are at least ``MIN_RAY_ANGLE_DEG`` apart (and the solve was not
    degenerate); elsewhere ``points`` and
    ``reprojection_error_px`` are exactly 0. ``reprojection_error_px`` is the
    confidence-weighted RMS distance, in undistorted pixels, between the detections and the re-projected point, over
    the views that saw the joint (with the point in front of them).
    """

    points: Tensor
    valid: Tensor
    reprojection_error_px: Tensor


@dataclass(frozen=True)
class _Observations:
    """Undistorted detections, views last: normalised (F, J, C, 2), weights (F, J, C), valid (F, J); the cameras
    as R (..., 1, C, 3, 3), t (..., 1, C, 3) and focal (fx, fy) (..., 1, C, 2) px, with ... empty or F.

    Views come last so that every sum over views is a matrix product over contiguous memory (no transposed copies),
    the layout that makes the whole batch fast on CPU.
    """

    normalised: Tensor
    weights: Tensor
    valid: Tensor
    R: Tensor
    t: Tensor
    focal: Tensor


def triangulate_linear(keypoints_2d: Tensor, confidence: Tensor, view_mask: Tensor, cameras: Camera) -> Triangulation:
    """Detections (F, C, J, 2) px, confidence (F, C, J), view_mask (F, C), cameras (F, C) or (C,) -> points (F, J, 3).

    The closed-form step alone (§3.4, Faugeras' first step): the confidence-weighted linear DLT solution, returned
    as a ``Triangulation`` like ``triangulate``'s.
    """
    _check_shapes(keypoints_2d, confidence, view_mask, cameras)

    def solve(observations: _Observations) -> Triangulation:
        return _result(*_linear_solution(observations), observations)

    return _in_blocks_of_frames(solve, keypoints_2d, confidence, view_mask, cameras)


def triangulate(
    keypoints_2d: Tensor,
    confidence: Tensor,
    view_mask: Tensor,
    cameras: Camera,
    iterations: int = 10,
    robust_px: float = 10.0,
    tolerance_mm: float = 0.05,
) -> Triangulation:
    """Detections (F, C, J, 2) px, confidence (F, C, J), view_mask (F, C), cameras (F, C) or (C,) -> points (F, J, 3).

    Faugeras' two-step reconstruction (§3.4): the linear DLT solution, refined by at most ``iterations``
    Levenberg-Marquardt steps on the confidence-weighted Huber cost of the perspective re-projection error in pixels
    (quadratic up to ``robust_px``, linear beyond). Stops early once no point moves by more than ``tolerance_mm``:
    the default 0.05 mm is far below what detection noise does (2 px is about 1.5 mm at 3 m) and above the
    ~0.01 mm to which float32 can still tell a lower cost from rounding, so float32 stops too (after 2-3 steps).
    ``keypoints_2d`` are pixels as detected (through the lens); a zero confidence or a False ``view_mask`` marks a
    missing detection, whatever its coordinates, and so does a detection where the lens model cannot be inverted
    (NaN from ``undistort``). Confidence must be finite and ≥ 0 everywhere (an error otherwise).
    """
    if iterations < 0 or not robust_px > 0 or not tolerance_mm >= 0:
        raise ValueError(
            f"triangulate: need iterations >= 0, robust_px > 0, tolerance_mm >= 0; "
            f"got {iterations}, {robust_px}, {tolerance_mm}"
        )
    _check_shapes(keypoints_2d, confidence, view_mask, cameras)

    def solve(observations: _Observations) -> Triangulation:
        start, valid = _linear_solution(observations)
        return _result(_refine(start, valid, observations, iterations, robust_px, tolerance_mm), valid, observations)

    return _in_blocks_of_frames(solve, keypoints_2d, confidence, view_mask, cameras)


def _in_blocks_of_frames(
    solve, keypoints_2d: Tensor, confidence: Tensor, view_mask: Tensor, cameras: Camera
) -> Triangulation:
    """``solve`` (_Observations -> Triangulation) run on blocks of about ``DETECTIONS_PER_BLOCK`` detections of the
    (F, C, J) inputs, and the blocks' (F, J, ...) results joined."""
    frames, views, joints, _ = keypoints_2d.shape
    per_frame_cameras = len(cameras.batch_shape) == 2 and cameras.batch_shape[0] == frames
    block = max(1, DETECTIONS_PER_BLOCK // (views * joints))
    starts = range(0, max(frames, 1), block)
    parts = []
    for start in progress_bar(starts, desc="triangulating", unit="block", leave=False, disable=len(starts) < 8):
        rows = slice(start, start + block)
        block_cameras = cameras[rows] if per_frame_cameras else cameras
        parts.append(solve(_observe(keypoints_2d[rows], confidence[rows], view_mask[rows], block_cameras)))
    if len(parts) == 1:
        return parts[0]
    return Triangulation(*(torch.cat([getattr(part, field.name) for part in parts]) for field in fields(Triangulation)))


def _observe(keypoints_2d: Tensor, confidence: Tensor, view_mask: Tensor, cameras: Camera) -> _Observations:
    """Undistort the detections once, turn confidence and masks into weights; views last."""
    cameras = cameras.to(device=keypoints_2d.device, dtype=keypoints_2d.dtype)
    normalised = undistort(pixels_to_normalised(keypoints_2d, cameras.K), cameras.dist)  # NaN where not invertible
    seen = view_mask[..., None] & (confidence > 0) & torch.isfinite(normalised).all(-1)
    weights = torch.where(seen, confidence, 0).to(keypoints_2d.dtype).transpose(1, 2).contiguous()
    # A missing detection may hold anything (zeros, NaN); 0 * NaN is NaN, so select rather than multiply.
    normalised = torch.where(seen[..., None], normalised, 0).transpose(1, 2).contiguous()
    R = cameras.R.unsqueeze(-4)
    focal = torch.stack([cameras.K[..., 0, 0], cameras.K[..., 1, 1]], dim=-1)
    return _Observations(
        normalised=normalised,
        weights=weights,
        valid=centres_apart(cameras.center.unsqueeze(-3), weights > 0) & _rays_apart(normalised, weights > 0, R),
        R=R,
        t=cameras.t.unsqueeze(-3),
        focal=focal.unsqueeze(-3),
    )


def _rays_apart(normalised: Tensor, seen: Tensor, R: Tensor) -> Tensor:
    """Whether some two seen rays of each joint are at least ``MIN_RAY_ANGLE_DEG`` apart (F, J).

    Normalised points (F, J, C, 2), seen (F, J, C), R (..., 1, C, 3, 3); a ray's world direction is Rᵀ (u, v, 1).
    Views at one centre see a point along one ray, so their rays are parallel whatever the point. The largest angle
    between two rays lies between θ and 2θ, θ the largest angle between a ray and their mean direction, so θ decides
    every joint but those with θ in [½, 1) × the limit, whose rays are compared pairwise.
    """
    directions = normalised[..., :1] * R[..., 0, :] + normalised[..., 1:] * R[..., 1, :] + R[..., 2, :]
    directions = torch.where(seen.unsqueeze(-1), torch.nn.functional.normalize(directions, dim=-1), 0)  # (F, J, C, 3)
    mean = torch.nn.functional.normalize(directions.sum(-2, keepdim=True), dim=-1)  # (F, J, 1, 3)
    to_mean = torch.where(seen, (directions * mean).sum(-1), 1).amin(-1)  # cosine of θ (F, J)
    limit = math.radians(MIN_RAY_ANGLE_DEG)
    apart = to_mean < math.cos(limit)
    unsure = ~apart & (to_mean < math.cos(limit / 2))
    if unsure.any():
        rays, both = directions[unsure], seen[unsure].unsqueeze(-1) & seen[unsure].unsqueeze(-2)  # (U, C, 3), (U, C, C)
        apart[unsure] = torch.where(both, rays @ rays.mT, 1).amin((-2, -1)) < math.cos(limit)
    return apart


def _check_shapes(keypoints_2d: Tensor, confidence: Tensor, view_mask: Tensor, cameras: Camera) -> None:
    """Raise ValueError naming the argument whose shape does not fit keypoints_2d (F, C, J, 2), or a confidence that
    is not finite and ≥ 0 (an infinite one would make every other view's weight vanish)."""
    sizes = check_tensor("triangulate", "keypoints_2d", keypoints_2d, ("F", "C", "J", 2))
    check_tensor("triangulate", "confidence", confidence, ("F", "C", "J"), sizes=sizes)
    check_tensor("triangulate", "view_mask", view_mask, ("F", "C"), "bool", sizes)
    frames, views = sizes["F"], sizes["C"]
    bad = ~(torch.isfinite(confidence) & (confidence >= 0))
    if bad.any():
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"triangulate: confidence must be finite and >= 0, got {confidence[index].item()} at {list(index)} "
            f"({int(bad.sum())} such values)"
        )
    batch = cameras.batch_shape
    if len(batch) not in (1, 2) or batch[-1] != views or (len(batch) == 2 and batch[0] not in (1, frames)):
        raise ValueError(
            f"triangulate: cameras must have batch shape ({frames}, {views}) or ({views},), got {tuple(batch)}"
        )


def _linear_solution(observations: _Observations) -> tuple[Tensor, Tensor]:
    """Weighted DLT: points (F, J, 3) and valid (F, J), with 0 where fewer than two views saw the joint.

    A detection (u, v) of X gives two equations linear in X, from u (R₃·X + t₃) = R₁·X + t₁ and the same for
    v: (u R₃ − R₁)·X = t₁ − u t₃. We solve the inhomogeneous 3x3 weighted normal equations rather than the
    homogeneous 4x4 form (smallest eigenvector of AᵀA): the 4x4 matrix mixes unit-scale rotation rows with
    translations in mm and their squares, a condition number near 1e7 that float32 cannot resolve, and a batched 3x3
    solve is much cheaper than a batched 4x4 ``eigh``. Its only blind spot, points at infinity,
    cannot occur here.
    """
    t = observations.t
    rows = _projection_rows(observations.normalised, observations.R)
    right = t[..., :2] - observations.normalised * t[..., 2:3]  # (F, J, C, 2)
    normal, moment = _normal_equations(rows, observations.weights, right)
    return _solve_where_valid(normal, moment, observations.valid)


def _projection_rows(image_points: Tensor, R: Tensor) -> Tensor:
    """Normalised image points (F, J, C, 2), R (..., 1, C, 3, 3) -> u R₃ − R₁, v R₃ − R₂ (F, J, C, 2, 3)."""
    return image_points.unsqueeze(-1) * R[..., 2:3, :] - R[..., :2, :]


def _normal_equations(rows: Tensor, weights: Tensor, right: Tensor) -> tuple[Tensor, Tensor]:
    """A (F, J, C, 2, 3), weights w (F, J, C), b (F, J, C, 2) -> Σ_views w AᵀA (F, J, 3, 3), Σ w Aᵀb (F, J, 3)."""
    weighted_rows = (rows * weights[..., None, None]).flatten(-3, -2)  # (F, J, 2C, 3)
    rows = rows.flatten(-3, -2)
    normal = weighted_rows.mT @ rows
    moment = (weighted_rows.mT @ right.flatten(-2).unsqueeze(-1)).squeeze(-1)
    return normal, moment


def _solve_where_valid(normal: Tensor, right: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
    """Solve normal (F, J, 3, 3) x = right (F, J, 3) where valid (F, J); 0 elsewhere and where singular."""
    identity = torch.eye(3, dtype=normal.dtype, device=normal.device)
    normal = torch.where(valid[..., None, None], normal, identity)
    solution, info = torch.linalg.solve_ex(normal, torch.where(valid[..., None], right, 0))
    valid = valid & (info == 0) & torch.isfinite(solution).all(-1)
    return torch.where(valid[..., None], solution, 0), valid


def _refine(
    points: Tensor, valid: Tensor, observations: _Observations, iterations: int, robust_px: float, tolerance_mm: float
) -> Tensor:
    """Levenberg-Marquardt with Huber (IRLS) weights on the re-projection error: points (F, J, 3) -> (F, J, 3).

    Each step solves the 3x3 damped normal equations of every point at once; a point takes its step only where that
    lowers its Huber cost, otherwise its damping grows tenfold (Marquardt), so the cost never increases.
    """
    damping = torch.full(points.shape[:-1], 1e-3, dtype=points.dtype, device=points.device)
    cost = _huber_cost(points, observations, robust_px)
    for _ in range(iterations):
        step = _damped_gauss_newton_step(points, valid, observations, robust_px, damping)
        candidate = points + step
        candidate_cost = _huber_cost(candidate, observations, robust_px)
        accept = valid & (candidate_cost < cost)  # False for NaN costs too
        points = torch.where(accept[..., None], candidate, points)
        cost = torch.where(accept, candidate_cost, cost)
        damping = torch.where(accept, damping / 10, damping * 10).clamp(1e-9, 1e9)
        if not bool((step.norm(dim=-1) > tolerance_mm).any()):
            break
    return points


def _damped_gauss_newton_step(
    points: Tensor, valid: Tensor, observations: _Observations, robust_px: float, damping: Tensor
) -> Tensor:
    """One IRLS Gauss-Newton step (F, J, 3), damped by damping (F, J) times the diagonal of the normal matrix."""
    residual, camera_points, in_front = _reprojection_residual(points, observations)
    # Jacobian of the pixel residual with respect to the world point (F, J, C, 2, 3): diag(fx, fy) · ∂Π_p/∂x
    # (Eq. 13) · R, which works out as −(f / depth) times the DLT row at the projected point.
    rows = _projection_rows(perspective_projection(camera_points), observations.R)
    jacobian = -(observations.focal / camera_points[..., 2:3]).unsqueeze(-1) * rows
    weights = observations.weights * _huber_weight(residual.norm(dim=-1), robust_px)
    weights = torch.where(in_front, weights, 0)  # behind a camera, Π_p and its Jacobian are meaningless
    normal, gradient = _normal_equations(jacobian, weights, residual)
    # The tiny absolute term keeps a point that no view sees in front (normal = 0, gradient = 0) at a zero step.
    damping = normal.diagonal(dim1=-2, dim2=-1) * damping[..., None] + torch.finfo(normal.dtype).tiny
    step, _ = _solve_where_valid(normal + torch.diag_embed(damping), -gradient, valid)
    return step


def _reprojection_residual(points: Tensor, observations: _Observations) -> tuple[Tensor, Tensor, Tensor]:
    """Points (F, J, 3) -> pixel residual (F, J, C, 2), camera-frame points (F, J, C, 3), in_front (F, J, C) bool.

    The residual is in undistorted pixels, 0 where the view does not see the point in front of it.
    """
    camera_points = _to_every_camera(points, observations.R, observations.t)
    in_front = (camera_points[..., 2] > MIN_DEPTH_MM) & (observations.weights > 0)
    safe_points = torch.where(in_front[..., None], camera_points, camera_points.new_tensor([0.0, 0.0, 1.0]))
    residual = (perspective_projection(safe_points) - observations.normalised) * observations.focal
    return torch.where(in_front[..., None], residual, 0), safe_points, in_front


def _to_every_camera(points: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """World points (F, J, 3), R (..., 1, C, 3, 3), t (..., 1, C, 3) -> camera-frame points (F, J, C, 3): R X + t.

    ``world_to_camera`` with the C rotations stacked into one (3, 3C) matrix: a single matrix product for the batch.
    """
    stacked = R.squeeze(-4).flatten(-3, -2).mT  # (..., 3, 3C)
    return (points @ stacked).unflatten(-1, (R.shape[-3], 3)) + t


def _huber_weight(error_px: Tensor, robust_px: float) -> Tensor:
    """IRLS weight of the Huber cost (...): 1 up to robust_px, robust_px / error beyond."""
    return torch.where(error_px <= robust_px, 1, robust_px / error_px).to(error_px.dtype)


def _huber_cost(points: Tensor, observations: _Observations, robust_px: float) -> Tensor:
    """Confidence-weighted Huber cost (F, J) of the pixel re-projection errors of points (F, J, 3)."""
    residual, _, in_front = _reprojection_residual(points, observations)
    error = torch.where(in_front, residual.norm(dim=-1), BEHIND_CAMERA_PX)
    huber = torch.where(error <= robust_px, error**2 / 2, robust_px * (error - robust_px / 2))
    return (observations.weights * huber).sum(-1)


def _result(points: Tensor, valid: Tensor, observations: _Observations) -> Triangulation:
    """Package points (F, J, 3) with valid (F, J) and their weighted RMS re-projection error in px (F, J)."""
    residual, _, in_front = _reprojection_residual(points, observations)
    weights = torch.where(in_front, observations.weights, 0)
    total_weight = weights.sum(-1).clamp_min(torch.finfo(weights.dtype).tiny)
    mean_square = (weights * residual.square().sum(-1)).sum(-1) / total_weight
    error = torch.where(valid, mean_square.sqrt(), 0)
    return Triangulation(torch.where(valid[..., None], points, 0), valid, error)
