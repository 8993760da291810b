"""Tests of weakpose_lite.data.synthetic.body and .motion: anthropometry, forward kinematics, joint ranges by
geometry, smoothness."""

import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from weakpose_lite.data.synthetic.body import (
    DEGREES_OF_FREEDOM,
    HEIGHT_RANGE_MM,
    JOINT_LIMITS,
    pose_sequence,
    sample_subject,
)
from weakpose_lite.data.synthetic.motion import arm_elevation_angles, sample_motion
from weakpose_lite.skeleton import BODY_HANDS

FPS = 29.97
J = {name: k for k, name in enumerate(BODY_HANDS.joints)}


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def people():
    """8 subjects with one 150-frame sequence each: (subject, motion, world joints (T, 60, 3))."""
    rows = []
    for k in range(8):
        subject = sample_subject(f"subject_{k}", generator(100 + k))
        motion = sample_motion(subject, 150, FPS, generator(200 + k))
        rows.append((subject, motion, pose_sequence(subject, motion).double()))
    return rows


def distance(points, a, b):
    return (points[..., J[a], :] - points[..., J[b], :]).norm(dim=-1)


def test_subjects_are_varied_adults_within_anthropometric_ranges():
    subjects = [sample_subject(f"s{k}", generator(k)) for k in range(60)]
    heights = torch.tensor([s.height for s in subjects])
    assert heights.min() >= HEIGHT_RANGE_MM[0] and heights.max() <= HEIGHT_RANGE_MM[1]
    assert heights.std() > 50, "heights should vary by several centimetres"
    # Adult segment ranges in mm (Winter's tables for 1.5-1.95 m people, with the Panoptic keypoints' offsets).
    ranges = {
        ("left_shoulder", "left_elbow"): (210, 340), ("left_elbow", "left_wrist"): (180, 300),
        ("left_hip", "left_knee"): (320, 500), ("left_knee", "left_ankle"): (330, 520),
        ("left_shoulder", "right_shoulder"): (260, 420), ("left_hip", "right_hip"): (150, 260),
        ("left_eye", "left_ear"): (80, 140), ("neck", "nose"): (170, 300),
    }  # fmt: skip
    ratios = []
    for subject in subjects:
        points = pose_sequence(subject, sample_motion(subject, 2, FPS, generator(1)))[0]
        for (a, b), (low, high) in ranges.items():
            assert low <= distance(points, a, b) <= high, (subject.name, a, b, float(distance(points, a, b)))
        ratios.append(float(distance(points, "left_hip", "left_knee")) / subject.height)
    assert torch.tensor(ratios).std() > 0.004, "proportions should vary a little between subjects"


def test_rigid_bones_keep_their_length_over_time(people):
    # every bone of the skeleton that is one rigid segment (not the neck-nose or neck-hip spans, which bend)
    flexible = {("neck", "nose"), ("neck", "left_hip"), ("neck", "right_hip")}
    rigid = [(a, b) for a, b in BODY_HANDS.bones if (BODY_HANDS.joints[a], BODY_HANDS.joints[b]) not in flexible]
    for _, _, points in people:
        lengths = torch.stack([(points[:, b] - points[:, a]).norm(dim=-1) for a, b in rigid], -1)  # (T, B)
        assert (lengths.max(0).values - lengths.min(0).values).max() < 0.05  # mm, float32 rounding only
        shoulders = distance(points, "left_shoulder", "right_shoulder")
        assert shoulders.max() - shoulders.min() < 0.05


