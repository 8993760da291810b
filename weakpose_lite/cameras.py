"""Cameras: world <-> camera transforms, projections (Eq. 9-14), their Jacobians, and lens distortion.

Conventions (those of CMU Panoptic and OpenCV): world -> camera is ``x = R X + t``; the camera looks down +z;
pixels are ``K (u', v', 1)`` where ``(u', v')`` are the *distorted* normalised coordinates. Units are millimetres.

Distortion follows OpenCV's five-coefficient model ``(k1, k2, p1, p2, k3)``. CMU's ``panutils.projectPoints``
reuses the already-distorted ``u`` when computing ``v'``; we follow OpenCV (the undistorted ``u``), which is what
the calibration was estimated with.

Projection models, for the re-projection loss (Eq. 10):
- ``perspective``: Π_p(X) = (X_x / X_z, X_y / X_z) (Eq. 12).
- ``orthographic``: Π_o(X) = (X_x, X_y) (Eq. 14). Read literally, K·Π_o(X) would treat millimetres as normalised
  coordinates and be off by the depth (thousands of pixels), so it is only meaningful in the depth-free form:
- ``scaled_orthographic`` (weak perspective): Π_o(X) / Z_ref with Z_ref the depth of a reference point (the root).
  It is linear in X, so its Jacobian is the constant (1/Z_ref)·[I 0], with no 1/Z² term that explodes or vanishes
  (Eq. 13): that is the warm-up projection the kit uses in the early stage of weak training (§3.2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from weakpose_lite.shapes import check_tensor

PROJECTIONS = ("perspective", "scaled_orthographic")
# Newton's iterations on more points than this run block by block: every temporary of a huge batch is fresh memory
# the CPU must fault in (the figures: benchmarks/README.md).
POINTS_PER_BLOCK = 1 << 16
# Largest distance (normalised units) between an undistorted point, distorted again, and its input for ``undistort``
# to call it converged: 1e-6 is about 1e-3 px at Panoptic's focal lengths, 20 times float32's round-off there.
UNDISTORT_TOLERANCE = 1e-6
# Cameras whose centres all lie within this of their mean stand at one centre: every ray they cast starts there, so
# nothing can be triangulated from them (Panoptic's nearest HD cameras are 1.2 m apart, VGA 20 cm).
SAME_CENTRE_MM = 1.0


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with OpenCV distortion; tensors may carry any leading batch shape (...).

    K: (..., 3, 3) intrinsics in pixels; R: (..., 3, 3) world -> camera rotation; t: (..., 3) translation in mm;
    dist: (..., 5) distortion (k1, k2, p1, p2, k3).
    """

    K: Tensor
    R: Tensor
    t: Tensor
    dist: Tensor

    @property
    def center(self) -> Tensor:
        """Camera centre in world coordinates (..., 3): −Rᵀ t."""
        return -(self.R.transpose(-1, -2) @ self.t.unsqueeze(-1)).squeeze(-1)

    @property
    def batch_shape(self) -> torch.Size:
        """The leading shape (...) shared by all parameters."""
        return self.t.shape[:-1]

    def __getitem__(self, index) -> Camera:
        """Index the leading batch dimensions, like a tensor (an Ellipsis, too, stops before each parameter's own)."""
        batch_index = index if isinstance(index, tuple) else (index,)
        matrix, vector = (*batch_index, slice(None), slice(None)), (*batch_index, slice(None))
        return Camera(self.K[matrix], self.R[matrix], self.t[vector], self.dist[vector])

    def to(self, *args, **kwargs) -> Camera:
        """Move or cast every parameter, as ``Tensor.to``."""
        return Camera(*(p.to(*args, **kwargs) for p in (self.K, self.R, self.t, self.dist)))

    def repeat(self, count: int) -> Camera:
        """Cameras (...) -> the same cameras ``count`` times (count, ...), e.g. a rig once per frame."""
        return Camera(*(p.expand(count, *p.shape).contiguous() for p in (self.K, self.R, self.t, self.dist)))

    def world_to_camera(self, points: Tensor) -> Tensor:
        """World points (..., J, 3) -> camera-frame points (..., J, 3): R X + t (Eq. 9)."""
        return world_to_camera(points, self.R, self.t)

    def camera_to_world(self, points: Tensor) -> Tensor:
        """Camera-frame points (..., J, 3) -> world points (..., J, 3): Rᵀ (x − t)."""
        return camera_to_world(points, self.R, self.t)


