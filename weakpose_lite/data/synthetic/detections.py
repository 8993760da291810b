"""OpenPose-like 2D detections simulated from 3D joints: lens projection, noise, misses, gross errors, confidences.

The paper trains on OpenPose's detections, not on clean projections (§3.4), so the synthetic rig and any real 3D
(Panoptic's groundtruth) get detections with OpenPose's failure modes:

- **Pixel noise** of standard deviation ``noise_floor_px + noise_relative × person size in pixels``: the floor is the
  heat-map quantisation (OpenPose's 8× down-sampled maps are ~23 HD pixels a cell), the relative part is the
  detector's uncertainty about where on a limb the joint is, which scales with the person's size (as COCO's OKS
  assumes). In millimetres at the person, or relative to the apparent size, the error therefore **grows with
  distance**. A few joints get a heavy tail (×``heavy_tail_scale``).
- **Missing joints**: outside the image or behind the camera; hidden behind the torso or a face joint on the far side
  of the head (a self-occlusion proxy, missed with probability ``occluded_miss_rate``, otherwise detected with extra
  noise and low confidence); random misses, worse for ears and ankles, which the paper reports as OpenPose's worst
  joints (§3.4); whole hands missed by the hand detector; and any joint whose confidence falls below the threshold.
- **Gross errors** in ``gross_error_rate`` of the views: the left and right arms (or legs) swapped, or one forearm
  (or shin) snapped to a wrong place. The detector is as confident as usual about these, as OpenPose is.
- **Confidence** in [0, 1]: a per-joint quality times a per-view quality, lowered by the size of the joint's local
  error, plus a little noise, so it correlates with error. Missing joints are zeros with confidence 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from weakpose_lite.cameras import Camera, project
from weakpose_lite.skeleton import Skeleton

_HARD_JOINTS = ("left_ear", "right_ear", "left_ankle", "right_ankle")
_TORSO_QUAD = ("right_shoulder", "left_shoulder", "left_hip", "right_hip")  # in order around the torso
_NOT_OCCLUDED_BY_TORSO = ("neck", "nose", "left_eye", "right_eye", "left_ear", "right_ear") + _TORSO_QUAD
# A face joint is hidden when its direction from the head centre makes this cosine or less with the direction to
# the camera: the nose and eyes are still found a little past profile, an ear from its own side and from behind.
_FACING_THRESHOLD = {"nose": -0.55, "left_eye": -0.5, "right_eye": -0.5, "left_ear": -0.35, "right_ear": -0.35}
_MIN_DEPTH_MM = 100.0
_TORSO_DILATION = 1.15  # the body's outline is a little wider than its shoulder and hip keypoints
_TORSO_DEPTH_MARGIN_MM = 80.0  # a joint this much behind the torso's mean depth counts as behind it


@dataclass(frozen=True)
class DetectionConfig:
    """Parameters of the detection model. On the synthetic HD dome the defaults miss ~13 % of the joints that lie in
    the image (~19 % of all joints: half the ankles fall out of frame, as on the real rig) with ~6 px of noise.

    image_size: (width, height) in pixels; noise: px and fraction of person size; rates: probabilities.
    """

    image_size: tuple[int, int] = (1920, 1080)
    noise_floor_px: float = 2.0
    noise_relative: float = 0.004
    hard_joint_noise: float = 1.5
    hand_joint_noise: float = 0.6
    heavy_tail_rate: float = 0.03
    heavy_tail_scale: float = 4.0
    miss_rate: float = 0.02
    hard_joint_miss_rate: float = 0.08
    hand_miss_rate: float = 0.05
    hand_dropout_rate: float = 0.08
    occluded_miss_rate: float = 0.8
    occluded_noise_scale: float = 3.0
    gross_error_rate: float = 0.01
    gross_error_size: tuple[float, float] = (0.15, 0.4)
    body_confidence: float = 0.85
    hard_joint_confidence: float = 0.55
    hand_confidence: float = 0.6
    view_quality: tuple[float, float] = (0.8, 1.0)
    confidence_noise: float = 0.05
    confidence_threshold: float = 0.05

    @classmethod
    def noiseless(cls) -> DetectionConfig:
        """Exact projections: no noise, misses, occlusion or gross errors; only joints outside the image are lost."""
        return cls(
            noise_floor_px=0.0, noise_relative=0.0, heavy_tail_rate=0.0, miss_rate=0.0, hard_joint_miss_rate=0.0,
            hand_miss_rate=0.0, hand_dropout_rate=0.0, occluded_miss_rate=0.0, occluded_noise_scale=1.0,
            gross_error_rate=0.0, view_quality=(1.0, 1.0), confidence_noise=0.0, confidence_threshold=0.0,
        )  # fmt: skip


def _joint_table(skeleton: Skeleton, body: float, hard: float, hand: float) -> Tensor:
    """A per-joint value (J,): ``hand`` for hand keypoints, ``hard`` for ears and ankles, ``body`` otherwise."""
    values = [hand if "_hand_" in name else hard if name in _HARD_JOINTS else body for name in skeleton.joints]
    return torch.tensor(values)


def person_size_px(camera_points: Tensor, focal: Tensor, finite: Tensor) -> Tensor:
    """Camera-frame joints (..., J, 3), focal length (...) px, known joints (..., J) -> apparent size (...) px:
    the diagonal of the joints' 3D bounding box over the depth of its centre."""
    big = torch.finfo(camera_points.dtype).max
    low = torch.where(finite[..., None], camera_points, big).amin(-2)
    high = torch.where(finite[..., None], camera_points, -big).amax(-2)
    return focal * (high - low).norm(dim=-1) / ((high + low)[..., 2] / 2).clamp(min=_MIN_DEPTH_MM)


