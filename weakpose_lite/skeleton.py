"""Joint orders, bones, the root joint, and root-relative poses.

Orders:
- ``COCO18``: OpenPose's COCO-18 body order, the order the kit works in (the paper's body model, §3.3).
- ``PANOPTIC_COCO19``: CMU Panoptic's ``joints19`` order (adds BodyCenter, the hip midpoint).
- ``BODY25``: OpenPose's BODY_25 order (adds MidHip and feet), accepted on input and mapped by name.
- ``HAND21``: the 21 hand keypoints of OpenPose / Panoptic (wrist, then four per finger, base to tip).

Root joint: the paper leaves α free (Pr = Pa − Pα, §3). Its Table 3 lists an error for every COCO-18 joint except
the neck, and its per-joint means reproduce Table 2 only when averaged over those 17 joints, so the kit roots poses
at the **neck**. The neck is also the most reliably detected joint and is the shoulder midpoint in Panoptic.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from weakpose_lite.shapes import check_tensor

# A person's range, in mm, for telling an absurd pose from an answer (``plausible_poses``): no joint more than 3 m
# from the root (the tallest arm span measured is 2.7 m), no bone longer than 1 m (twice an adult's thigh, the longest
# bone of COCO-18), and a longest bone of at least 50 mm (a child's upper arm is 150 mm; a pose shrunk below that is a
# point, what L_M alone drifts to).
MAX_RELATIVE_MM = 3000.0
MAX_BONE_MM = 1000.0
MIN_LONGEST_BONE_MM = 50.0

COCO18 = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip

PANOPTIC_COCO19 = (
    "neck", "nose", "body_center",
    "left_shoulder", "left_elbow", "left_wrist",
    "left_hip", "left_knee", "left_ankle",
    "right_shoulder", "right_elbow", "right_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_eye", "left_ear", "right_eye", "right_ear",
)  # fmt: skip

BODY25 = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip

HAND21 = ("wrist",) + tuple(
    f"{finger}_{k}" for finger in ("thumb", "index", "middle", "ring", "pinky") for k in range(1, 5)
)

_COCO18_BONES = (
    ("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"), ("nose", "left_eye"), ("left_eye", "left_ear"),
    ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("neck", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("neck", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
)  # fmt: skip

_HAND21_BONES = tuple(
    (("wrist" if k == 1 else f"{finger}_{k - 1}"), f"{finger}_{k}")
    for finger in ("thumb", "index", "middle", "ring", "pinky")
    for k in range(1, 5)
)


@dataclass(frozen=True)
class Skeleton:
    """A joint order with its bones (parent, child) as indices and the root joint's index."""

    name: str
    joints: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    root: int

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Position of a joint name in this order."""
        return self.joints.index(joint)


def _bones_by_index(joints: tuple[str, ...], bones: tuple[tuple[str, str], ...]) -> tuple[tuple[int, int], ...]:
    return tuple((joints.index(parent), joints.index(child)) for parent, child in bones)


def _hand_joints(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_hand_{name}" for name in HAND21)


def _hand_bones(side: str) -> tuple[tuple[str, str], ...]:
    attach = ((f"{side}_wrist", f"{side}_hand_wrist"),)
    return attach + tuple((f"{side}_hand_{parent}", f"{side}_hand_{child}") for parent, child in _HAND21_BONES)


def _make_body_hands() -> Skeleton:
    joints = COCO18 + _hand_joints("left") + _hand_joints("right")
    bones = _COCO18_BONES + _hand_bones("left") + _hand_bones("right")
    return Skeleton("body_hands", joints, _bones_by_index(joints, bones), joints.index("neck"))


BODY = Skeleton("body", COCO18, _bones_by_index(COCO18, _COCO18_BONES), COCO18.index("neck"))
BODY_HANDS = _make_body_hands()
SKELETONS = {BODY.name: BODY, BODY_HANDS.name: BODY_HANDS}


def get_skeleton(name: str) -> Skeleton:
    """The skeleton called ``name`` ("body" or "body_hands")."""
    if name not in SKELETONS:
        raise ValueError(f"unknown skeleton {name!r}; expected one of {sorted(SKELETONS)}")
    return SKELETONS[name]


def joint_mapping(source: tuple[str, ...], target: tuple[str, ...]) -> list[int]:
    """Indices into ``source`` that give ``target``'s order, matched by joint name (never by position)."""
    missing = [name for name in target if name not in source]
    if missing:
        raise ValueError(f"source order lacks joints {missing}")
    return [source.index(name) for name in target]


COCO19_TO_COCO18 = joint_mapping(PANOPTIC_COCO19, COCO18)
BODY25_TO_COCO18 = joint_mapping(BODY25, COCO18)


def to_relative(points: Tensor, root: int) -> Tensor:
    """Absolute poses (..., J, D) -> root-relative poses (..., J, D): Pr = Pa − Pα (§3)."""
    check_tensor("to_relative", "points", points, ("...", "J", "D"), None)
    if not 0 <= root < points.shape[-2]:
        raise ValueError(f"to_relative: root must be a joint index in [0, {points.shape[-2]}), got {root}")
    return points - points[..., root : root + 1, :]


def to_absolute(relative: Tensor, root_position: Tensor) -> Tensor:
    """Root-relative poses (..., J, D) and root positions (..., D) -> absolute poses (..., J, D) (Eq. 8)."""
    return relative + root_position.unsqueeze(-2)


def plausible_poses(relative: Tensor, skeleton: Skeleton) -> Tensor:
    """Root-relative poses (..., J, 3) mm of ``skeleton`` -> (...) bool: within a person's range (every joint within
    ``MAX_RELATIVE_MM`` of the root, every bone at most ``MAX_BONE_MM``, the longest at least ``MIN_LONGEST_BONE_MM``);
    False for a pose holding NaN."""
    parents, children = (list(index) for index in zip(*skeleton.bones))
    longest = (relative[..., children, :] - relative[..., parents, :]).norm(dim=-1).amax(-1)
    reach = relative.norm(dim=-1).amax(-1)
    return (reach <= MAX_RELATIVE_MM) & (longest <= MAX_BONE_MM) & (longest >= MIN_LONGEST_BONE_MM)