def stack_cameras(cameras: list[Camera], dim: int = 0) -> Camera:
    """N cameras of equal batch shape (...) -> one camera of batch shape (N, ...), the new dimension at ``dim``."""
    return Camera(*(torch.stack([getattr(c, f) for c in cameras], dim) for f in ("K", "R", "t", "dist")))


def centres_apart(centres: Tensor, seen: Tensor) -> Tensor:
    """Camera centres (..., C, 3) mm, seen (..., C) bool -> (...) bool: some seen centre lies more than
    ``SAME_CENTRE_MM`` from the seen centres' mean (False for fewer than two seen)."""
    weights = seen.to(centres.dtype).unsqueeze(-1)
    mean = (centres * weights).sum(-2, keepdim=True) / weights.sum(-2, keepdim=True).clamp(min=1)
    return torch.where(seen, (centres - mean).norm(dim=-1), 0).amax(-1) > SAME_CENTRE_MM


def pinhole_intrinsics(focal: float, width: float, height: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """A focal length and image size in pixels -> K (3, 3) with square pixels and the principal point at the centre."""
    if not focal > 0 or not width > 0 or not height > 0:
        raise ValueError(f"focal and image size must be positive, got focal {focal}, size {width}x{height}")
    return torch.tensor([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]], dtype=dtype)