def test_knees_only_bend_forward_never_backward(people):
    checked = 0
    for _, _, points in people:
        for side in ("left", "right"):
            thigh = points[:, J[f"{side}_knee"]] - points[:, J[f"{side}_hip"]]
            shank = points[:, J[f"{side}_ankle"]] - points[:, J[f"{side}_knee"]]
            lateral = torch.nn.functional.normalize(points[:, J["left_hip"]] - points[:, J["right_hip"]], dim=-1)
            bend = torch.linalg.cross(thigh, shank, dim=-1)
            bent = bend.norm(dim=-1) > math.sin(math.radians(5)) * thigh.norm(dim=-1) * shank.norm(dim=-1)
            # flexion turns the shank backward, so thigh × shank points to the person's left
            cosine = (torch.nn.functional.normalize(bend, dim=-1) * lateral).sum(-1)
            assert (cosine[bent] > 0.3).all()
            checked += int(bent.sum())
    assert checked > 100, "the sequences should bend their knees"


def test_elbows_and_knees_stay_within_their_range_of_flexion(people):
    for _, _, points in people:
        for upper, middle, lower in (("shoulder", "elbow", "wrist"), ("hip", "knee", "ankle")):
            for side in ("left", "right"):
                a = points[:, J[f"{side}_{upper}"]] - points[:, J[f"{side}_{middle}"]]
                b = points[:, J[f"{side}_{lower}"]] - points[:, J[f"{side}_{middle}"]]
                interior = torch.rad2deg(torch.acos((torch.nn.functional.normalize(a, dim=-1) * torch.nn.functional.normalize(b, dim=-1)).sum(-1).clamp(-1, 1)))
                assert interior.min() >= 180 - 145 - 0.1  # flexion of at most 145°


def test_head_never_turns_past_the_shoulders(people):
    for _, _, points in people:
        lateral = points[:, J["left_shoulder"]] - points[:, J["right_shoulder"]]
        up = points[:, J["neck"]] - (points[:, J["left_hip"]] + points[:, J["right_hip"]]) / 2
        chest_forward = torch.nn.functional.normalize(torch.linalg.cross(lateral, up, dim=-1), dim=-1)
        ears = (points[:, J["left_ear"]] + points[:, J["right_ear"]]) / 2
        eyes = (points[:, J["left_eye"]] + points[:, J["right_eye"]]) / 2
        face = torch.nn.functional.normalize(eyes - ears, dim=-1)
        assert ((face * chest_forward).sum(-1) > 0).all()


def test_world_frame_is_panoptic_y_down_with_anatomical_left(people):
    for subject, _, points in people:
        ankles = points[:, [J["left_ankle"], J["right_ankle"]], 1]
        # floor at y = 0, y down: the lower ankle is ankle_height above the floor, every body joint above it
        assert torch.allclose(ankles.max(-1).values, torch.tensor(-subject.segments["ankle_height"], dtype=torch.float64), atol=0.05)
        assert (points[:, :18, 1] < 0).all()
        # (bending down to the toes may take the head below the hips for a moment)
        assert points[:, J["nose"], 1].mean() < points[:, J["left_hip"], 1].mean() < points[:, J["left_ankle"], 1].mean()
        # Panoptic's check on real bodies: left = up × forward with up = −y and forward = nose − neck
        up = torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64)
        forward = points[:, J["nose"]] - points[:, J["neck"]]
        left = torch.linalg.cross(up.expand_as(forward), forward, dim=-1)
        shoulders = points[:, J["left_shoulder"]] - points[:, J["right_shoulder"]]
        assert ((shoulders * left).sum(-1) > 0).float().mean() > 0.95


def test_neck_is_the_shoulder_midpoint(people):
    for _, _, points in people:
        midpoint = (points[:, J["left_shoulder"]] + points[:, J["right_shoulder"]]) / 2
        assert (points[:, J["neck"]] - midpoint).norm(dim=-1).max() < 0.05


def test_motion_is_smooth_at_30_fps(people):
    for _, _, points in people:
        velocity = (points[1:, :18] - points[:-1, :18]).norm(dim=-1) * FPS  # mm/s
        acceleration = (points[2:, :18] - 2 * points[1:-1, :18] + points[:-2, :18]).norm(dim=-1) * FPS**2
        assert velocity.max() < 4000, "faster than a brisk arm swing"
        assert acceleration.max() < 60_000, "a jump in position between frames"