def inside_image(pixels: Tensor, image_size: tuple[int, int]) -> Tensor:
    """Pixels (..., 2) -> (...) bool: inside [0, width) × [0, height)."""
    width, height = image_size
    return (pixels[..., 0] >= 0) & (pixels[..., 0] < width) & (pixels[..., 1] >= 0) & (pixels[..., 1] < height)


def behind_torso(camera_points: Tensor, skeleton: Skeleton) -> Tensor:
    """Camera-frame joints (..., J, 3) -> (..., J) bool: the joint projects inside the (slightly dilated) torso
    quadrilateral of shoulders and hips and lies behind the torso, seen from the camera."""
    image = camera_points[..., :2] / camera_points[..., 2:3].clamp(min=_MIN_DEPTH_MM)
    quad = image[..., [skeleton.index(name) for name in _TORSO_QUAD], :]
    centre = quad.mean(-2, keepdim=True)
    quad = centre + _TORSO_DILATION * (quad - centre)
    edges = quad.roll(-1, dims=-2) - quad  # (..., 4, 2)
    to_point = image[..., None, :, :] - quad[..., :, None, :]  # (..., 4, J, 2)
    cross = edges[..., :, None, 0] * to_point[..., 1] - edges[..., :, None, 1] * to_point[..., 0]
    inside = (cross > 0).all(-2) | (cross < 0).all(-2)
    torso_depth = camera_points[..., [skeleton.index(name) for name in _TORSO_QUAD], 2].mean(-1, keepdim=True)
    exempt = torch.tensor([name in _NOT_OCCLUDED_BY_TORSO for name in skeleton.joints])
    return inside & (camera_points[..., 2] > torso_depth + _TORSO_DEPTH_MARGIN_MM) & ~exempt


