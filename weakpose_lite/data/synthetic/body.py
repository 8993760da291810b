"""The synthetic body model: subjects with anthropometric bone lengths, and their joints by forward kinematics.

A pose is a vector of joint angles in degrees (``DEGREES_OF_FREEDOM``, clamped to ``JOINT_LIMITS``); forward
kinematics turns it into the 60 joints of ``skeleton.BODY_HANDS`` (the first 18 are ``BODY``). Because every joint
is placed by rotating a bone of fixed length, bone lengths stay constant over time and no elbow or knee ever bends
backwards, which is what a lifting network must learn from this data. How the angles move over time is ``motion``'s.

Frames: forward kinematics works in a *body frame* (x the person's anatomical left, y up, z forward, mm, floor at
y = 0). ``pose_sequence`` turns it into Panoptic's world, whose y axis points **down** (floor at y = 0): the body
frame is turned half a turn about z (x → −x, y → −y, a proper rotation, so left stays left) and then about the
vertical by the person's yaw. Anthropometric proportions follow Winter's segment tables (Biomechanics and Motor
Control of Human Movement), adjusted to the Panoptic keypoints measured on real frames: neck–hip 44 cm, upper arm
27 cm, forearm 24 cm, thigh 40 cm, shin 42 cm, shoulders 33 cm and hips 20 cm apart for a person of about 1.7 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from weakpose_lite.data.synthetic.seeding import uniform
from weakpose_lite.skeleton import BODY_HANDS, Skeleton

SIDES = ("left", "right")
SIDE_SIGN = {"left": 1.0, "right": -1.0}  # lateral coordinates and sideways rotations flip for the right side
_TRUNK_DOFS = (
    "pelvis_tilt", "spine_flex", "spine_lateral", "spine_twist", "head_pitch", "head_yaw", "head_roll",
)  # fmt: skip
_LIMB_DOFS = (
    "shoulder_flex", "shoulder_abduct", "shoulder_twist", "elbow_flex", "forearm_supinate", "wrist_flex",
    "wrist_deviate", "hip_flex", "hip_abduct", "hip_twist", "knee_flex",
)  # fmt: skip
DEGREES_OF_FREEDOM = _TRUNK_DOFS + tuple(f"{side}_{dof}" for side in SIDES for dof in _LIMB_DOFS)

# Positive directions: tilt/flexion forward, lateral bend and head roll toward the left, twist/yaw to the left,
# head pitch down; abduction away from the body; elbow and knee flexion only bend (0 is straight), so a limit of 0
# is what forbids hyper-extension. Ranges are the usual clinical ranges of motion, narrowed a little.
_TRUNK_LIMITS = {
    "pelvis_tilt": (-15, 90), "spine_flex": (-25, 60), "spine_lateral": (-35, 35), "spine_twist": (-45, 45),
    "head_pitch": (-45, 60), "head_yaw": (-75, 75), "head_roll": (-35, 35),
}  # fmt: skip
_LIMB_LIMITS = {
    "shoulder_flex": (-50, 180), "shoulder_abduct": (-10, 180), "shoulder_twist": (-80, 80), "elbow_flex": (0, 145),
    "forearm_supinate": (-85, 85), "wrist_flex": (-60, 70), "wrist_deviate": (-20, 30),
    "hip_flex": (-20, 125), "hip_abduct": (-15, 45), "hip_twist": (-40, 40), "knee_flex": (0, 145),
}  # fmt: skip
JOINT_LIMITS = _TRUNK_LIMITS | {f"{side}_{dof}": _LIMB_LIMITS[dof] for side in SIDES for dof in _LIMB_DOFS}

# Segment lengths as fractions of standing height (Winter's table, matched to Panoptic's keypoints, see above);
# "head" is the length the face offsets below are fractions of, so heads vary in size like the other segments.
SEGMENT_FRACTIONS = {
    "ankle_height": 0.039, "shin": 0.250, "thigh": 0.235, "hip_width": 0.115, "torso": 0.258,
    "shoulder_width": 0.194, "upper_arm": 0.158, "forearm": 0.139, "hand": 0.108, "head": 1.0,
}  # fmt: skip
# Face keypoints in the head frame, fractions of height, about a pivot 0.075 H above the neck keypoint.
_HEAD_PIVOT = (0.0, 0.075, -0.005)
FACE_POINTS = {
    "nose": (0.0, 0.045, 0.075),
    "left_eye": (0.019, 0.062, 0.060), "right_eye": (-0.019, 0.062, 0.060),
    "left_ear": (0.046, 0.052, 0.005), "right_ear": (-0.046, 0.052, 0.005),
}  # fmt: skip
HEIGHT_RANGE_MM = (1500.0, 1950.0)
FINGERS = ("thumb", "index", "middle", "ring", "pinky")


@dataclass(frozen=True)
class Subject:
    """One person: standing height and segment lengths in mm, a rest pose (D,) in degrees, and a vigour factor."""

    name: str
    height: float
    segments: dict[str, float]
    rest_pose: Tensor
    vigour: float


@dataclass(frozen=True)
class Motion:
    """One sequence of T frames: joint angles (T, D) in degrees, finger curl (T, 2, 5) in [0, 1] (left, right;
    thumb to pinky), pelvis position on the floor (T, 2) as world (x, z) mm, and yaw (T,) in radians."""

    angles: Tensor
    finger_curl: Tensor
    floor_position: Tensor
    yaw: Tensor


def sample_subject(name: str, generator: torch.Generator) -> Subject:
    """One random adult: height ~ N(1.72 m, 9 cm) within 1.50–1.95 m, each segment ±3 % (at most ±8 %) around it."""
    height = float((1720.0 + 90.0 * torch.randn((), generator=generator)).clamp(*HEIGHT_RANGE_MM))
    variation = (0.03 * torch.randn(len(SEGMENT_FRACTIONS), generator=generator)).clamp(-0.08, 0.08)
    segments = {
        name: height * fraction * (1.0 + float(change))
        for (name, fraction), change in zip(SEGMENT_FRACTIONS.items(), variation)
    }
    return Subject(name, height, segments, _sample_rest_pose(generator), float(uniform(generator, 0.7, 1.1)))


def _sample_rest_pose(generator: torch.Generator) -> Tensor:
    """A personal way of standing (D,) in degrees: arms slightly out and bent, feet apart, knees soft."""
    style = {
        "spine_flex": (-5, 8), "head_pitch": (-5, 12), "shoulder_abduct": (4, 16), "shoulder_flex": (-5, 8),
        "elbow_flex": (5, 30), "forearm_supinate": (-30, 10), "wrist_flex": (-5, 15), "hip_abduct": (2, 8),
        "knee_flex": (0, 8), "hip_twist": (0, 12),
    }  # fmt: skip
    offsets = {}
    for dof, (low, high) in style.items():
        value = uniform(generator, low, high)
        for name in (dof,) if dof in _TRUNK_DOFS else (f"{side}_{dof}" for side in SIDES):
            offsets[name] = value + uniform(generator, -2, 2)
    return angle_vector(offsets, ())


def angle_vector(offsets: dict[str, Tensor | float], shape: tuple[int, ...]) -> Tensor:
    """Named angle series of shape ``shape`` -> (*shape, D), zero for every degree of freedom not named."""
    unknown = set(offsets) - set(DEGREES_OF_FREEDOM)
    if unknown:
        raise ValueError(f"unknown degrees of freedom {sorted(unknown)}")
    columns = [torch.as_tensor(offsets.get(name, 0.0), dtype=torch.float32) for name in DEGREES_OF_FREEDOM]
    return torch.stack([column.expand(shape) for column in columns], -1)


def clamp_to_limits(angles: Tensor) -> Tensor:
    """Joint angles (..., D) in degrees -> the same clamped to ``JOINT_LIMITS``."""
    low = torch.tensor([JOINT_LIMITS[name][0] for name in DEGREES_OF_FREEDOM], dtype=angles.dtype)
    high = torch.tensor([JOINT_LIMITS[name][1] for name in DEGREES_OF_FREEDOM], dtype=angles.dtype)
    return torch.maximum(torch.minimum(angles, high), low)


def _rotation(axis: int, degrees: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) by ``degrees`` (...) about coordinate axis 0, 1 or 2 (right-handed)."""
    radians = torch.deg2rad(degrees)
    cos, sin = torch.cos(radians), torch.sin(radians)
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rows = {
        0: ((one, zero, zero), (zero, cos, -sin), (zero, sin, cos)),
        1: ((cos, zero, sin), (zero, one, zero), (-sin, zero, cos)),
        2: ((cos, -sin, zero), (sin, cos, zero), (zero, zero, one)),
    }[axis]
    return torch.stack([torch.stack(row, -1) for row in rows], -2)