def world_to_camera(points: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """World points (..., J, 3), R (..., 3, 3), t (..., 3) -> camera-frame points (..., J, 3)."""
    for name, value, shape in (("points", points, ("...", 3)), ("R", R, ("...", 3, 3)), ("t", t, ("...", 3))):
        check_tensor("world_to_camera", name, value, shape)
    return points @ R.transpose(-1, -2) + t.unsqueeze(-2)


def camera_to_world(points: Tensor, R: Tensor, t: Tensor) -> Tensor:
    """Camera-frame points (..., J, 3), R (..., 3, 3), t (..., 3) -> world points (..., J, 3)."""
    return (points - t.unsqueeze(-2)) @ R


def rotate_to_world(points: Tensor, R: Tensor) -> Tensor:
    """Camera-frame directions or relative poses (..., J, 3) -> world frame (..., J, 3): Rᵀ X (Eq. 5)."""
    return points @ R


def rotate_to_camera(points: Tensor, R: Tensor) -> Tensor:
    """World directions or relative poses (..., J, 3) -> camera frame (..., J, 3): R X."""
    return points @ R.transpose(-1, -2)


def perspective_projection(points: Tensor) -> Tensor:
    """Camera-frame points (..., 3) -> normalised image coordinates (..., 2): Π_p (Eq. 12)."""
    check_tensor("perspective_projection", "points", points, ("...", 3))
    return points[..., :2] / points[..., 2:3]


def perspective_jacobian(points: Tensor) -> Tensor:
    """Camera-frame points (..., 3) -> Jacobian of Π_p (..., 2, 3) (Eq. 13)."""
    x, y, z = points.unbind(-1)
    zero = torch.zeros_like(z)
    row_u = torch.stack([1 / z, zero, -x / z**2], dim=-1)
    row_v = torch.stack([zero, 1 / z, -y / z**2], dim=-1)
    return torch.stack([row_u, row_v], dim=-2)


def orthographic_projection(points: Tensor) -> Tensor:
    """Camera-frame points (..., 3) -> (X_x, X_y) (..., 2): Π_o (Eq. 14)."""
    return points[..., :2]


def scaled_orthographic_projection(points: Tensor, depth: Tensor) -> Tensor:
    """Camera-frame points (..., J, 3), reference depth (...) -> normalised image coordinates (..., J, 2): Π_o / Z_ref."""
    return orthographic_projection(points) / depth[..., None, None]


class _Lens(NamedTuple):
    """The OpenCV model at undistorted u, v (..., J): distorted u', v' and the products the Jacobian reuses."""

    u_distorted: Tensor
    v_distorted: Tensor
    uu: Tensor
    vv: Tensor
    uv: Tensor
    r2: Tensor
    radial: Tensor


def _lens(u: Tensor, v: Tensor, dist: Tensor) -> _Lens:
    """Undistorted u, v (..., J), dist (..., 5) -> the distorted point and its intermediate terms (..., J)."""
    k1, k2, p1, p2, k3 = (c[..., None] for c in dist.unbind(-1))
    uu, vv, uv = u * u, v * v, u * v
    r2 = uu + vv
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    u_distorted = u * radial + 2 * p1 * uv + p2 * (r2 + 2 * uu)
    v_distorted = v * radial + 2 * p2 * uv + p1 * (r2 + 2 * vv)
    return _Lens(u_distorted, v_distorted, uu, vv, uv, r2, radial)


def _distortion_terms(u: Tensor, v: Tensor, dist: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Undistorted u, v (..., J), dist (..., 5) -> distorted u', v' and the Jacobian entries a, b, d (..., J).

    The Jacobian [[a, b], [b, d]] of the OpenCV model is symmetric: ∂u'/∂v = ∂v'/∂u = 2uv·ρ' + 2p1·u + 2p2·v.
    """
    k1, k2, p1, p2, k3 = (c[..., None] for c in dist.unbind(-1))
    lens = _lens(u, v, dist)
    r2, radial = lens.r2, lens.radial
    slope = 2 * (k1 + r2 * (2 * k2 + 3 * k3 * r2))  # 2 · d radial / d r²
    a = radial + lens.uu * slope + 2 * p1 * v + 6 * p2 * u
    b = lens.uv * slope + 2 * p1 * u + 2 * p2 * v
    d = radial + lens.vv * slope + 2 * p2 * u + 6 * p1 * v
    return lens.u_distorted, lens.v_distorted, a, b, d


def distort(normalised: Tensor, dist: Tensor) -> Tensor:
    """Undistorted normalised coordinates (..., J, 2), dist (..., 5) -> distorted ones (..., J, 2) (OpenCV model)."""
    _check_lens_arguments("distort", normalised, dist)
    lens = _lens(*normalised.unbind(-1), dist)
    return torch.stack([lens.u_distorted, lens.v_distorted], dim=-1)


def undistort(distorted: Tensor, dist: Tensor, iterations: int = 5) -> Tensor:
    """Distorted normalised coordinates (..., J, 2), dist (..., 5) -> undistorted ones (..., J, 2); NaN where the
    lens model could not be inverted.

    Newton's method on ``distort(u) = distorted``, started at the distorted point. OpenCV's ``undistortPoints`` uses
    a plain fixed-point iteration, still off in the image corners after its default 5 steps; Newton with the
    closed-form Jacobian converges quadratically, to float64 round-off within 4 steps over the whole image of every
    real Panoptic HD camera (``tests/test_cameras.py`` checks it; ``benchmarks/undistort.py`` prints the errors), so
    the default is the steps needed plus one spare. A fixed count keeps the function batched and differentiable.

    The lens model is only invertible where it does not fold (Panoptic's: radius < 1.35; the image corners are at
    0.83), and a strong lens (k1 = 50) needs more steps than it gets: a point whose solution, distorted again, misses
    its input by more than ``UNDISTORT_TOLERANCE`` (1e-6 in normalised units, about 1e-3 px, times the input's radius
    where it exceeds 1), or that lies beyond a fold of the model (where it mirrors the image, so Newton can land on a
    true but wrong solution), comes back as NaN, never as a wrong point; ``views`` counts such detections as missing.
    Elsewhere the result and its gradient are those of the converged solve.
    Large inputs are solved in blocks of about ``POINTS_PER_BLOCK`` points (the same numbers, less memory).
    """
    _check_lens_arguments("undistort", distorted, dist)
    rows = torch.broadcast_shapes(distorted.shape[:-2], dist.shape[:-1])
    joints = distorted.shape[-2]
    if rows.numel() * joints <= POINTS_PER_BLOCK:
        return _undistort_newton(distorted, dist, iterations)
    flat = distorted.expand(*rows, joints, 2).reshape(-1, joints, 2)
    flat_dist = dist.expand(*rows, dist.shape[-1]).reshape(-1, dist.shape[-1])
    block = max(1, POINTS_PER_BLOCK // joints)
    parts = [_undistort_newton(*pair, iterations) for pair in zip(flat.split(block), flat_dist.split(block))]
    return torch.cat(parts).reshape(*rows, joints, 2)


def _undistort_newton(distorted: Tensor, dist: Tensor, iterations: int) -> Tensor:
    """``undistort`` in one batch: (..., J, 2), (..., 5) -> (..., J, 2), NaN where it did not converge."""
    target_u, target_v = distorted.unbind(-1)
    u, v, unfolded = _newton_steps(target_u, target_v, dist, iterations)
    with torch.no_grad():
        converged = unfolded & _converged(u, v, target_u, target_v, dist)
    return torch.stack([u, v], dim=-1).masked_fill(~converged.unsqueeze(-1), torch.nan)


def _newton_steps(target_u: Tensor, target_v: Tensor, dist: Tensor, iterations: int) -> tuple[Tensor, Tensor, Tensor]:
    """``iterations`` Newton steps on ``distort(u, v) = target`` (..., J) from the target itself -> u, v (..., J), and
    whether the lens is unfolded where the last step started (..., J) (its Jacobian positive definite; True after no
    step): beyond a fold the model mirrors the image, so a solution there is a wrong point, not an inverse."""
    u, v = target_u, target_v
    a = determinant = torch.ones_like(target_u)
    for _ in range(iterations):
        u_distorted, v_distorted, a, b, d = _distortion_terms(u, v, dist)
        residual_u, residual_v = u_distorted - target_u, v_distorted - target_v
        determinant = a * d - b * b  # the 2x2 solve written out: cheaper than a batched linalg.solve
        u = u - (d * residual_u - b * residual_v) / determinant
        v = v - (a * residual_v - b * residual_u) / determinant
    return u, v, (a > 0) & (determinant > 0)


def _converged(u: Tensor, v: Tensor, target_u: Tensor, target_v: Tensor, dist: Tensor) -> Tensor:
    """Whether undistorted u, v (..., J) distort to within ``UNDISTORT_TOLERANCE`` of the targets (..., J), relative
    beyond a radius of 1 (float32 round-off grows with the coordinates); False for NaN."""
    lens = _lens(u, v, dist)
    miss = torch.maximum((lens.u_distorted - target_u).abs(), (lens.v_distorted - target_v).abs())
    bound = torch.maximum(target_u.abs(), target_v.abs()).clamp_(min=1).mul_(UNDISTORT_TOLERANCE)
    return miss <= bound


def lens_inversion_error_px(K: Tensor, dist: Tensor, image_size: tuple[int, int], points_per_side: int = 33) -> Tensor:
    """K (..., 3, 3), dist (..., 5), image (width, height) -> the worst round-trip error in pixels (...), inf where
    ``undistort`` finds no inverse (NaN) for some pixel of the image.

    A grid of ``points_per_side`` x ``points_per_side`` pixels over the whole image, corners and edges included, is
    read as detections: undistorted, distorted again and compared with where it started, in float64. A usable lens
    gives about 1e-12 px; one that folds inside the image or that Newton's steps cannot invert gives inf or pixels.
    """
    width, height = image_size
    xs = torch.linspace(0, width - 1, points_per_side, dtype=torch.float64)
    ys = torch.linspace(0, height - 1, points_per_side, dtype=torch.float64)
    pixels = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)  # (N, 2)
    K, dist = K.to(torch.float64), dist.to(torch.float64)
    undistorted = undistort(pixels_to_normalised(pixels, K), dist)
    round_trip = normalised_to_pixels(distort(undistorted, dist), K)
    error = (round_trip - pixels).norm(dim=-1)
    return torch.where(torch.isfinite(error), error, torch.inf).amax(-1)


def _check_lens_arguments(function: str, points: Tensor, dist: Tensor) -> None:
    check_tensor(function, "points", points, ("...", 2))
    check_tensor(function, "dist", dist, ("...", 5))


def normalised_to_pixels(normalised: Tensor, K: Tensor) -> Tensor:
    """Normalised image coordinates (..., J, 2), K (..., 3, 3) -> pixels (..., J, 2): K (u, v, 1)."""
    return normalised @ K[..., :2, :2].transpose(-1, -2) + K[..., None, :2, 2]


def pixels_to_normalised(pixels: Tensor, K: Tensor) -> Tensor:
    """Pixels (..., J, 2), K (..., 3, 3) -> normalised image coordinates (..., J, 2): K⁻¹ (x, y, 1)."""
    check_tensor("pixels_to_normalised", "pixels", pixels, ("...", 2))
    check_tensor("pixels_to_normalised", "K", K, ("...", 3, 3))
    homogeneous = torch.cat([pixels, torch.ones_like(pixels[..., :1])], dim=-1)
    return (homogeneous @ torch.linalg.inv(K).transpose(-1, -2))[..., :2]


def project_camera_points(
    points: Tensor,
    K: Tensor,
    projection: str = "perspective",
    depth: Tensor | None = None,
    dist: Tensor | None = None,
) -> Tensor:
    """Camera-frame points (..., J, 3) -> pixels (..., J, 2): K Π(X) (Eq. 10), optionally through the lens.

    ``projection`` is ``"perspective"`` (Eq. 12) or ``"scaled_orthographic"`` about ``depth`` (...), the reference
    depth in mm (default: the mean depth of the J points).
    """
    if projection == "perspective":
        normalised = perspective_projection(points)
    elif projection == "scaled_orthographic":
        reference = points[..., 2].mean(-1) if depth is None else depth
        normalised = scaled_orthographic_projection(points, reference)
    else:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
    if dist is not None:
        normalised = distort(normalised, dist)
    return normalised_to_pixels(normalised, K)


def project(points: Tensor, camera: Camera, projection: str = "perspective", with_distortion: bool = True) -> Tensor:
    """World points (..., J, 3) in mm -> pixel coordinates (..., J, 2) (Eq. 9-10), through the lens by default;
    NaN for a point behind the camera or in its plane (camera-frame z ≤ 0), which no pixel shows.

    Without that, Π_p would send a point behind the camera to the pixel of its mirror image in front (x/z and y/z
    keep their value when x, y, z all change sign). The gradient is zero there, finite elsewhere.
    ``project_camera_points`` does not do this: the losses use it on predictions and need their gradients.
    """
    check_tensor("project", "points", points, ("...", 3))
    camera_points = camera.world_to_camera(points)
    in_front = camera_points[..., 2] > 0
    # A stand-in in front keeps the unused branch finite, so no inf/NaN reaches the backward pass through where.
    safe_points = torch.where(in_front.unsqueeze(-1), camera_points, camera_points.new_tensor([0.0, 0.0, 1.0]))
    dist = camera.dist if with_distortion else None
    depth = camera_points[..., 2].mean(-1) if projection == "scaled_orthographic" else None  # of the true points
    pixels = project_camera_points(safe_points, camera.K, projection, depth=depth, dist=dist)
    return torch.where(in_front.unsqueeze(-1), pixels, torch.nan)


def look_at_rotation(center: Tensor, target: Tensor, up: Tensor) -> Tensor:
    """Camera centre (..., 3), target (..., 3), world up (3,) -> R (..., 3, 3) whose +z looks at the target.

    Image y points away from ``up`` (down in the image), as in OpenCV.
    """
    forward = torch.nn.functional.normalize(target - center, dim=-1)
    sideways = torch.linalg.cross(forward, up.expand_as(forward), dim=-1)
    # Looking along ``up`` leaves the roll undefined; normalising would silently return NaN or a random roll.
    if (sideways.norm(dim=-1) < 1e-6 * up.norm(dim=-1)).any():
        raise ValueError("look_at_rotation: target - center must not be parallel to up")
    right = torch.nn.functional.normalize(sideways, dim=-1)
    down = torch.linalg.cross(forward, right, dim=-1)
    return torch.stack([right, down, forward], dim=-2)
