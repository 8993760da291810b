"""Tests of weakpose_lite.skeleton against the orders in PANOPTIC_FORMATS.md, plain loops and graph properties."""

import pytest
import torch

from weakpose_lite.skeleton import (
    BODY,
    BODY25,
    BODY25_TO_COCO18,
    BODY_HANDS,
    COCO18,
    COCO19_TO_COCO18,
    HAND21,
    PANOPTIC_COCO19,
    SKELETONS,
    Skeleton,
    get_skeleton,
    joint_mapping,
    to_absolute,
    to_relative,
)

# Written out from /work/shared/data/PANOPTIC_FORMATS.md, not derived from the module.
OPENPOSE_COCO18_DOC = (
    "Nose Neck RShoulder RElbow RWrist LShoulder LElbow LWrist RHip RKnee RAnkle LHip LKnee LAnkle REye LEye REar LEar"
)
PANOPTIC_COCO19_DOC = (
    "Neck Nose BodyCenter lShoulder lElbow lWrist lHip lKnee lAnkle rShoulder rElbow rWrist rHip rKnee rAnkle "
    "lEye lEar rEye rEar"
)
CHECKED_COCO19_TO_COCO18 = [1, 0, 9, 10, 11, 3, 4, 5, 12, 13, 14, 6, 7, 8, 17, 15, 18, 16]
# OpenPose BODY_25: 8 is MidHip, the legs shift by one, 19-24 are feet.
EXPECTED_BODY25_TO_COCO18 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]


def camel_to_snake(name: str) -> str:
    """'RShoulder' -> 'right_shoulder', 'lEye' -> 'left_eye', 'BodyCenter' -> 'body_center'."""
    side = {"r": "right_", "l": "left_"}.get(name[0].lower()) if name[1].isupper() else None
    rest = name[1:] if side else name
    words = "".join("_" + ch.lower() if ch.isupper() else ch for ch in rest).lstrip("_")
    return (side or "") + words


def test_coco18_is_openposes_order_from_the_format_notes():
    assert COCO18 == tuple(camel_to_snake(name) for name in OPENPOSE_COCO18_DOC.split())


def test_panoptic_coco19_is_the_joints19_order_from_the_format_notes():
    assert PANOPTIC_COCO19 == tuple(camel_to_snake(name) for name in PANOPTIC_COCO19_DOC.split())


def test_coco19_to_coco18_equals_the_list_checked_on_real_files():
    assert COCO19_TO_COCO18 == CHECKED_COCO19_TO_COCO18


def test_body25_to_coco18_maps_by_name_past_the_mid_hip():
    assert BODY25_TO_COCO18 == EXPECTED_BODY25_TO_COCO18
    assert [BODY25[i] for i in BODY25_TO_COCO18] == list(COCO18)


def test_hand21_is_the_wrist_then_four_joints_per_finger_base_to_tip():
    assert len(HAND21) == 21 and HAND21[0] == "wrist"
    assert HAND21[1:5] == ("thumb_1", "thumb_2", "thumb_3", "thumb_4")
    assert HAND21[17:] == ("pinky_1", "pinky_2", "pinky_3", "pinky_4")


def test_joint_mapping_reorders_values_and_names_missing_joints():
    source = ("a", "b", "c")
    values = torch.tensor([10.0, 20.0, 30.0])
    assert values[joint_mapping(source, ("c", "a"))].tolist() == [30.0, 10.0]
    with pytest.raises(ValueError, match=r"lacks joints \['mid_hip'\]"):
        joint_mapping(COCO18, ("neck", "mid_hip"))


@pytest.mark.parametrize("skeleton", [BODY, BODY_HANDS], ids=lambda s: s.name)
def test_bones_form_a_tree_rooted_at_the_root(skeleton: Skeleton):
    J = skeleton.num_joints
    assert len(skeleton.bones) == J - 1
    children = [child for _, child in skeleton.bones]
    assert sorted(children) == sorted(set(range(J)) - {skeleton.root}), "every joint but the root has one parent"
    reached, frontier = {skeleton.root}, [skeleton.root]
    while frontier:  # breadth-first from the root, following bones parent -> child
        parent = frontier.pop()
        for child in (c for p, c in skeleton.bones if p == parent):
            reached.add(child)
            frontier.append(child)
    assert reached == set(range(J))


def test_body_is_rooted_at_the_neck_and_body_hands_extends_it():
    assert BODY.joints[BODY.root] == "neck"
    assert BODY_HANDS.num_joints == 18 + 21 + 21
    assert BODY_HANDS.joints[:18] == COCO18 and BODY_HANDS.root == BODY.root
    assert BODY_HANDS.bones[: len(BODY.bones)] == BODY.bones


def chain_to_root(skeleton: Skeleton, joint: str) -> list[str]:
    """Joint names from ``joint`` up the bones to the root."""
    parent_of = {child: parent for parent, child in skeleton.bones}
    chain = [skeleton.index(joint)]
    while chain[-1] in parent_of:
        chain.append(parent_of[chain[-1]])
    return [skeleton.joints[j] for j in chain]


@pytest.mark.parametrize(
    "chain",
    [
        ["right_wrist", "right_elbow", "right_shoulder", "neck"],
        ["left_wrist", "left_elbow", "left_shoulder", "neck"],
        ["right_ankle", "right_knee", "right_hip", "neck"],
        ["left_ankle", "left_knee", "left_hip", "neck"],
        ["right_ear", "right_eye", "nose", "neck"],
        ["left_ear", "left_eye", "nose", "neck"],
    ],
    ids=lambda chain: chain[0],
)
def test_each_limb_of_the_body_chains_to_the_neck(chain):
    assert chain_to_root(BODY, chain[0]) == chain


@pytest.mark.parametrize("side", ["left", "right"])
def test_each_hand_hangs_from_the_wrist_on_its_side(side):
    fingers = [f"{side}_hand_{finger}_{k}" for finger in ("thumb", "pinky") for k in (4, 3, 2, 1)]
    arm = [f"{side}_hand_wrist", f"{side}_wrist", f"{side}_elbow", f"{side}_shoulder", "neck"]
    assert chain_to_root(BODY_HANDS, fingers[0]) == fingers[:4] + arm
    assert chain_to_root(BODY_HANDS, fingers[4]) == fingers[4:] + arm


def test_to_relative_zeroes_the_root_and_to_absolute_inverts_it(dtype, generator):
    poses = 1000 * torch.randn(4, 3, BODY.num_joints, 3, generator=generator, dtype=torch.float64).to(dtype)  # frames x views x joints
    relative = to_relative(poses, BODY.root)
    assert relative.shape == poses.shape
    assert (relative[..., BODY.root, :] == 0).all()
    root_position = poses[..., BODY.root, :]
    round_off = 1e-3 if dtype == torch.float32 else 1e-9  # mm, for coordinates of a few metres
    torch.testing.assert_close(to_absolute(relative, root_position), poses, rtol=0, atol=round_off)
    nose = [[[poses[f, v, 0, k] - poses[f, v, BODY.root, k] for k in range(3)] for v in range(3)] for f in range(4)]
    torch.testing.assert_close(relative[..., 0, :], torch.tensor(nose, dtype=dtype), rtol=0, atol=0)


def test_get_skeleton_returns_each_skeleton_and_names_the_choices_otherwise():
    for name, skeleton in SKELETONS.items():
        assert get_skeleton(name) is skeleton and skeleton.name == name
    with pytest.raises(ValueError, match=r"unknown skeleton 'hands'; expected one of \['body', 'body_hands'\]"):
        get_skeleton("hands")