def _apply(rotation: Tensor, vector: Tensor) -> Tensor:
    """Rotations (T, 3, 3) applied to one vector (3,) -> (T, 3), or to N vectors each (T, N, 3) -> (T, N, 3)."""
    if vector.dim() == 1:
        return rotation @ vector
    # row vectors times Rᵀ: one small matrix product per frame, much faster than one per point
    return vector @ rotation.transpose(-1, -2)


def _vector(x: float, y: float, z: float) -> Tensor:
    return torch.tensor([x, y, z], dtype=torch.float32)


def _hand_points(curl: Tensor, hand_length: float, sign: float) -> Tensor:
    """Finger curl (T, 5) -> the 21 HAND21 keypoints (T, 21, 3) in the forearm's rest frame, relative to the wrist.

    Rest frame of a hanging arm: fingers down (−y), thumb forward (+z), palm toward the body (−sign x).
    Each finger flexes toward the palm at its three joints (85°, 105°, 75° at full curl); the thumb opposes.
    """
    distal, thumb_side, palm = _vector(0, -1, 0), _vector(0, 0, 1), _vector(-sign, 0, 0)
    # finger: base (across toward thumb, along the hand), spread in degrees, phalanx lengths; all × hand length
    layout = {
        "index": (0.10, 0.47, 8.0, (0.21, 0.13, 0.10)),
        "middle": (0.03, 0.47, 0.0, (0.24, 0.15, 0.11)),
        "ring": (-0.04, 0.45, -6.0, (0.22, 0.14, 0.10)),
        "pinky": (-0.11, 0.41, -14.0, (0.17, 0.10, 0.09)),
    }
    points = [0.08 * hand_length * distal.expand(curl.shape[0], 3)]
    thumb_base = 0.11 * thumb_side + 0.12 * distal + 0.04 * palm
    thumb_direction = torch.nn.functional.normalize(0.6 * distal + 0.7 * thumb_side + 0.35 * palm, dim=0)
    thumb_bend = palm - 0.3 * thumb_side
    # the bend direction must be orthogonal to the thumb for its phalanges to keep their lengths
    thumb_bend = torch.nn.functional.normalize(thumb_bend - (thumb_bend @ thumb_direction) * thumb_direction, dim=0)
    thumb_lengths, thumb_full_curl = (0.25, 0.18, 0.14), (25, 45, 65)
    thumb_base = hand_length * thumb_base
    points += _finger(thumb_base, thumb_direction, thumb_bend, thumb_lengths, thumb_full_curl, curl[:, 0], hand_length)
    for k, (across, along, spread, lengths) in enumerate(layout.values(), start=1):
        spread_radians = math.radians(spread)
        direction = math.cos(spread_radians) * distal + math.sin(spread_radians) * thumb_side
        base = hand_length * (across * thumb_side + along * distal)
        points += _finger(base, direction, palm, lengths, (85, 105, 75), curl[:, k], hand_length)
    return torch.stack(points, -2)