def facing_away(camera_points: Tensor, skeleton: Skeleton) -> Tensor:
    """Camera-frame joints (..., J, 3) -> (..., J) bool: a face joint on the far side of the head (centre: the
    ears' midpoint); False for every other joint and wherever the head is unknown."""
    head = camera_points[..., [skeleton.index("left_ear"), skeleton.index("right_ear")], :].mean(-2, keepdim=True)
    outward = torch.nn.functional.normalize(camera_points - head, dim=-1)
    to_camera = torch.nn.functional.normalize(-camera_points, dim=-1)
    cosine = (outward * to_camera).sum(-1)
    threshold = torch.tensor([_FACING_THRESHOLD.get(name, -2.0) for name in skeleton.joints], dtype=cosine.dtype)
    return cosine <= threshold  # NaN compares False: unknown heads hide nothing


def _limb_tables(skeleton: Skeleton) -> tuple[Tensor, Tensor]:
    """For the 4 limbs (left arm, right arm, left leg, right leg): the permutation (4, J) that swaps the limb with
    its other side, and the mask (4, J) of the joints that move when the limb is snapped elsewhere."""
    chains = {"arm": ("shoulder", "elbow", "wrist"), "leg": ("hip", "knee", "ankle")}
    swaps, moved = [], []
    for kind, chain in chains.items():
        for side, other in (("left", "right"), ("right", "left")):
            names = [f"{side}_{joint}" for joint in chain]
            if kind == "arm":
                names += [name for name in skeleton.joints if name.startswith(f"{side}_hand_")]
            permutation = list(range(skeleton.num_joints))
            for name in names:
                mirrored = name.replace(side, other, 1)
                permutation[skeleton.index(name)] = skeleton.index(mirrored)
                permutation[skeleton.index(mirrored)] = skeleton.index(name)
            swaps.append(permutation)
            moved.append([name in names[1:] for name in skeleton.joints])  # all but the limb's root joint
    return torch.tensor(swaps), torch.tensor(moved)


def gross_errors(
    pixels: Tensor, size: Tensor, skeleton: Skeleton, generator: torch.Generator, config: DetectionConfig
) -> Tensor:
    """Detections (F, C, J, 2), person size (F, C) px -> the same with a limb swapped or snapped in a few views."""
    batch = pixels.shape[:2]
    affected = torch.rand(batch, generator=generator, dtype=pixels.dtype) < config.gross_error_rate
    swap = torch.rand(batch, generator=generator) < 0.5
    limb = torch.randint(4, batch, generator=generator)
    angle = 2 * torch.pi * torch.rand(batch, generator=generator, dtype=pixels.dtype)
    low, high = config.gross_error_size
    length = size * (low + (high - low) * torch.rand(batch, generator=generator, dtype=pixels.dtype))
    swaps, moved = _limb_tables(skeleton)
    identity = torch.arange(skeleton.num_joints).expand(*batch, -1)
    permutation = torch.where((affected & swap)[..., None], swaps[limb], identity)
    swapped = pixels.gather(-2, permutation[..., None].expand_as(pixels))
    offset = length[..., None] * torch.stack([torch.cos(angle), torch.sin(angle)], -1)
    snapped = (affected & ~swap)[..., None] & moved[limb]
    return swapped + snapped[..., None] * offset[..., None, :]


