"""The synthetic rig: a random dome of HD cameras with the geometry and lenses of CMU Panoptic's.

``panoptic_like_rig`` copies the geometry measured on the real HD calibrations: cameras on a sphere of radius
≈ 2.77 m about a point 1.31 m above the floor, in seven rings from y = −3.4 m to −0.74 m (world y points down, floor
at y = 0), so their distance to the volume in x–z runs from 1.8 m (top ring) to 2.7 m; focal lengths 1393–1862 px
(most near 1396), principal point near the image centre, OpenCV lenses with k1 ≈ −0.29 to −0.17, k2 ≈ 0.16–0.22 and
tiny p1, p2, k3; each camera aimed at the volume centre within a few degrees.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from weakpose_lite.cameras import Camera, look_at_rotation
from weakpose_lite.data.formats.validation import check_cameras
from weakpose_lite.data.synthetic.seeding import uniform

PANOPTIC_UP = (0.0, -1.0, 0.0)  # Panoptic's world y points down
DOME_CENTRE_MM = (0.0, -1310.0, 0.0)  # where the real HD cameras' optical axes meet, 1.31 m above the floor
DOME_RADIUS_MM = 2770.0
# Seven rings of the real HD dome, top to bottom: height (world y, mm) and number of cameras.
_RINGS = ((-3400.0, 5), (-3120.0, 5), (-2400.0, 5), (-1980.0, 5), (-1520.0, 5), (-1190.0, 5), (-740.0, 1))
_GOLDEN_ANGLE = math.radians(137.5)  # staggers the rings so that no two cameras stand one above the other


def _ring_of_each_camera(num_cameras: int) -> Tensor:
    """(C,) ring index of each camera, in the proportions of Panoptic's rings (exactly its rings for C = 31)."""
    counts = torch.tensor([count for _, count in _RINGS], dtype=torch.float64)
    bounds = counts.cumsum(0) / counts.sum()
    return torch.searchsorted(bounds, (torch.arange(num_cameras, dtype=torch.float64) + 0.5) / num_cameras)


def panoptic_like_rig(generator: torch.Generator, num_cameras: int = 31) -> Camera:
    """A random dome of HD cameras (C,) like Panoptic's, float32, world mm (y down); see the module docstring."""
    ring = _ring_of_each_camera(num_cameras)
    ring_heights = torch.tensor([height for height, _ in _RINGS], dtype=torch.float64)
    heights = ring_heights[ring] + uniform(generator, -20, 20, num_cameras, dtype=torch.float64)
    per_ring = torch.bincount(ring, minlength=len(_RINGS)).to(torch.float64)
    slot = torch.stack([(ring[:k] == ring[k]).sum() for k in range(num_cameras)]).to(torch.float64)
    jitter = math.radians(8) * (2 * uniform(generator, 0, 1, num_cameras, dtype=torch.float64) - 1)
    azimuth = 2 * math.pi * slot / per_ring[ring] + _GOLDEN_ANGLE * ring + jitter
    centre = torch.tensor(DOME_CENTRE_MM, dtype=torch.float64)
    radius = DOME_RADIUS_MM + uniform(generator, -40, 40, num_cameras, dtype=torch.float64)
    horizontal = torch.sqrt(radius**2 - (heights - centre[1]) ** 2)
    position = torch.stack([horizontal * torch.cos(azimuth), heights, horizontal * torch.sin(azimuth)], -1)
    aim = centre + 120 * torch.randn(num_cameras, 3, generator=generator, dtype=torch.float64)
    roll = math.radians(2.5) * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    R = _roll(roll) @ look_at_rotation(position, aim, torch.tensor(PANOPTIC_UP, dtype=torch.float64))
    t = -(R @ position.unsqueeze(-1)).squeeze(-1)
    K, dist = _panoptic_like_lenses(num_cameras, generator)
    rig = Camera(K, R, t, dist).to(torch.float32)
    check_cameras(rig[None], "synthetic rig", ["its cameras"])  # the gate every camera set passes
    return rig


def _roll(angle: Tensor) -> Tensor:
    """Rotations (C, 3, 3) about the optical axis by ``angle`` (C,) rad."""
    cos, sin, zero, one = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], -1).reshape(-1, 3, 3)


def _panoptic_like_lenses(num_cameras: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Intrinsics K (C, 3, 3) and distortion (C, 5) drawn like the 31 real HD cameras.

    Most real HD lenses have f ≈ 1396 px, the rest up to 1862 px; k1 rises from −0.29 to −0.17 with f.
    """
    short = uniform(generator, 1393, 1400, num_cameras, dtype=torch.float64)
    long = uniform(generator, 1400, 1862, num_cameras, dtype=torch.float64)
    fx = torch.where(uniform(generator, 0, 1, num_cameras, dtype=torch.float64) < 0.6, short, long)
    K = torch.zeros(num_cameras, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1] = fx, fx - uniform(generator, 3, 5, num_cameras, dtype=torch.float64)
    K[:, 0, 2] = 945 + 8 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    K[:, 1, 2] = 558 + 7 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    K[:, 2, 2] = 1
    k1 = -0.285 + 0.00024 * (fx - 1396) + 0.008 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    k1 = k1.clamp(-0.35, -0.15)
    k2 = uniform(generator, 0.16, 0.22, num_cameras, dtype=torch.float64)
    p1 = -2e-4 + 3e-4 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    p2 = 5e-4 + 3e-4 * torch.randn(num_cameras, generator=generator, dtype=torch.float64)
    k3 = uniform(generator, -0.06, 0.02, num_cameras, dtype=torch.float64)
    return K, torch.stack([k1, k2, p1, p2, k3], -1)


def rig_centre(cameras: Camera) -> Tensor:
    """Cameras (C,) -> the point (3,) nearest to all their optical axes (least squares): the capture volume's centre."""
    axis = cameras.R[:, 2, :].to(torch.float64)
    centre = cameras.center.to(torch.float64)
    projector = torch.eye(3, dtype=torch.float64) - axis[:, :, None] * axis[:, None, :]  # removes the axis direction
    return torch.linalg.solve(projector.sum(0), (projector @ centre[..., None]).sum(0)).squeeze(-1).to(cameras.t.dtype)