def _finger(
    base: Tensor, direction: Tensor, bend: Tensor, lengths: tuple, full_curl: tuple, curl: Tensor, hand_length: float
) -> list[Tensor]:
    """The 4 keypoints (each (T, 3)) of a finger: its base, then each phalanx turned toward ``bend`` by the
    cumulative flexion ``curl × full_curl`` (degrees)."""
    points, current, flexion = [base.expand(curl.shape[0], 3)], base, torch.zeros_like(curl)
    for length, full in zip(lengths, full_curl):
        flexion = flexion + torch.deg2rad(full * curl)
        segment = torch.cos(flexion)[:, None] * direction + torch.sin(flexion)[:, None] * bend
        current = current + hand_length * length * segment
        points.append(current)
    return points


def forward_kinematics(angles: Tensor, finger_curl: Tensor, subject: Subject) -> Tensor:
    """Joint angles (T, D) degrees, finger curl (T, 2, 5) -> BODY_HANDS joints (T, 60, 3) in the body frame, mm.

    Body frame: x the person's left, y up, z forward, pelvis (mid-hip) at the origin.
    """
    angle = {name: angles[:, k] for k, name in enumerate(DEGREES_OF_FREEDOM)}
    size = subject.segments
    joints: dict[str, Tensor] = {}
    pelvis = _rotation(0, angle["pelvis_tilt"])
    lateral_and_twist = _rotation(2, -angle["spine_lateral"]) @ _rotation(1, angle["spine_twist"])
    chest = pelvis @ _rotation(0, angle["spine_flex"]) @ lateral_and_twist
    neck = _apply(chest, _vector(0, size["torso"], 0))
    joints["neck"] = neck
    neck_turn = _rotation(1, angle["head_yaw"]) @ _rotation(0, angle["head_pitch"]) @ _rotation(2, -angle["head_roll"])
    head = chest @ neck_turn
    pivot = neck + _apply(chest, size["head"] * _vector(*_HEAD_PIVOT))
    for name, offset in FACE_POINTS.items():
        joints[name] = pivot + _apply(head, size["head"] * _vector(*offset))
    for side in SIDES:
        joints |= _arm(angle, chest, neck, side, subject, finger_curl[:, SIDES.index(side)])
        joints |= _leg(angle, pelvis, side, subject)
    hand_names = [f"{side}_hand_{joint}" for side in SIDES for joint in _hand_joint_names()]
    return torch.stack([joints[name] for name in BODY_HANDS.joints[:18] + tuple(hand_names)], -2)