def test_sequences_move_a_lot_over_time(people):
    # variety: within a sequence the root-relative pose changes by decimetres, not millimetres
    for _, _, points in people:
        relative = points[:, :18] - points[:, J["neck"] : J["neck"] + 1]
        assert (relative - relative.mean(0)).norm(dim=-1).max() > 100


def test_angles_stay_within_joint_limits(people):
    low = torch.tensor([JOINT_LIMITS[name][0] for name in DEGREES_OF_FREEDOM])
    high = torch.tensor([JOINT_LIMITS[name][1] for name in DEGREES_OF_FREEDOM])
    for _, motion, _ in people:
        assert torch.isfinite(motion.angles).all()
        assert (motion.angles >= low).all() and (motion.angles <= high).all()
        assert (motion.finger_curl >= 0).all() and (motion.finger_curl <= 1).all()


def test_arm_elevation_angles_point_the_arm_where_asked():
    azimuth = torch.tensor([0.0, 30.0, 60.0, 90.0, 45.0], dtype=torch.float64)
    elevation = torch.tensor([90.0, 45.0, 120.0, 170.0, 10.0], dtype=torch.float64)
    flexion, abduction = arm_elevation_angles(azimuth, elevation)
    hanging = torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64)
    for k in range(5):
        # reference: scipy's rotations, Rx(−flexion) Rz(abduction) applied to the hanging arm
        rotation = Rotation.from_euler("x", -float(flexion[k]), degrees=True) * Rotation.from_euler("z", float(abduction[k]), degrees=True)
        arm = torch.from_numpy(rotation.apply(hanging.numpy()))
        beta, e = math.radians(azimuth[k]), math.radians(elevation[k])
        wanted = torch.tensor([math.sin(beta) * math.sin(e), -math.cos(e), math.cos(beta) * math.sin(e)], dtype=torch.float64)
        assert torch.allclose(arm, wanted, atol=1e-9)


def test_hands_hang_from_the_wrists_and_follow_the_forearms(people):
    for subject, _, points in people:
        for side in ("left", "right"):
            wrist, hand = points[:, J[f"{side}_wrist"]], points[:, J[f"{side}_hand_wrist"]]
            assert (wrist - hand).norm(dim=-1).max() < 30
            forearm = torch.nn.functional.normalize(wrist - points[:, J[f"{side}_elbow"]], dim=-1)
            palm = torch.nn.functional.normalize(points[:, J[f"{side}_hand_middle_1"]] - hand, dim=-1)
            assert ((forearm * palm).sum(-1) > math.cos(math.radians(85))).all()  # wrist flexion ≤ 70° + deviation
            tips = points[:, [J[f"{side}_hand_{finger}_4"] for finger in ("thumb", "index", "middle", "ring", "pinky")]]
            assert (tips - hand[:, None]).norm(dim=-1).max() < subject.segments["hand"]


def test_fingers_flex_toward_the_palm_within_their_range(people):
    for _, _, points in people:
        for side in ("left", "right"):
            for finger in ("index", "middle", "ring", "pinky"):
                chain = [J[f"{side}_hand_{finger}_{k}"] for k in range(1, 5)]
                segments = points[:, chain[1:]] - points[:, chain[:-1]]
                cosine = (torch.nn.functional.normalize(segments[:, 1:], dim=-1) * torch.nn.functional.normalize(segments[:, :-1], dim=-1)).sum(-1)
                assert (torch.rad2deg(torch.acos(cosine.clamp(-1, 1))) <= 105 + 0.1).all()


def test_same_generator_seed_same_motion_other_seed_other_motion():
    subject = sample_subject("s", generator(3))
    first = pose_sequence(subject, sample_motion(subject, 40, FPS, generator(9)))
    again = pose_sequence(subject, sample_motion(subject, 40, FPS, generator(9)))
    other = pose_sequence(subject, sample_motion(subject, 40, FPS, generator(10)))
    assert torch.equal(first, again)
    assert (first - other).abs().max() > 10