def simulate_detections(
    points_3d: Tensor,
    cameras: Camera,
    view_mask: Tensor,
    generator: torch.Generator,
    skeleton: Skeleton,
    config: DetectionConfig = DetectionConfig(),
) -> tuple[Tensor, Tensor]:
    """World joints (F, J, 3) mm, cameras (F, C), view mask (F, C) -> keypoints (F, C, J, 2) px, confidence (F, C, J).

    Keypoints are as detected, through the lens (``cameras.project``) and with noise; a missing joint or view is
    zeros with confidence 0, and every joint with confidence > 0 lies inside the image. Joints NaN in ``points_3d``
    are missing.
    """
    dtype = points_3d.dtype
    finite = torch.isfinite(points_3d).all(-1)[:, None].expand(*view_mask.shape, -1)  # (F, C, J)
    points = torch.nan_to_num(points_3d)[:, None]
    camera_points = cameras.world_to_camera(points)  # (F, C, J, 3)
    exact = project(points, cameras)
    size = person_size_px(camera_points, cameras.K[..., 0, 0], finite)

    occluded = behind_torso(camera_points, skeleton) | facing_away(
        torch.where(finite[..., None], camera_points, torch.nan), skeleton
    )
    per_joint = _joint_table(skeleton, 1.0, config.hard_joint_noise, config.hand_joint_noise).to(dtype)
    sigma = (config.noise_floor_px + config.noise_relative * size)[..., None] * per_joint
    heavy = torch.rand(finite.shape, generator=generator, dtype=dtype) < config.heavy_tail_rate
    sigma = sigma * torch.where(heavy, config.heavy_tail_scale, 1.0)
    sigma = sigma * torch.where(occluded, config.occluded_noise_scale, 1.0)
    noise = sigma[..., None] * torch.randn(*finite.shape, 2, generator=generator, dtype=dtype)
    detected = gross_errors(exact + noise, size, skeleton, generator, config)

    confidence = _confidence(noise, sigma, occluded, skeleton, generator, config)
    missed = _missed(occluded, skeleton, generator, config)
    visible = (
        view_mask[..., None] & finite & ~missed & (camera_points[..., 2] > _MIN_DEPTH_MM)
        & inside_image(exact, config.image_size) & inside_image(detected, config.image_size)
        & (confidence >= config.confidence_threshold) & (confidence > 0)
    )  # fmt: skip
    return torch.where(visible[..., None], detected, 0.0), torch.where(visible, confidence, 0.0)


def _confidence(
    noise: Tensor,
    sigma: Tensor,
    occluded: Tensor,
    skeleton: Skeleton,
    generator: torch.Generator,
    config: DetectionConfig,
) -> Tensor:
    """Confidence (F, C, J) in [0, 1]: joint quality × view quality × exp(−½ (error / 2.5 σ_nominal)²) + noise,
    halved for occluded joints that were detected anyway."""
    dtype = noise.dtype
    quality = _joint_table(skeleton, config.body_confidence, config.hard_joint_confidence, config.hand_confidence)
    quality = quality.to(dtype)
    low, high = config.view_quality
    view = low + (high - low) * torch.rand(noise.shape[:2], generator=generator, dtype=dtype)
    nominal = sigma * torch.where(occluded, 1.0 / config.occluded_noise_scale, 1.0)
    error = noise.norm(dim=-1) / (2.5 * nominal).clamp(min=torch.finfo(dtype).tiny)
    confidence = quality * view[..., None] * torch.exp(-0.5 * error**2) * torch.where(occluded, 0.5, 1.0)
    confidence = confidence + config.confidence_noise * torch.randn(confidence.shape, generator=generator, dtype=dtype)
    return confidence.clamp(0, 1)


def _missed(occluded: Tensor, skeleton: Skeleton, generator: torch.Generator, config: DetectionConfig) -> Tensor:
    """(F, C, J) bool: joints the detector misses: random misses, occluded joints, whole hands."""
    rate = _joint_table(skeleton, config.miss_rate, config.hard_joint_miss_rate, config.hand_miss_rate)
    random_miss = torch.rand(occluded.shape, generator=generator) < rate
    occluded_miss = occluded & (torch.rand(occluded.shape, generator=generator) < config.occluded_miss_rate)
    hand_side = torch.tensor([
        0 if name.startswith("left_hand_") else 1 if name.startswith("right_hand_") else 2 for name in skeleton.joints
    ])  # fmt: skip
    dropped = torch.rand(*occluded.shape[:2], 2, generator=generator) < config.hand_dropout_rate
    dropped = torch.cat([dropped, torch.zeros_like(dropped[..., :1])], -1)[..., hand_side]
    return random_miss | occluded_miss | dropped