def _hand_joint_names() -> tuple[str, ...]:
    return tuple(name.split("_hand_", 1)[1] for name in BODY_HANDS.joints if name.startswith("left_hand_"))


def _limb_rotation(flexion: Tensor, abduction: Tensor, twist: Tensor, sign: float) -> Tensor:
    """Shoulder or hip rotation (T, 3, 3): Rx(−flexion) Rz(sign·abduction) Ry(sign·twist); flexion swings the limb
    forward, abduction away from the body on either side, and twist turns it about its own axis."""
    return _rotation(0, -flexion) @ _rotation(2, sign * abduction) @ _rotation(1, sign * twist)


def _arm(angle: dict, chest: Tensor, neck: Tensor, side: str, subject: Subject, curl: Tensor) -> dict[str, Tensor]:
    """Shoulder, elbow, wrist and the 21 hand keypoints of one arm (each (T, 3)), body frame."""
    sign, size = SIDE_SIGN[side], subject.segments
    dof = {name: angle[f"{side}_{name}"] for name in _LIMB_DOFS}
    shoulder = neck + _apply(chest, _vector(sign * size["shoulder_width"] / 2, 0, 0))
    upper = chest @ _limb_rotation(dof["shoulder_flex"], dof["shoulder_abduct"], dof["shoulder_twist"], sign)
    elbow = shoulder + _apply(upper, _vector(0, -size["upper_arm"], 0))
    fore = upper @ _rotation(0, -dof["elbow_flex"]) @ _rotation(1, sign * dof["forearm_supinate"])
    wrist = elbow + _apply(fore, _vector(0, -size["forearm"], 0))
    hand = fore @ _rotation(2, -sign * dof["wrist_flex"]) @ _rotation(0, -dof["wrist_deviate"])
    hand_points = wrist[:, None] + _apply(hand, _hand_points(curl, size["hand"], sign))
    names = {f"{side}_hand_{name}": hand_points[:, k] for k, name in enumerate(_hand_joint_names())}
    return {f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist} | names


def _leg(angle: dict, pelvis: Tensor, side: str, subject: Subject) -> dict[str, Tensor]:
    """Hip, knee and ankle of one leg (each (T, 3)), body frame; the knee only bends backward."""
    sign, size = SIDE_SIGN[side], subject.segments
    dof = {name: angle[f"{side}_{name}"] for name in _LIMB_DOFS}
    hip = _apply(pelvis, _vector(sign * size["hip_width"] / 2, 0, 0))
    thigh = pelvis @ _limb_rotation(dof["hip_flex"], dof["hip_abduct"], dof["hip_twist"], sign)
    knee = hip + _apply(thigh, _vector(0, -size["thigh"], 0))
    shank = thigh @ _rotation(0, dof["knee_flex"])
    ankle = knee + _apply(shank, _vector(0, -size["shin"], 0))
    return {f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle}


def stand_on_floor(points: Tensor, ankle_height: float, skeleton: Skeleton = BODY_HANDS) -> Tensor:
    """Body-frame joints (T, J, 3) -> the same lifted so that the lower ankle is ``ankle_height`` above y = 0."""
    ankles = [skeleton.index("left_ankle"), skeleton.index("right_ankle")]
    lowest = points[:, ankles, 1].min(-1).values
    zero = torch.zeros_like(lowest)
    return points + torch.stack([zero, ankle_height - lowest, zero], -1)[:, None]


def body_to_world(points: Tensor, yaw: Tensor, floor_position: Tensor) -> Tensor:
    """Body-frame joints (T, J, 3), yaw (T,) rad, floor position (T, 2) world (x, z) mm -> Panoptic world (T, J, 3).

    Half a turn about z maps (left, up, forward) to (−x, −y, z): y down as in Panoptic, still a proper rotation.
    Then the yaw turns the person about the vertical so that they face (sin yaw, 0, cos yaw).
    """
    cos, sin = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
    x, y, z = (-points[..., 0], -points[..., 1], points[..., 2])
    return torch.stack([cos * x + sin * z + floor_position[:, 0:1], y, -sin * x + cos * z + floor_position[:, 1:2]], -1)


def pose_sequence(subject: Subject, motion: Motion) -> Tensor:
    """A subject and a motion of T frames -> BODY_HANDS joints (T, 60, 3) in Panoptic world mm, feet on the floor."""
    body = forward_kinematics(motion.angles, motion.finger_curl, subject)
    return body_to_world(stand_on_floor(body, subject.segments["ankle_height"]), motion.yaw, motion.floor_position)
